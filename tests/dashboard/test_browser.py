"""The dashboard in headless Chromium on test host A: keyboard, dialogs, screenshots.

Screenshots land in ``artifacts/screenshots/dashboard-*.png`` (1280 and 390
pixels wide); people look at them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask

from flask_paylinks.db.models import PaymentLink
from flask_paylinks.db.session import session

from ..browser import LiveServer, live_server, screenshot, watched_page
from ..factories import days_ago, make_link, make_payment, make_product
from .conftest import OWNER_A, tall_screenshot

pytestmark = pytest.mark.browser


@pytest.fixture
def server(app: Flask) -> Iterator[LiveServer]:
    with live_server(app) as running:
        yield running


@contextmanager
def merchant_page(browser: Any, server: LiveServer, width: int = 1280) -> Iterator[Any]:
    """A logged-in page of merchant A that fails the test on console errors."""
    with watched_page(
        browser, width=width, permissions=["clipboard-read", "clipboard-write"]
    ) as page:
        page.goto(f"{server.url}/login/1")
        yield page


def _catalogue() -> dict[str, Any]:
    course = make_product(OWNER_A, name="Online course", unit_amount=4900)
    coaching = make_product(
        OWNER_A, name="Coaching", unit_amount=1900, kind="recurring"
    )
    workbook = make_product(OWNER_A, name="Workbook", unit_amount=1000)
    names = [
        "Spring launch",
        "Webinar seats",
        "Coaching bundle",
        "Gift card",
        "Workshop, March",
        "Retreat deposit",
    ]
    links = []
    for n, name in enumerate(names):
        links.append(
            make_link(
                OWNER_A,
                [course, coaching] if n % 2 else [workbook],
                items=None
                if n % 2
                else [{"adjustable": True, "min_quantity": 1, "max_quantity": 10}],
                name=name,
                status="inactive" if n == 3 else "active",
                source=["dashboard", "api", "text_to_pay"][n % 3],
                created_at=days_ago(n * 3),
            )
        )
    for n in range(4):
        make_payment(
            OWNER_A,
            links[1],
            customer_name=f"Customer {n}",
            customer_phone="+15551230000",
            contact_id=str(n),
        )
    return {"course": course, "coaching": coaching, "links": links}


def test_screenshots_of_the_table_and_the_builder(
    browser: Any, server: LiveServer
) -> None:
    data = _catalogue()
    for width in (1280, 390):
        with merchant_page(browser, server, width) as page:
            page.goto(f"{server.url}/paylinks/")
            screenshot(page, f"dashboard-links-{width}")
            # The table stays usable: every row's URL and menu are on screen.
            viewport = page.viewport_size["width"]
            for row in page.locator("[data-link-row]").all():
                box = row.bounding_box()
                assert box is not None
                assert box["x"] >= 0
                assert box["x"] + box["width"] <= viewport + 1
                menu = row.locator("summary").bounding_box()
                assert menu is not None
                assert menu["x"] + menu["width"] <= viewport
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport
            page.goto(f"{server.url}/paylinks/links/{data['links'][1].id}/edit")
            page.locator("[data-preview-round]").wait_for()
            # Chromium paints an off-screen sandboxed frame only once seen.
            page.locator("[data-preview-frame]").scroll_into_view_if_needed()
            preview = page.frame_locator("[data-preview-frame]")
            preview.get_by_text("Online course").first.wait_for()
            tall_screenshot(page, f"dashboard-builder-{width}")
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport
            page.goto(f"{server.url}/paylinks/links/{data['links'][1].id}")
            screenshot(page, f"dashboard-detail-{width}")
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport


def test_the_row_menu_works_with_the_keyboard(browser: Any, server: LiveServer) -> None:
    link = make_link(OWNER_A, name="Keyboard link")
    with merchant_page(browser, server) as page:
        page.goto(f"{server.url}/paylinks/")
        button = page.get_by_label("Actions for Keyboard link").first
        button.focus()
        page.keyboard.press("Enter")
        menu = page.get_by_role("menu", name="Actions for Keyboard link")
        assert menu.is_visible()
        assert button.get_attribute("aria-expanded") == "true"
        focused = page.evaluate("document.activeElement.textContent.trim()")
        assert focused == "Edit"
        page.keyboard.press("ArrowDown")
        focused = page.evaluate("document.activeElement.textContent.trim()")
        assert focused == "Send to contacts"
        page.keyboard.press("ArrowDown")
        assert page.evaluate("document.activeElement.textContent.trim()") == "Copy URL"
        page.keyboard.press("End")
        assert page.evaluate("document.activeElement.textContent.trim()") == "Delete"
        page.keyboard.press("ArrowDown")
        assert page.evaluate("document.activeElement.textContent.trim()") == "Edit"
        page.keyboard.press("Escape")
        assert not menu.is_visible()
        assert button.get_attribute("aria-expanded") == "false"
        assert page.evaluate("document.activeElement.getAttribute('aria-label')") == (
            "Actions for Keyboard link"
        )
        # Copy URL from the menu, by keyboard (Edit, Send to contacts, Copy URL).
        page.keyboard.press("Enter")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == f"{server.url}/pay/{link.slug}"
        # Deactivate from the menu.
        button.focus()
        page.keyboard.press("Enter")
        page.get_by_role("menuitem", name="Deactivate").focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.get_by_text("Deactivated “Keyboard link”").is_visible()
        assert page.locator("[data-link-row]").get_by_text("Inactive").is_visible()


def test_delete_asks_in_a_dialog_that_works_with_the_keyboard(
    browser: Any, server: LiveServer
) -> None:
    link = make_link(OWNER_A, name="Old offer")
    make_payment(OWNER_A, link)
    with merchant_page(browser, server) as page:
        page.goto(f"{server.url}/paylinks/")
        button = page.get_by_label("Actions for Old offer").first
        button.focus()
        page.keyboard.press("Enter")
        page.keyboard.press("End")
        page.keyboard.press("Enter")
        dialog = page.get_by_role("dialog", name="Delete this payment link?")
        assert dialog.is_visible()
        assert "Old offer" in dialog.inner_text()
        # Focus starts on Cancel; Escape closes and gives focus back.
        assert page.evaluate("document.activeElement.textContent.trim()") == "Cancel"
        page.keyboard.press("Escape")
        assert not dialog.is_visible()
        # The dialog's close event gives focus back to the menu button.
        page.wait_for_function(
            "document.activeElement.getAttribute('aria-label')"
            " === 'Actions for Old offer'"
        )
        session().expire_all()
        assert session().get(PaymentLink, link.id).deleted_at is None  # type: ignore[union-attr]
        # Now for real: open it again and confirm with the keyboard.
        page.keyboard.press("Enter")
        page.keyboard.press("End")
        page.keyboard.press("Enter")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent.trim()") == (
            "Delete link"
        )
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url == f"{server.url}/paylinks/"
        assert page.get_by_text("Its payments are kept.").is_visible()
    session().expire_all()
    assert session().get(PaymentLink, link.id).deleted_at is not None  # type: ignore[union-attr]


def test_build_a_link_with_the_picker_and_see_the_preview(
    browser: Any, server: LiveServer
) -> None:
    make_product(OWNER_A, name="Yoga class", unit_amount=2500)
    make_product(OWNER_A, name="Yoga mat", unit_amount=4000)
    make_product(OWNER_A, name="Monthly pass", unit_amount=9900, kind="recurring")
    with merchant_page(browser, server) as page:
        page.goto(f"{server.url}/paylinks/links/new")
        page.get_by_label("Name", exact=True).fill("Yoga weekend")
        search = page.get_by_role("combobox", name="Add a product")
        search.fill("yoga")
        options = page.get_by_role("option")
        options.first.wait_for()
        assert options.count() == 2
        # Keyboard: down to the second match, Enter adds it.
        search.press("ArrowDown")
        search.press("ArrowDown")
        search.press("Enter")
        mat = page.locator("[data-item]", has_text="Yoga mat")
        mat.wait_for()
        # A product already on the link is offered as added, not twice.
        search.fill("yoga")
        page.get_by_role("option", name="Yoga mat Added").wait_for()
        page.get_by_role("option", name="Yoga class").click()
        page.get_by_role("combobox", name="Add a product").fill("pass")
        page.get_by_role("option", name="Monthly pass").click()
        recurring = page.locator("[data-section=recurring]")
        assert "Monthly pass" in recurring.inner_text()
        one_time = page.locator("[data-section=one_time]")
        assert "Yoga mat" in one_time.inner_text()
        # Let customers choose how many mats, 1 to 4.
        mat.get_by_label("Allow customers to choose quantity").check()
        mat.get_by_label("Minimum").fill("1")
        mat.get_by_label("Maximum").fill("4")
        assert not mat.get_by_label("Quantity", exact=True).is_visible()
        # Remove the pass again.
        page.get_by_role("button", name="Remove Monthly pass").click()
        assert "Monthly pass" not in recurring.inner_text()
        # The preview follows: it shows the products on the link.
        frame = page.frame_locator("[data-preview-frame]")
        frame.get_by_text("Yoga class").first.wait_for()
        page.wait_for_function(
            "!document.querySelector('[data-preview-frame]').srcdoc"
            ".includes('Monthly pass')"
        )
        # Colour picker and hex field follow each other.
        page.get_by_text("Advanced options").click()
        page.get_by_role("textbox", name="Brand colour", exact=True).fill("#0a7d5a")
        picker = page.get_by_role("textbox", name="Brand colour picker")
        assert picker.input_value() == "#0a7d5a"
        picker.evaluate(
            "el => { el.value = '#ff6600';"
            " el.dispatchEvent(new Event('input', {bubbles: true})); }"
        )
        hex_field = page.get_by_role("textbox", name="Brand colour", exact=True)
        assert hex_field.input_value() == "#FF6600"
        page.get_by_label("Pill").check()
        with page.expect_navigation():
            page.get_by_role("button", name="Create link").click()
        assert page.get_by_text("Created “Yoga weekend”").is_visible()
    link = (
        session()
        .scalars(
            PaymentLink.__table__.select().where(PaymentLink.name == "Yoga weekend")
        )
        .first()
    )
    assert link is not None
    session().expire_all()
    saved = session().get(PaymentLink, link)
    assert saved is not None
    assert [item.product.name for item in saved.items] == ["Yoga mat", "Yoga class"]
    assert (saved.items[0].adjustable, saved.items[0].max_quantity) == (True, 4)
    assert (saved.brand_color, saved.button_style) == ("#FF6600", "pill")


def test_a_refused_form_puts_focus_on_its_problems(
    browser: Any, server: LiveServer
) -> None:
    make_product(OWNER_A, name="Course")
    with merchant_page(browser, server) as page:
        page.goto(f"{server.url}/paylinks/links/new")
        with page.expect_navigation():
            page.get_by_role("button", name="Create link").click()
        summary = page.get_by_role("alert")
        assert "There are 2 problems" in summary.inner_text() or (
            "There is a problem" in summary.inner_text()
        )
        assert page.evaluate("document.activeElement.dataset.errorSummary") == ""
        page.get_by_role("link", name="Name: Enter a name.").click()
        assert page.evaluate("document.activeElement.id") == "name"
