"""The example CRM in Chromium: log in, browse contacts, open a conversation."""

from __future__ import annotations

from typing import Any

import pytest

from ..browser import screenshot
from .helpers import ALICE, login


@pytest.mark.browser
def test_log_in_and_browse_the_crm(
    page: Any, example_server: Any, example_seed: dict[str, Any]
) -> None:
    login(page, example_server, ALICE)
    assert page.get_by_role("heading", name="Contacts").is_visible()
    assert page.locator(".account-name").inner_text() == "Acme Fitness"
    screenshot(page, "example_app-contacts-1280")

    page.get_by_label("Search").fill("example.org")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/contacts/?q=example.org**")
    rows = page.locator(".contacts-table tbody tr")
    assert rows.count() > 0
    for email in rows.locator(".person-sub").first.all_inner_texts():
        assert email.endswith("example.org")

    page.get_by_role("link", name="Clear").click()
    first = page.locator(".contacts-table .person-name").first
    name = first.inner_text()
    first.click()
    page.wait_for_url("**/contacts/*")
    assert page.get_by_role("heading", level=1).inner_text() == name
    assert page.get_by_label("Full name").input_value() == name
    screenshot(page, "example_app-contact-1280")

    page.get_by_label("Mobile phone").fill("(212) 555-0187")
    page.get_by_role("button", name="Save changes").click()
    assert page.get_by_text("(212) 555-0187").first.is_visible()

    page.get_by_role("link", name="Conversation").click()
    page.wait_for_url("**/conversation")
    box = page.get_by_label(f"Text {name.split()[0]}")
    box.fill("See you at 10:30!")
    page.get_by_role("button", name="Send SMS").click()
    page.wait_for_url("**/conversation#latest")
    assert page.locator(".msg-out .bubble").last.inner_text() == "See you at 10:30!"
    screenshot(page, "example_app-conversation-1280")

    # The same pages on a phone.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(example_server.url + "/contacts/")
    assert page.get_by_role("link", name="Payments").is_visible()
    screenshot(page, "example_app-contacts-390")
    page.locator(".contacts-table .person-name").first.click()
    page.wait_for_url("**/contacts/*")
    screenshot(page, "example_app-contact-390")
    page.get_by_role("link", name="Conversation").click()
    screenshot(page, "example_app-conversation-390")
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], "the page scrolls sideways at 390 px"


@pytest.mark.browser
def test_a_bad_phone_number_is_marked_at_the_field(
    browser: Any, example_server: Any, example_seed: dict[str, Any]
) -> None:
    # Its own context: the re-shown form answers 422, which Chromium logs as a
    # console error that the ``page`` fixture would fail on.
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        login(page, example_server, ALICE)
        customer_id = example_seed["acme"]["customers"][0]
        page.goto(f"{example_server.url}/contacts/{customer_id}")
        page.get_by_label("Mobile phone").fill("12345")
        page.get_by_role("button", name="Save changes").click()
        mobile = page.get_by_label("Mobile phone")
        assert mobile.get_attribute("aria-invalid") == "true"
        assert mobile.input_value() == "12345"
        error = page.locator("#mobile-error")
        assert "not a valid phone number" in error.inner_text()
        assert "mobile-error" in (mobile.get_attribute("aria-describedby") or "")
        mobile.scroll_into_view_if_needed()
        screenshot(page, "example_app-contact-invalid-390")
    finally:
        context.close()
