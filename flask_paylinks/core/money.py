"""Money as integer minor units plus an ISO 4217 currency.

Amounts never pass through ``float``: they are stored, added and compared as
integers of the currency's minor unit (cents for USD, yen for JPY, fils for BHD)
and only turned into text by Babel at the edge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from babel.numbers import format_currency, get_currency_name, get_currency_precision

from flask_paylinks.core.errors import CurrencyMismatch

_CODE = re.compile(r"^[A-Z]{3}$")
#: A plain decimal number as people type it: no exponent, no underscores.
_PLAIN_DECIMAL = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$")
#: Longest number text read at all; 30 digits is far beyond any price.
MAX_NUMBER_CHARS = 30


def parse_decimal(text: str) -> Decimal:
    """Read a plain decimal such as ``"49.99"``; :class:`ValueError` otherwise.

    Exponents (``1e999999999``), ``NaN``, infinities and over-long text are
    refused *before* :class:`~decimal.Decimal` sees them: a huge exponent costs
    minutes of CPU or raises :class:`decimal.Overflow` further on.
    """
    value = text.strip()
    if len(value) > MAX_NUMBER_CHARS or not _PLAIN_DECIMAL.match(value):
        raise ValueError(f"{text[:40]!r} is not an amount")
    return Decimal(value)


@lru_cache(maxsize=256)
def is_currency(code: str) -> bool:
    """Whether *code* is an ISO 4217 currency Babel knows."""
    if not isinstance(code, str) or not _CODE.match(code):
        return False
    return bool(get_currency_name(code, locale="en") != code)


@lru_cache(maxsize=256)
def minor_digits(currency: str) -> int:
    """How many decimal places the currency's minor unit has (USD 2, JPY 0)."""
    return int(get_currency_precision(currency))


@lru_cache(maxsize=4096)
def formatted(amount: int, currency: str, locale: str) -> str:
    """*amount* minor units of *currency* as text in *locale*, memoised.

    A page shows the same few prices again and again; Babel takes tens of
    microseconds for each.
    """
    number = Decimal(amount).scaleb(-minor_digits(currency))
    return str(format_currency(number, currency, locale=locale))


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An amount in a currency's minor units, e.g. ``Money(4900, "USD")`` is $49.00.

    Arithmetic between two amounts of different currencies raises
    :class:`~flask_paylinks.core.errors.CurrencyMismatch`.
    """

    amount: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise TypeError(
                f"Money amount must be an int of minor units, not {self.amount!r}"
            )
        if not is_currency(self.currency):
            raise ValueError(f"{self.currency!r} is not an ISO 4217 currency code")

    @classmethod
    def zero(cls, currency: str) -> Money:
        """No money in *currency*."""
        return cls(0, currency)

    @classmethod
    def from_decimal(cls, value: Decimal | str | int, currency: str) -> Money:
        """Read a major-unit amount such as ``"49.99"``.

        Raises :class:`ValueError` when the value has more decimal places than
        the currency allows (``"1.5"`` yen) or is not a number.
        """
        if not is_currency(currency):
            raise ValueError(f"{currency!r} is not an ISO 4217 currency code")
        if isinstance(value, Decimal):
            number = value
        elif isinstance(value, int) and not isinstance(value, bool):
            number = Decimal(value)
        else:
            number = parse_decimal(str(value))
        # Bound the size before scaling: ``scaleb`` and ``int`` of a number
        # with a huge exponent overflow or take minutes.
        if not number.is_finite() or abs(number.adjusted()) > MAX_NUMBER_CHARS:
            raise ValueError(f"{str(value)[:40]!r} is not an amount")
        scaled = number.scaleb(minor_digits(currency))
        if scaled != scaled.to_integral_value():
            digits = minor_digits(currency)
            raise ValueError(
                f"{currency} amounts have {digits} decimal place"
                f"{'' if digits == 1 else 's'} at most"
            )
        return cls(int(scaled), currency)

    def to_decimal(self) -> Decimal:
        """The amount in major units, exactly."""
        return Decimal(self.amount).scaleb(-minor_digits(self.currency))

    def format(self, locale: str = "en_US") -> str:
        """The amount as a person reads it in *locale*, e.g. ``$49.00``."""
        return formatted(self.amount, self.currency, locale)

    def _check(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(
                f"cannot combine {self.currency} with {other.currency}"
            )
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.amount + self._check(other).amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount - self._check(other).amount, self.currency)

    def __mul__(self, factor: int) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, int):
            raise TypeError("Money can only be multiplied by a whole number")
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._check(other).amount

    def __le__(self, other: Money) -> bool:
        return self.amount <= self._check(other).amount

    def __gt__(self, other: Money) -> bool:
        return self.amount > self._check(other).amount

    def __ge__(self, other: Money) -> bool:
        return self.amount >= self._check(other).amount

    def __bool__(self) -> bool:
        return self.amount != 0

    def __str__(self) -> str:
        return self.format()
