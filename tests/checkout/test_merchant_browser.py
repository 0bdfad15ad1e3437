"""Who is being paid, in Chromium: the header, the terms, the receipt, the 410 page."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from flask_paylinks.db.models import LinkStatus, Product

from ..browser import live_server, screenshot, watched_page
from .conftest import Shop

pytestmark = pytest.mark.browser

#: A 1x1 blue PNG, served as the merchant's logo.
LOGO = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def serve_logo(page: Any) -> None:
    page.route(
        "https://cdn.example/**",
        lambda route: route.fulfill(status=200, content_type="image/png", body=LOGO),
    )


@pytest.mark.parametrize("width", [1280, 390])
def test_the_header_terms_receipt_and_410_page(
    browser: Any, host_a: Flask, shop: Shop, yoga: Product, width: int
) -> None:
    membership = shop.product(
        name="Gym membership",
        description="All classes, any time.",
        kind="recurring",
        interval="month",
        interval_count=1,
        unit_amount=4900,
    )
    shop.coupon(
        code="THREE", percent_off_bp=2000, duration="repeating", duration_in_months=3
    )
    logo = "https://cdn.example/acme.png"
    one_time = shop.link([{"product": yoga}], logo_url=logo)
    monthly = shop.link([{"product": membership}], logo_url=logo, allow_coupons=True)
    stopped = shop.link([{"product": yoga}], logo_url=logo, status=LinkStatus.INACTIVE)
    with live_server(host_a) as server, watched_page(browser, width=width) as page:
        serve_logo(page)
        page.goto(f"{server.url}/pay/{one_time.slug}")
        assert page.title() == "Checkout · Acme Fitness"
        expect(page.get_by_role("img", name="Acme Fitness")).to_be_visible()
        expect(page.locator(".pl-merchant")).to_have_text("Acme Fitness")
        expect(page.locator("#pl-terms")).to_have_text("You are charged once.")
        screenshot(page, f"merchant-checkout-one-time-{width}")

        page.goto(f"{server.url}/pay/{monthly.slug}")
        terms = page.locator("#pl-terms")
        expect(terms).to_contain_text("charged $49.00 today")
        expect(terms).to_contain_text(
            "and $49.00 every month after that until you cancel."
        )
        expect(terms).to_contain_text(
            "To cancel, contact Acme Fitness at help@acme.test"
        )
        # The script swaps the terms with the total when a coupon applies.
        page.get_by_label("Discount code").fill("three")
        page.get_by_role("button", name="Apply").click()
        expect(page.locator("#pl-pay")).to_have_text("Pay $39.20")
        expect(terms).to_contain_text(
            "$39.20 every month for the next 2 months, and $49.00 every month after"
        )
        expect(terms.get_by_role("link", name="help@acme.test")).to_be_visible()
        screenshot(page, f"merchant-checkout-recurring-{width}")

        page.get_by_label("Full name").fill("Jordan Example")
        page.get_by_label("Email").fill("jordan@example.com")
        page.get_by_label("Card number").fill("4242 4242 4242 4242")
        page.get_by_label("Expiry (MM / YY)").fill("12 / 34")
        page.get_by_label("Security code").fill("123")
        page.get_by_role("button", name="Pay $39.20").click()
        page.get_by_role("heading", name="Payment received").wait_for()
        assert page.title() == "Payment received · Acme Fitness"
        expect(page.get_by_text("Thank you for paying Acme Fitness.")).to_be_visible()
        expect(page.locator(".pl-facts")).to_contain_text(
            re.compile(r"Next charge\s*\$39\.20 on ")
        )
        screenshot(page, f"merchant-receipt-{width}")

        response = page.goto(f"{server.url}/pay/{stopped.slug}")
        assert response is not None
        assert response.status == 410
        expect(
            page.get_by_text("Ask Acme Fitness at help@acme.test or +1 555 0100")
        ).to_be_visible()
        expect(page.get_by_role("link", name="+1 555 0100")).to_have_attribute(
            "href", "tel:+15550100"
        )
        screenshot(page, f"merchant-410-{width}")
