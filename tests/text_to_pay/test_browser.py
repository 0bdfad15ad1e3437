"""Text-to-Pay in Chromium: from the example CRM's conversation to a paid request."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from ..axe import assert_no_serious_violations
from ..browser import SCREENSHOT_DIR, LiveServer, screenshot, watched_page
from ..example_app.helpers import ALICE, login

pytestmark = pytest.mark.browser


def reachable_customer(app: Flask, seed: dict[str, Any]) -> tuple[int, str, str]:
    """An Acme customer who can be texted: (id, name, mobile)."""
    from example_app.extensions import db
    from example_app.models import Customer

    with app.app_context():
        for customer_id in seed["acme"]["customers"]:
            customer = db.session.get(Customer, customer_id)
            assert customer is not None
            if customer.mobile and not customer.do_not_text and customer.full_name:
                return customer.id, customer.full_name, customer.mobile
    raise AssertionError("the seed has no customer who can be texted")


def open_dialog(page: Any, name: str) -> Any:
    page.get_by_role("link", name="Request payment").click()
    dialog = page.locator("dialog.pl-t2p-dialog")
    expect(dialog).to_be_visible()
    expect(
        dialog.get_by_role("heading", name=f"Request a payment from {name}")
    ).to_be_visible()
    return dialog


def test_request_35_dollars_from_a_conversation_and_get_paid(
    browser: Any, page: Any, example_server: LiveServer, example_seed: dict[str, Any]
) -> None:
    app = example_server.app
    contact_id, name, _ = reachable_customer(app, example_seed)
    login(page, example_server, ALICE)
    page.goto(f"{example_server.url}/contacts/{contact_id}/conversation")

    # The $ button of the composer opens the request form in a dialog.
    dialog = open_dialog(page, name)
    dialog.get_by_label("Item 1", exact=True).fill("Haircut")
    dialog.get_by_label("Amount of item 1").fill("25.00")
    dialog.get_by_label("Item 2", exact=True).fill("Beard trim")
    dialog.get_by_label("Amount of item 2").fill("10")
    expect(dialog.locator("[data-t2p-total]")).to_have_text("$35.00")
    expect(dialog.locator("[data-t2p-sms]")).to_contain_text(
        "Acme Fitness: Pay $35.00 securely: http"
    )
    dialog.get_by_role("button", name="Add another item").click()
    expect(dialog.get_by_label("Item 3", exact=True)).to_be_focused()
    assert_no_serious_violations(page, "the Text-to-Pay dialog")
    screenshot(page, "text_to_pay-dialog-1280")
    dialog.get_by_role("button", name="Send request").click()

    # The dialog closes, the page reloads, and the thread shows the SMS.
    expect(dialog).to_be_hidden()
    bubble = page.locator(".msg-out .bubble").last
    expect(bubble).to_contain_text("Pay $35.00 securely:")
    found = re.search(r"https?://\S+", bubble.inner_text())
    assert found, bubble.inner_text()
    personal_url = found.group(0)
    assert personal_url.startswith(f"{example_server.url}/pay/p/")

    # The contact opens the link: a checkout for exactly those two items.
    with watched_page(browser, width=390, height=844) as customer:
        customer.goto(personal_url)
        names = customer.locator(".pl-item-name").all_inner_texts()
        assert names == ["Haircut", "Beard trim"]
        pay = customer.get_by_role("button", name=re.compile(r"^Pay "))
        expect(pay).to_have_text("Pay $35.00")
        if not customer.get_by_label("Full name").input_value():
            customer.get_by_label("Full name").fill(name)
        if not customer.get_by_label("Email").input_value():
            customer.get_by_label("Email").fill("t2p@example.org")
        customer.get_by_label("Card number").fill("4242 4242 4242 4242")
        customer.get_by_label("Expiry (MM / YY)").fill("12 / 34")
        customer.get_by_label("Security code").fill("123")
        pay.click()
        heading = customer.get_by_role("heading", level=1)
        expect(heading).to_have_text("Payment received")

        # Opening it again says it is paid, and takes no money.
        customer.goto(personal_url)
        expect(customer.get_by_role("heading", level=1)).to_have_text(
            "This payment request has been paid"
        )
        assert customer.get_by_label("Card number").count() == 0
        screenshot(customer, "text_to_pay-paid-checkout-390")

    # The merchant sees it paid on the contact and on the request's page.
    page.goto(f"{example_server.url}/contacts/{contact_id}")
    requests = page.locator(".pl-t2p-list")
    expect(requests.locator(".pl-badge").first).to_have_text("Paid")
    requests.get_by_role("link", name=re.compile(r"\$35\.00")).click()
    expect(page.locator("[data-request-status]")).to_have_text("Paid")
    expect(page.get_by_text("Haircut")).to_be_visible()
    assert page.get_by_role("button", name="Cancel request").count() == 0
    screenshot(page, "text_to_pay-request-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "text_to_pay-request-390")
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], "the request page scrolls sideways at 390 px"

    # The contact's record on a phone, and the dialog opened from it.
    page.goto(f"{example_server.url}/contacts/{contact_id}")
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], "the contact page scrolls sideways at 390 px"
    screenshot(page, "text_to_pay-contact-390")
    dialog = open_dialog(page, name)
    dialog.get_by_label("Item 1", exact=True).fill("Haircut")
    dialog.get_by_label("Amount of item 1").fill("25.00")
    expect(dialog.locator("[data-t2p-total]")).to_have_text("$25.00")
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / "text_to_pay-dialog-390.png"))
    page.keyboard.press("Escape")
    expect(page.locator("dialog.pl-t2p-dialog")).to_be_hidden()
    expect(page.get_by_role("link", name="Request payment")).to_be_focused()


def test_without_javascript_the_button_is_a_link_to_the_form(
    browser: Any, example_server: LiveServer, example_seed: dict[str, Any]
) -> None:
    app = example_server.app
    contact_id, name, _ = reachable_customer(app, example_seed)
    with watched_page(browser, java_script_enabled=False) as page:
        login(page, example_server, ALICE)
        page.goto(f"{example_server.url}/contacts/{contact_id}")
        page.get_by_role("link", name="Request payment").click()
        expect(
            page.get_by_role("heading", name=f"Request a payment from {name}")
        ).to_be_visible()
        page.get_by_label("Item 1", exact=True).fill("Lesson")
        page.get_by_label("Amount of item 1").fill("40")
        page.get_by_role("button", name="Send request").click()
        page.wait_for_url(f"{example_server.url}/contacts/{contact_id}")
        expect(page.locator(".pl-t2p-list .pl-badge").first).to_have_text(
            re.compile("Sent|Delivered")
        )
