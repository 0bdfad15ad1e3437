"""The issue's walk through the dashboard, in Chromium, inside the example CRM.

A merchant logs in to the CRM, creates two products, creates a link with one
fixed and one customer-chosen item, sets a brand colour and sees the preview
change, saves, finds the link by search and by date range, copies its URL,
deactivates it and sees its status change. Screenshots of the table and the
builder inside the CRM's layout go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from ..browser import LiveServer, screenshot, watched_page
from ..example_app.helpers import ALICE, BOB, login, login_client
from .conftest import tall_screenshot

pytestmark = pytest.mark.browser


@contextmanager
def crm_page(browser: Any, server: LiveServer, width: int = 1280) -> Iterator[Any]:
    """Alice's browser, logged in to the CRM, failing the test on console errors."""
    with watched_page(
        browser, width=width, permissions=["clipboard-read", "clipboard-write"]
    ) as page:
        login(page, server, ALICE)
        yield page


def _preview_round(page: Any) -> int:
    value = page.locator(".pl-preview").get_attribute("data-preview-round")
    return int(value or 0)


def _wait_for_new_preview(page: Any, after: int) -> None:
    page.wait_for_function(
        "round => Number(document.querySelector('.pl-preview')"
        ".getAttribute('data-preview-round') || 0) > round",
        arg=after,
    )


