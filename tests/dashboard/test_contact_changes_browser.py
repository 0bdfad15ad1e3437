"""A customer's differing details on the payment row, in Chromium, by keyboard.

Screenshots: ``artifacts/screenshots/dashboard-contact-changes-{1280,390}.png``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from ..axe import assert_no_serious_violations
from ..browser import LiveServer, live_server, screenshot, watched_page
from ..factories import make_link, make_payment, make_product
from ..hosts import crm_a
from .conftest import OWNER_A

pytestmark = pytest.mark.browser


@pytest.fixture
def server(app: Flask) -> Iterator[LiveServer]:
    with live_server(app) as running:
        yield running


@pytest.mark.parametrize("width", [1280, 390])
def test_the_merchant_applies_what_the_customer_typed_with_the_keyboard(
    app: Flask, server: LiveServer, browser: object, width: int
) -> None:
    ada = crm_a.Customer(
        account_id=1,
        full_name="Ada Lovelace",
        email="ada@example.com",
        mobile="+14155550101",
    )
    crm_a.db.session.add(ada)
    crm_a.db.session.commit()
    product = make_product(OWNER_A, name="Yoga class", unit_amount=2500)
    link = make_link(OWNER_A, [product], name="Spring classes")
    make_payment(
        OWNER_A,
        link,
        customer_name="Ada Lovelace",
        customer_email="ada@example.com",
        customer_phone="+14155552671",
        contact_id=str(ada.id),
        contact_changes={"phone": "+14155552671"},
    )
    with watched_page(browser, width=width) as page:
        page.goto(f"{server.url}/login/1")
        page.goto(f"{server.url}/paylinks/links/{link.id}")
        note = page.get_by_text("Entered a different phone:")
        assert note.is_visible()
        screenshot(page, f"dashboard-contact-changes-{width}")
        assert_no_serious_violations(page, f"link page with changes at {width}px")
        button = page.get_by_role("button", name="Apply to contact")
        button.focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.get_by_text("Updated the contact").is_visible()
        assert page.get_by_text("Entered a different phone:").count() == 0
    crm_a.db.session.expire_all()
    assert crm_a.db.session.get(crm_a.Customer, ada.id).mobile == "+14155552671"
