"""Every customer page this release changed, looked at in Chromium with axe-core.

The checkout (with the merchant's name), a receipt, the 410 page and the
"someone is paying this link" page, at 1280 and 390 px, in the example CRM.
Screenshots: ``artifacts/screenshots/customer-*.png``.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from flask_paylinks import payments
from flask_paylinks.core.pricing import Choices
from flask_paylinks.db.models import PaymentLink

from ..axe import assert_no_serious_violations
from ..browser import LiveServer, screenshot, watched_page

pytestmark = pytest.mark.browser


def _pay(page: Any, email: str) -> None:
    page.get_by_label("Full name").fill("Jordan Example")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_label("Expiry (MM / YY)").fill("12 / 34")
    page.get_by_label("Security code").fill("123")
    page.get_by_role("button", name="Pay $179.00").click()


def _look(page: Any, name: str, width: int) -> None:
    screenshot(page, f"customer-{name}-{width}")
    assert_no_serious_violations(page, f"{name} at {width}px")
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{name} scrolls sideways at {width}px"


@pytest.mark.parametrize("width", [1280, 390])
def test_customer_pages_pass_axe(
    browser: Any,
    example_app: Flask,
    example_server: LiveServer,
    example_seed: dict[str, Any],
    width: int,
) -> None:
    from example_app.extensions import db

    slug, _, _, inactive = example_seed["acme"]["slugs"]
    with watched_page(browser, width=width) as page:
        page.goto(f"{example_server.url}/pay/{slug}")
        assert "Acme Fitness" in page.title()
        _look(page, "checkout", width)

        _pay(page, f"axe-{width}@example.com")
        page.get_by_role("heading", name="Payment received").wait_for()
        _look(page, "receipt", width)

        response = page.goto(f"{example_server.url}/pay/{inactive}")
        assert response is not None
        assert response.status == 410
        _look(page, "410", width)

        # A single-use link another customer has started paying.
        with example_app.test_request_context():
            link = db.session.get(PaymentLink, example_seed["acme"]["links"][0])
            assert link is not None
            link.single_use = True
            db.session.commit()
            payments.start_checkout(
                link,
                choices=Choices(),
                customer=payments.Customer(name="First", email="first@example.com"),
                attempt=payments.new_attempt(),
            )
        page.goto(f"{example_server.url}/pay/{slug}")
        _pay(page, f"second-{width}@example.com")
        page.get_by_role(
            "heading", name="Someone is paying this link right now"
        ).wait_for()
        _look(page, "link-in-use", width)
