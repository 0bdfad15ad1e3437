"""Money: integer minor units, one currency, Babel formatting."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flask_paylinks import CurrencyMismatch, Money


def test_adds_and_subtracts_in_one_currency() -> None:
    assert Money(4900, "USD") + Money(1900, "USD") == Money(6800, "USD")
    assert Money(4900, "USD") - Money(900, "USD") == Money(4000, "USD")
    assert Money(1900, "USD") * 3 == Money(5700, "USD")
    assert 2 * Money(5, "JPY") == Money(10, "JPY")


def test_refuses_mixed_currencies() -> None:
    with pytest.raises(CurrencyMismatch, match="USD with EUR"):
        Money(100, "USD") + Money(100, "EUR")
    with pytest.raises(CurrencyMismatch):
        assert Money(100, "USD") < Money(100, "EUR")


@pytest.mark.parametrize("amount", [1.5, Decimal("1.5"), "100", True])
def test_refuses_amounts_that_are_not_int(amount: object) -> None:
    with pytest.raises(TypeError):
        Money(amount, "USD")  # type: ignore[arg-type]


@pytest.mark.parametrize("currency", ["usd", "US", "QQQ", "", "DOLLARS"])
def test_refuses_unknown_currencies(currency: str) -> None:
    with pytest.raises(ValueError, match="ISO 4217"):
        Money(100, currency)


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


def test_reads_major_units_exactly() -> None:
    assert Money.from_decimal("49.99", "USD") == Money(4999, "USD")
    assert Money.from_decimal("1500", "JPY") == Money(1500, "JPY")
    assert Money.from_decimal("1.234", "BHD") == Money(1234, "BHD")
    with pytest.raises(ValueError, match="0 decimal places"):
        Money.from_decimal("1.5", "JPY")
    with pytest.raises(ValueError, match="2 decimal places"):
        Money.from_decimal("0.001", "USD")
    with pytest.raises(ValueError, match="not an amount"):
        Money.from_decimal("twelve", "USD")
    with pytest.raises(ValueError, match="not an amount"):
        Money.from_decimal("NaN", "USD")


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_decimal_round_trip(amount: int) -> None:
    money = Money(amount, "USD")
    assert Money.from_decimal(money.to_decimal(), "USD") == money
