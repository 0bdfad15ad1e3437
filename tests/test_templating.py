"""Template filters format money and dates in the configured locale."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask, render_template_string

from flask_paylinks import Money

from .hosts import crm_a


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("en_US", "$1,234.50 | ¥1,500"), ("de_DE", "1.234,50\xa0$ | 1.500\xa0¥")],
)
def test_money_filter_uses_the_configured_locale(
    database_url: str, locale: str, expected: str
) -> None:
    app: Flask = crm_a.create_app(database_url, PAYLINKS_LOCALE=locale)
    with app.test_request_context():
        html = render_template_string(
            "{{ money|paylinks_money }} | {{ 1500|paylinks_money('JPY') }}",
            money=Money(123450, "USD"),
        )
    assert html == expected


def test_date_filters(host_a: Flask) -> None:
    when = datetime(2026, 11, 26, 13, 45, tzinfo=UTC)
    with host_a.test_request_context():
        assert render_template_string("{{ w|paylinks_date }}", w=when) == "Nov 26, 2026"
        assert render_template_string("{{ w|paylinks_datetime }}", w=when).startswith(
            "Nov 26, 2026"
        )
        assert render_template_string("{{ none|paylinks_money }}", none=None) == ""
