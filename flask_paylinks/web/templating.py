"""Jinja filters and globals the extension's templates (and the host's) use."""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from typing import Any

from babel.dates import format_date, format_datetime
from flask import Flask, current_app

from flask_paylinks.core.money import Money
from flask_paylinks.localtime import local
from flask_paylinks.merchants import merchant_profile, zone_named


def _locale() -> str:
    locale: str = current_app.config["PAYLINKS_LOCALE"]
    return locale


def format_money(value: Money | int | None, currency: str | None = None) -> str:
    """``{{ payment.total|paylinks_money }}``, ``{{ 4900|paylinks_money("USD") }}``."""
    if value is None:
        return ""
    if not isinstance(value, Money):
        if currency is None:
            raise TypeError("paylinks_money needs a currency for a bare amount")
        value = Money(int(value), currency)
    return value.format(_locale())


def _zone(tz: tzinfo | str | None) -> tzinfo | None:
    return zone_named(tz) if isinstance(tz, str) else tz


def format_when(
    value: datetime | None, style: str = "medium", tz: tzinfo | str | None = None
) -> str:
    """A date and time in the configured locale, e.g. ``Nov 26, 2026, 1:43 PM``.

    Shown in *tz* (a timezone or its IANA name); by default in the timezone
    of the merchant the request acts for
    (:func:`~flask_paylinks.merchants.current_zone`).
    """
    if value is None:
        return ""
    shown = local(value, _zone(tz))
    return str(
        format_datetime(shown, format=style, tzinfo=shown.tzinfo, locale=_locale())
    )


def format_day(
    value: datetime | date | None,
    style: str = "medium",
    tz: tzinfo | str | None = None,
) -> str:
    """A date in the configured locale, e.g. ``Nov 26, 2026``.

    A timestamp is shown on the day it falls on in the merchant's timezone
    (as :func:`format_when`); a bare date as it is.
    """
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = local(value, _zone(tz)).date()
    return str(format_date(value, format=style, locale=_locale()))


def register_template_helpers(app: Flask) -> None:
    """Add the ``paylinks_*`` filters and the ``paylinks_layout`` global."""
    app.add_template_filter(format_money, "paylinks_money")
    app.add_template_filter(format_when, "paylinks_datetime")
    app.add_template_filter(format_day, "paylinks_date")
    register_merchant_helpers(app)

    @app.context_processor
    def paylinks_context() -> dict[str, Any]:
        return {"paylinks_layout": app.config["PAYLINKS_BASE_TEMPLATE"]}


def register_merchant_helpers(app: Flask) -> None:
    """Add ``paylinks_merchant(owner_id)``: the profile of a link's owner."""
    app.add_template_global(merchant_profile, "paylinks_merchant")
