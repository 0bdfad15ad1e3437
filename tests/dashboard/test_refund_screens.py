"""A payment's page with its refund form, in headless Chromium in the example CRM.

Screenshots (``artifacts/screenshots/payment-refund-*.png``, 1280 and 390
pixels wide, looked at by people) before and after a partial refund, axe-core
on each (no serious or critical violation), and a refund made with the
keyboard alone.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from flask_paylinks.db.models import Payment, Refund
from flask_paylinks.db.session import session

from ..axe import assert_no_serious_violations
from ..browser import LiveServer, screenshot, watched_page
from ..example_app.helpers import ALICE, login
from ..factories import make_payment

pytestmark = pytest.mark.browser


def _acme_payment(app: Flask, seed: dict[str, Any]) -> int:
    """A succeeded $64.00 sandbox payment through Acme's first link."""
    with app.app_context():
        acme = seed["acme"]
        payment = make_payment(
            str(acme["owner"]),
            link_id=int(acme["links"][0]),
            amount_subtotal=6400,
            amount_total=6400,
            gateway_payment_id="sbx_pi_screens",
            customer_name="Priya Lewis",
            customer_email="priya@example.org",
            snapshot={
                "lines": [
                    {"name": "Yoga class pass", "quantity": 2, "amount": 5000},
                    {"name": "Mat rental", "quantity": 1, "amount": 1400},
                ]
            },
        )
        return payment.id


def _fits(page: Any, width: int) -> None:
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"the payment page scrolls sideways at {width}px"


@pytest.mark.parametrize("width", [1280, 390])
def test_the_payment_page_and_a_partial_refund_look_right(
    browser: Any,
    example_server: LiveServer,
    example_app: Flask,
    example_seed: dict[str, Any],
    width: int,
) -> None:
    payment_id = _acme_payment(example_app, example_seed)
    with watched_page(browser, width=width) as page:
        login(page, example_server, ALICE)
        page.goto(f"{example_server.url}/paylinks/payments/{payment_id}")
        assert "Yoga class pass" in page.inner_text("main")
        assert page.get_by_label("Amount to refund").input_value() == "64.00"
        screenshot(page, f"payment-refund-form-{width}")
        assert_no_serious_violations(page, f"payment page at {width}px")
        _fits(page, width)

        page.get_by_label("Amount to refund").fill("14.00")
        page.get_by_label("Duplicate payment").check()
        page.get_by_label("Note").fill("Charged twice for the mat")
        page.get_by_role("button", name="Refund", exact=True).click()
        page.wait_for_load_state()
        body = page.inner_text("main")
        assert "Refunded $14.00." in body
        assert "$50.00 can be refunded" in body
        screenshot(page, f"payment-refunded-{width}")
        assert_no_serious_violations(page, f"refunded payment at {width}px")
        _fits(page, width)

        page.get_by_label("Amount to refund").fill("99.00")
        page.get_by_role("button", name="Refund", exact=True).click()
        page.wait_for_load_state()
        error = page.locator(".pl-field--invalid").first.inner_text()
        assert "At most $50.00 is left to refund." in error
        screenshot(page, f"payment-refund-error-{width}")
        assert_no_serious_violations(page, f"refund error at {width}px")

    with example_app.app_context():
        payment = session().get(Payment, payment_id)
        assert payment is not None
        assert payment.amount_refunded == 1400
        assert [r.amount for r in session().query(Refund).all()] == [1400]


def test_a_refund_with_the_keyboard_alone(
    browser: Any,
    example_server: LiveServer,
    example_app: Flask,
    example_seed: dict[str, Any],
) -> None:
    payment_id = _acme_payment(example_app, example_seed)
    with watched_page(browser) as page:
        login(page, example_server, ALICE)
        page.goto(f"{example_server.url}/paylinks/payments/{payment_id}")
        for _ in range(80):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.name === 'amount'"):
                break
        else:
            raise AssertionError("Tab never reached the amount")
        page.keyboard.press("Control+A")
        page.keyboard.type("5")
        page.keyboard.press("Tab")  # the first reason, checked by default
        page.keyboard.press("Tab")  # the note
        page.keyboard.type("Asked by phone")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent.trim()") == "Refund"
        page.keyboard.press("Enter")
        page.wait_for_load_state()
        assert "Refunded $5.00." in page.inner_text("main")
