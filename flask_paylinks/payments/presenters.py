"""How a payment reads to its customer: what it charges next, and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from babel.dates import format_date
from flask import current_app

from flask_paylinks.core.money import Money
from flask_paylinks.core.pricing import RecurringCharge
from flask_paylinks.db.models import Payment, PaymentState
from flask_paylinks.localtime import add_interval, local_day
from flask_paylinks.merchants import MerchantProfile


@dataclass(frozen=True, slots=True)
class NextCharge:
    """The next charge of a subscription: how much, and on which day."""

    amount: int
    currency: str
    on: date

    @property
    def text(self) -> str:
        """``$49.00 on December 27, 2026``, in the configured locale."""
        locale = current_app.config["PAYLINKS_LOCALE"]
        amount = Money(self.amount, self.currency).format(locale)
        return f"{amount} on {format_date(self.on, format='long', locale=locale)}"


def next_charge(payment: Payment, merchant: MerchantProfile) -> NextCharge | None:
    """When a subscription payment charges next, in the merchant's calendar.

    ``None`` for a one-time payment, or one that is not paid (or was refunded).
    """
    recurring = (payment.snapshot or {}).get("recurring")
    if not isinstance(recurring, dict) or payment.state != PaymentState.SUCCEEDED:
        return None
    try:
        charge = RecurringCharge(**recurring)
        paid = payment.succeeded_at or payment.created_at
        on = add_interval(
            local_day(paid, merchant.zone), charge.interval, charge.interval_count
        )
    except (TypeError, ValueError, OverflowError):
        return None
    discounted = charge.discount and charge.discount_periods != 0
    amount = charge.discounted_amount if discounted else charge.amount
    return NextCharge(amount, payment.currency, on)
