"""The Payments settings page in Chromium, on Stripe Connect over localstripe.

Photographed at 1280 and 390 pixels (``artifacts/screenshots/
screen-settings-*.png``, looked at by people) before connecting, with
requirements due, and with charges enabled; checked with axe-core (no
serious or critical violation) and for sideways scrolling. Accounts and
Account Links are served by the edge (see :mod:`tests.stripe.test_connect`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from flask_paylinks.db.models import StripeAccount
from flask_paylinks.db.session import session

from ..axe import assert_no_serious_violations
from ..browser import live_server, screenshot, watched_page
from .localstripe import LocalStripe
from .test_connect import _app

pytestmark = pytest.mark.browser

WIDTHS = (1280, 390)


@pytest.fixture
def connect_app(database_url: str, stripe_config: dict[str, Any]) -> Iterator[Flask]:
    """Host A on Stripe Connect."""
    with _app(database_url, {**stripe_config, "PAYLINKS_STRIPE_CONNECT": True}) as app:
        yield app


def _look(page: Any, name: str, width: int) -> None:
    screenshot(page, f"screen-settings-{name}-{width}")
    assert_no_serious_violations(page, f"settings ({name}) at {width}px")
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"settings ({name}) scrolls sideways at {width}px"


@pytest.mark.parametrize("width", WIDTHS)
def test_settings_page_looks_right_and_passes_axe(
    browser: Any, connect_app: Flask, localstripe: LocalStripe, width: int
) -> None:
    with live_server(connect_app) as server, watched_page(browser, width=width) as page:
        page.goto(server.url + "/login/1")
        page.goto(server.url + "/paylinks/settings/payments")
        page.get_by_role("button", name="Connect with Stripe").wait_for()
        _look(page, "new", width)

        # Stripe's onboarding is off-site: take its URL, come back unfinished.
        # Stripe's onboarding is off-site: see where the app sends the
        # merchant (Playwright does not route a redirect's target), stay here.
        sent: list[str] = []

        def to_stripe(route: Any) -> None:
            answer = route.fetch(max_redirects=0)
            sent.append(answer.headers["location"])
            route.fulfill(status=200, content_type="text/html", body="Stripe")

        page.route("**/paylinks/settings/payments/connect", to_stripe)
        page.get_by_role("button", name="Connect with Stripe").click()
        page.wait_for_load_state()
        assert sent[0].startswith("https://connect.stripe.com/setup/s/acct_")
        page.goto(server.url + "/paylinks/settings/payments/return")
        page.get_by_role("button", name="Continue onboarding").wait_for()
        assert page.get_by_text("a bank account for payouts", exact=True).is_visible()
        _look(page, "due", width)

        with connect_app.app_context():
            account = session().scalars(select(StripeAccount)).one().account_id
        localstripe.edge.enable_charges(account)
        page.goto(server.url + "/paylinks/settings/payments/return")
        page.get_by_text("Your Stripe account is connected").wait_for()
        _look(page, "enabled", width)