def test_a_merchant_builds_finds_copies_and_deactivates_a_link(
    browser: Any, example_server: LiveServer
) -> None:
    base = example_server.url
    with crm_page(browser, example_server) as page:
        page.get_by_role("navigation", name="Main").get_by_role(
            "link", name="Payments"
        ).click()
        page.wait_for_url(f"{base}/paylinks/")
        tabs = page.get_by_role("navigation", name="Payments")

        # Two products.
        for name, price in [("Pilates class pack", "120.00"), ("Mat rental", "5")]:
            tabs.get_by_role("link", name="Products").click()
            page.get_by_role("link", name="New product").click()
            page.get_by_label("Name").fill(name)
            page.get_by_label("Price").fill(price)
            with page.expect_navigation():
                page.get_by_role("button", name="Add product", exact=True).click()
            assert page.get_by_text(f"Added “{name}” to your products.").is_visible()

        # A link with one fixed and one customer-chosen item.
        tabs.get_by_role("link", name="Payment links").click()
        page.get_by_role("link", name="New payment link").first.click()
        page.get_by_label("Name", exact=True).fill("Pilates launch")
        search = page.get_by_role("combobox", name="Add a product")
        for term, name in [("pilates", "Pilates class pack"), ("mat", "Mat rental")]:
            search.fill(term)
            page.get_by_role("option", name=name).click()
            page.locator("[data-item]", has_text=name).wait_for()
        mat = page.locator("[data-item]", has_text="Mat rental")
        mat.get_by_label("Allow customers to choose quantity").check()
        mat.get_by_label("Minimum").fill("1")
        mat.get_by_label("Maximum").fill("4")
        frame = page.frame_locator("[data-preview-frame]")
        frame.get_by_text("Mat rental").first.wait_for()

        # The brand colour: the preview is drawn again, in the new colour.
        page.get_by_text("Advanced options").click()
        pay = frame.locator("[data-pay]")
        default = pay.evaluate("b => getComputedStyle(b).backgroundColor")
        assert default != "rgb(10, 125, 90)"
        before = _preview_round(page)
        page.get_by_role("textbox", name="Brand colour", exact=True).fill("#0A7D5A")
        _wait_for_new_preview(page, before)
        assert (
            page.get_by_role("textbox", name="Brand colour picker").input_value()
            == "#0a7d5a"
        )
        pay = frame.locator("[data-pay]")
        assert pay.evaluate("b => getComputedStyle(b).backgroundColor") == (
            "rgb(10, 125, 90)"
        )
        screenshot(page, "dashboard-crm-builder-1280")

        with page.expect_navigation():
            page.get_by_role("button", name="Create link").click()
        assert page.get_by_text("Created “Pilates launch”").is_visible()
        assert page.get_by_text("from $125.00").is_visible()
        url = page.get_by_label("Link URL").input_value()
        assert url.startswith(f"{base}/pay/")

        # Find it by search...
        tabs.get_by_role("link", name="Payment links").click()
        page.get_by_label("Search").fill("pilates")
        with page.expect_navigation():
            page.get_by_role("button", name="Apply").click()
        rows = page.locator("[data-link-row]")
        assert rows.count() == 1
        row = rows.first
        assert "Pilates launch" in row.inner_text()
        # ...and by a date range around today, but not one before it: today
        # where Alice's shop is (the seed puts Acme in Los Angeles), which is
        # not UTC's today for eight hours of every day.
        today = datetime.now(ZoneInfo("America/Los_Angeles")).date()
        page.goto(f"{base}/paylinks/")
        page.get_by_label("Created from").fill(str(today))
        page.get_by_label("Created to").fill(str(today))
        with page.expect_navigation():
            page.get_by_role("button", name="Apply").click()
        assert page.locator("[data-link-row]", has_text="Pilates launch").count() == 1
        yesterday = str(today - timedelta(days=1))
        page.get_by_label("Created from").fill(yesterday)
        page.get_by_label("Created to").fill(yesterday)
        with page.expect_navigation():
            page.get_by_role("button", name="Apply").click()
        assert page.locator("[data-link-row]", has_text="Pilates launch").count() == 0

        # Copy its URL from the table.
        page.get_by_label("Search").fill("Pilates launch")
        page.get_by_label("Created from").fill(str(today))
        page.get_by_label("Created to").fill(str(today))
        with page.expect_navigation():
            page.get_by_role("button", name="Apply").click()
        row = page.locator("[data-link-row]", has_text="Pilates launch")
        row.get_by_role("button", name="Copy URL of Pilates launch").click()
        assert page.evaluate("navigator.clipboard.readText()") == url
        assert row.get_by_text("Active").is_visible()

        # Deactivate it from its menu, and see its status change.
        row.locator("summary").click()
        with page.expect_navigation():
            row.get_by_role("menuitem", name="Deactivate").click()
        assert page.get_by_text("Deactivated “Pilates launch”").count() == 1
        row = page.locator("[data-link-row]", has_text="Pilates launch")
        assert row.get_by_text("Inactive").is_visible()
        assert not row.get_by_text("Active", exact=True).is_visible()
        row.locator("summary").click()
        assert row.get_by_role("menuitem", name="Activate").is_visible()

    # Its checkout now says it is no longer available.
    checkout = example_server.app.test_client().get(url.removeprefix(base))
    assert checkout.status_code == 410


def test_screenshots_inside_the_crm(browser: Any, example_server: LiveServer) -> None:
    for width in (1280, 390):
        with crm_page(browser, example_server, width) as page:
            page.goto(f"{example_server.url}/paylinks/")
            assert page.locator("[data-link-row]").count() >= 1
            screenshot(page, f"dashboard-crm-links-{width}")
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            page.goto(f"{example_server.url}/paylinks/links/new")
            page.locator("[data-preview-round]").wait_for()
            tall_screenshot(page, f"dashboard-crm-create-{width}")
            assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_the_crm_shows_each_message_once(example_app: Flask) -> None:
    client = example_app.test_client()
    login_client(client, BOB)
    html = client.get("/paylinks/links/new").get_data(as_text=True)
    from ..example_app.helpers import form_token

    response = client.post(
        "/paylinks/products/new",
        data={
            "csrf_token": form_token(html),
            "name": "Consulting hour",
            "kind": "one_time",
            "price": "150",
            "currency": "USD",
        },
        follow_redirects=True,
    )
    assert response.get_data(as_text=True).count("Added “Consulting hour”") == 1
