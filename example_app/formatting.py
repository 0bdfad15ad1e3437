"""Template filters of the CRM."""

from __future__ import annotations

import phonenumbers
from babel import Locale
from flask import Flask, current_app


def format_phone(value: str | None) -> str:
    """An E.164 number as people write it: national at home, else international."""
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return value
    home = current_app.config.get("PAYLINKS_PHONE_REGION", "US")
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if phonenumbers.region_code_for_number(number) == home
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, style)


def country_name(code: str | None) -> str:
    """The English name of an ISO 3166 alpha-2 code (``US``: United States)."""
    if not code:
        return ""
    return str(Locale.parse("en").territories.get(code.upper(), code))


def register_filters(app: Flask) -> None:
    """Add the CRM's filters (``phone``, ``country_name``) to *app*'s templates."""
    app.add_template_filter(format_phone, "phone")
    app.add_template_filter(country_name, "country_name")
