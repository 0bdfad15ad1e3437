"""Money: integer minor units, one currency, Babel formatting.

Exact values at every boundary, so that a wrong value which stays in range
(``>`` for ``>=``, a limit moved by one) fails a test; see
``docs/development.rst`` (``make mutation``).
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flask_paylinks import CurrencyMismatch, Money
from flask_paylinks.core.money import (
    MAX_NUMBER_CHARS,
    is_currency,
    minor_digits,
    parse_decimal,
)


def exactly(message: str) -> str:
    """A ``match=`` pattern for exactly *message*."""
    return f"^{re.escape(message)}$"


def test_adds_and_subtracts_in_one_currency() -> None:
    assert Money(4900, "USD") + Money(1900, "USD") == Money(6800, "USD")
    assert Money(4900, "USD") - Money(900, "USD") == Money(4000, "USD")
    assert Money(1900, "USD") * 3 == Money(5700, "USD")
    assert 2 * Money(5, "JPY") == Money(10, "JPY")
    assert -Money(5, "USD") == Money(-5, "USD")
    assert -Money(-5, "EUR") == Money(5, "EUR")
    assert Money.zero("JPY") == Money(0, "JPY")


def test_refuses_mixed_currencies() -> None:
    with pytest.raises(CurrencyMismatch, match=exactly("cannot combine USD with EUR")):
        Money(100, "USD") + Money(100, "EUR")
    with pytest.raises(CurrencyMismatch, match=exactly("cannot combine USD with EUR")):
        Money(100, "USD") - Money(100, "EUR")


@pytest.mark.parametrize("compare", ["__lt__", "__le__", "__gt__", "__ge__"])
def test_comparisons_refuse_other_currencies_and_types(compare: str) -> None:
    usd = Money(100, "USD")
    with pytest.raises(CurrencyMismatch, match=exactly("cannot combine USD with EUR")):
        getattr(usd, compare)(Money(100, "EUR"))
    with pytest.raises(TypeError, match=exactly("cannot combine Money with int")):
        getattr(usd, compare)(100)


@pytest.mark.parametrize(
    ("left", "right", "lt", "le", "gt", "ge"),
    [
        (99, 100, True, True, False, False),
        (100, 100, False, True, False, True),
        (101, 100, False, False, True, True),
    ],
)
def test_comparisons_at_and_around_equality(
    left: int, right: int, lt: bool, le: bool, gt: bool, ge: bool
) -> None:
    a, b = Money(left, "USD"), Money(right, "USD")
    assert ((a < b), (a <= b), (a > b), (a >= b)) == (lt, le, gt, ge)


@pytest.mark.parametrize(("amount", "truth"), [(0, False), (1, True), (-1, True)])
def test_only_zero_is_false(amount: int, truth: bool) -> None:
    assert bool(Money(amount, "USD")) is truth


@pytest.mark.parametrize("factor", [True, False, 2.0, 2.5, Decimal(2), "2"])
def test_multiplies_by_whole_numbers_only(factor: object) -> None:
    message = exactly("Money can only be multiplied by a whole number")
    with pytest.raises(TypeError, match=message):
        Money(100, "USD") * factor  # type: ignore[operator]
    with pytest.raises(TypeError, match=message):
        Money.__rmul__(Money(100, "USD"), factor)  # type: ignore[arg-type]


def test_true_times_money_is_refused_too() -> None:
    # bool.__mul__ gives up on Money, so this reaches Money.__rmul__.
    with pytest.raises(TypeError, match="multiplied by a whole number"):
        True * Money(100, "USD")  # type: ignore[operator]


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (1.5, "1.5"),
        (Decimal("1.5"), "Decimal('1.5')"),
        ("100", "'100'"),
        (True, "True"),
    ],
)
def test_refuses_amounts_that_are_not_int(amount: object, shown: str) -> None:
    message = exactly(f"Money amount must be an int of minor units, not {shown}")
    with pytest.raises(TypeError, match=message):
        Money(amount, "USD")  # type: ignore[arg-type]


@pytest.mark.parametrize("currency", ["usd", "US", "QQQ", "", "DOLLARS"])
def test_refuses_unknown_currencies(currency: str) -> None:
    message = exactly(f"{currency!r} is not an ISO 4217 currency code")
    with pytest.raises(ValueError, match=message):
        Money(100, currency)
    with pytest.raises(ValueError, match=message):
        Money.from_decimal("1", currency)
    with pytest.raises(ValueError, match=message):
        Money.zero(currency)


@pytest.mark.parametrize(
    ("code", "known"),
    [("USD", True), ("JPY", True), ("usd", False), ("QQQ", False), (840, False)],
)
def test_is_currency(code: object, known: bool) -> None:
    assert is_currency(code) is known  # type: ignore[arg-type]


@pytest.mark.parametrize(("currency", "digits"), [("USD", 2), ("JPY", 0), ("BHD", 3)])
def test_minor_digits(currency: str, digits: int) -> None:
    assert minor_digits(currency) == digits


@pytest.mark.parametrize(
    ("money", "locale", "text"),
    [
        (Money(4900, "USD"), "en_US", "$49.00"),
        (Money(123456, "USD"), "en_US", "$1,234.56"),
        (Money(1500, "JPY"), "en_US", "¥1,500"),
        (Money(1500, "JPY"), "ja_JP", "￥1,500"),
        (Money(1050, "EUR"), "de_DE", "10,50\xa0€"),
        (Money(1234, "BHD"), "en_US", "BHD1.234"),
    ],
)
def test_formats_with_babel(money: Money, locale: str, text: str) -> None:
    assert money.format(locale) == text


def test_formats_in_american_english_by_default() -> None:
    assert Money(105000, "EUR").format() == "€1,050.00"
    assert str(Money(-4900, "USD")) == "-$49.00"


def test_reads_major_units_exactly() -> None:
    assert Money.from_decimal("49.99", "USD") == Money(4999, "USD")
    assert Money.from_decimal(" 49.9 ", "USD") == Money(4990, "USD")
    assert Money.from_decimal("1500", "JPY") == Money(1500, "JPY")
    assert Money.from_decimal("1.234", "BHD") == Money(1234, "BHD")
    assert Money.from_decimal(Decimal("-0.01"), "USD") == Money(-1, "USD")
    assert Money.from_decimal(5, "USD") == Money(500, "USD")
    assert Money.from_decimal(7, "JPY") == Money(7, "JPY")
    with pytest.raises(
        ValueError, match=exactly("JPY amounts have 0 decimal places at most")
    ):
        Money.from_decimal("1.5", "JPY")
    with pytest.raises(
        ValueError, match=exactly("USD amounts have 2 decimal places at most")
    ):
        Money.from_decimal("0.001", "USD")
    with pytest.raises(
        ValueError, match=exactly("BHD amounts have 3 decimal places at most")
    ):
        Money.from_decimal(Decimal("0.0001"), "BHD")
    with pytest.raises(ValueError, match=exactly("'twelve' is not an amount")):
        Money.from_decimal("twelve", "USD")
    with pytest.raises(ValueError, match=exactly("'NaN' is not an amount")):
        Money.from_decimal("NaN", "USD")


@pytest.mark.parametrize("flag", [True, False])
def test_from_decimal_refuses_booleans(flag: bool) -> None:
    with pytest.raises(ValueError, match=exactly(f"'{flag}' is not an amount")):
        Money.from_decimal(flag, "USD")


@pytest.mark.parametrize("value", ["NaN", "sNaN", "Infinity", "-Infinity"])
def test_from_decimal_refuses_decimals_that_are_not_numbers(value: str) -> None:
    with pytest.raises(ValueError, match=exactly(f"'{value}' is not an amount")):
        Money.from_decimal(Decimal(value), "USD")


def test_from_decimal_bounds_the_exponent_at_thirty() -> None:
    assert Money.from_decimal(Decimal("1E30"), "JPY") == Money(10**30, "JPY")
    with pytest.raises(
        ValueError, match=exactly("JPY amounts have 0 decimal places at most")
    ):
        Money.from_decimal(Decimal("1E-30"), "JPY")
    with pytest.raises(ValueError, match=exactly("'1E+31' is not an amount")):
        Money.from_decimal(Decimal("1E31"), "JPY")
    with pytest.raises(ValueError, match=exactly("'1E-31' is not an amount")):
        Money.from_decimal(Decimal("1E-31"), "JPY")
    # The message quotes at most 40 characters of what was given.
    long = Decimal("1." + "2" * 45 + "E+40")
    with pytest.raises(
        ValueError, match=exactly(f"{str(long)[:40]!r} is not an amount")
    ):
        Money.from_decimal(long, "USD")


def test_parse_decimal_reads_plain_numbers_up_to_thirty_characters() -> None:
    assert MAX_NUMBER_CHARS == 30
    longest = "1" * 30
    assert parse_decimal(f"  {longest}  ") == Decimal(longest)
    assert parse_decimal("-.5") == Decimal("-0.5")
    assert parse_decimal("+7.") == Decimal(7)
    with pytest.raises(ValueError, match=exactly(f"'{'1' * 31}' is not an amount")):
        parse_decimal("1" * 31)
    too_long = "9" * 50
    with pytest.raises(ValueError, match=exactly(f"'{'9' * 40}' is not an amount")):
        parse_decimal(too_long)


@pytest.mark.parametrize("text", ["1e5", "1_000", "", ".", "1.2.3", "0x10", "inf"])
def test_parse_decimal_refuses_what_is_not_a_plain_number(text: str) -> None:
    with pytest.raises(ValueError, match=exactly(f"{text!r} is not an amount")):
        parse_decimal(text)


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_decimal_round_trip(amount: int) -> None:
    money = Money(amount, "USD")
    assert Money.from_decimal(money.to_decimal(), "USD") == money


@pytest.mark.parametrize(
    ("amount", "currency", "major"),
    [
        (4900, "USD", "49.00"),
        (500, "JPY", "500"),
        (1234, "KWD", "1.234"),
        (-5, "EUR", "-0.05"),
    ],
)
def test_to_decimal_uses_the_currency_s_own_minor_unit(
    amount: int, currency: str, major: str
) -> None:
    value = Money(amount, currency).to_decimal()
    assert value == Decimal(major)
    assert str(value) == major
