"""Jinja filters and globals the extension's templates (and the host's) use."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from babel.dates import format_date, format_datetime
from flask import Flask, current_app

from .money import Money


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


def format_when(value: datetime | None, style: str = "medium") -> str:
    """A date and time in the configured locale, e.g. ``Nov 26, 2026, 1:43 PM``."""
    if value is None:
        return ""
    return str(format_datetime(value, format=style, locale=_locale()))


def format_day(value: datetime | None, style: str = "medium") -> str:
    """A date in the configured locale, e.g. ``Nov 26, 2026``."""
    if value is None:
        return ""
    return str(format_date(value, format=style, locale=_locale()))


def register_template_helpers(app: Flask) -> None:
    """Add the ``paylinks_*`` filters and the ``paylinks_layout`` global."""
    app.add_template_filter(format_money, "paylinks_money")
    app.add_template_filter(format_when, "paylinks_datetime")
    app.add_template_filter(format_day, "paylinks_date")

    @app.context_processor
    def paylinks_context() -> dict[str, Any]:
        return {"paylinks_layout": app.config["PAYLINKS_BASE_TEMPLATE"]}
