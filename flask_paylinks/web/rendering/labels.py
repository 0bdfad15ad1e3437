"""The words shown about prices and dates: terms, totals, the Pay button.

The catalogue's own periods (``/ month``, ``every 3 months``) come from
:mod:`flask_paylinks.catalog.presenters`; this module puts them into the
checkout's sentences, in the configured locale.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from babel.dates import format_date
from flask import current_app

from flask_paylinks.catalog.presenters import (
    every_label,
    interval_label,
    per_label,
    units,
)
from flask_paylinks.core.pricing import Quote, RecurringCharge
from flask_paylinks.web.templating import format_money


def then_text(recurring: RecurringCharge | None, currency: str) -> str:
    """What is charged after today, e.g. ``$8.00 / month for 2 more months,
    then $10.00 / month``; ``""`` for a one-time purchase."""
    if recurring is None:
        return ""
    every = per_label(recurring.interval, recurring.interval_count)
    full = f"{format_money(recurring.amount, currency)} {every}"
    if not recurring.discount:
        return full
    cut = f"{format_money(recurring.discounted_amount, currency)} {every}"
    periods = recurring.discount_periods
    if periods is None:
        return cut
    count = periods * max(1, recurring.interval_count)
    return f"{cut} for {count} more {units(recurring.interval, count)}, then {full}"


def long_date(day: date) -> str:
    """*day* written out in the configured locale: ``November 27, 2026``."""
    return _long_date(day, current_app.config["PAYLINKS_LOCALE"])


@lru_cache(maxsize=64)
def _long_date(day: date, locale: str) -> str:
    # Babel parses the locale's patterns on every call; a page names one day.
    return str(format_date(day, format="long", locale=locale))


def consent_text(shown: Quote | None, day: date) -> str:
    """What the customer agrees to be charged, as one sentence.

    For a subscription: ``By paying you agree to be charged $49.00 today,
    November 27, 2026, and $49.00 every month after that until you cancel.``
    (a coupon with a duration names both later amounts); for a one-time
    purchase ``You are charged once.``
    """
    if shown is None or shown.recurring is None:
        return "You are charged once."
    recurring = shown.recurring
    currency = shown.currency
    every = every_label(recurring.interval, recurring.interval_count)
    now = f"{total_text(shown)} today, {long_date(day)}"
    full = format_money(recurring.amount, currency)
    periods = recurring.discount_periods
    if recurring.discount and periods is None:
        later = f"{format_money(recurring.discounted_amount, currency)} {every}"
        return (
            f"By paying you agree to be charged {now}, and {later} after that "
            "until you cancel."
        )
    if recurring.discount and periods:
        count = periods * max(1, recurring.interval_count)
        span = f"the next {interval_label(recurring.interval, count)}"
        cut = format_money(recurring.discounted_amount, currency)
        return (
            f"By paying you agree to be charged {now}, {cut} {every} for {span}, "
            f"and {full} {every} after that until you cancel."
        )
    return (
        f"By paying you agree to be charged {now}, and {full} {every} after that "
        "until you cancel."
    )


def total_text(shown: Quote) -> str:
    """What is charged now, formatted: ``$45.00``."""
    return format_money(shown.total, shown.currency)


def pay_label(shown: Quote | None) -> str:
    """The pay button's words: ``Pay $45.00``."""
    return "Pay" if shown is None else f"Pay {total_text(shown)}"
