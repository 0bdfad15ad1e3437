"""The checkout in Chromium: pay, decline, redirect, keyboard only; screenshots."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from flask_paylinks.db.models import Coupon, Payment, PaymentLink, Product

from ..browser import LiveServer, live_server, screenshot
from .conftest import Shop

pytestmark = pytest.mark.browser

THANKS = "https://example.com/thanks"
THANKS_PAGE = "<!doctype html><title>Thanks</title><h1>Thanks from the merchant</h1>"


def route_external(page: Any) -> list[str]:
    """Answer requests to example.com locally (there is no internet here)."""
    seen: list[str] = []

    def fulfil(route: Any) -> None:
        seen.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body=THANKS_PAGE)

    page.route("https://example.com/**", fulfil)
    return seen


@pytest.fixture
def tolerant_page(page: Any) -> Any:
    """The ``page`` fixture: a declined payment's 402 is expected there too."""
    return page


# -- on the example CRM, with its seeded demo data --------------------------------


def demo_link(app: Flask, seed: dict[str, Any]) -> PaymentLink:
    """Acme's seeded "Class passes" link (quantity 1-10, $179.00 a pass).

    No seeded link has every option at once, so the merchant turns on what
    the issue's scenario needs, as they would in the dashboard: the
    ``WELCOME10`` coupon, a required phone, the address, and the seed's
    redirect to https://example.com/thanks.
    """
    from example_app.extensions import db

    with app.app_context():
        link = db.session.get(PaymentLink, seed["acme"]["links"][0])
        assert link is not None
        link.allow_coupons = True
        link.require_phone = True
        link.collect_address = True
        link.redirect_url = THANKS
        db.session.commit()
        db.session.refresh(link)
        db.session.expunge(link)
        return link


def existing_customer(app: Flask, seed: dict[str, Any]) -> Any:
    """A seeded Acme customer with an email, to pay as."""
    from example_app.extensions import db
    from example_app.models import Customer

    with app.app_context():
        for customer_id in seed["acme"]["customers"]:
            customer = db.session.get(Customer, customer_id)
            assert customer is not None
            if customer.email and customer.mobile != "+12125550199":
                db.session.expunge(customer)
                return customer
    raise AssertionError("the seed has no customer with an email")


def fill_details(page: Any, email: str, card: str) -> None:
    page.get_by_label("Full name").fill("Jordan Example")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Phone").fill("(212) 555-0199")
    page.get_by_label("Street address").fill("77 Hudson St")
    page.get_by_label("Apartment, suite, etc. (optional)").fill("Apt 4B")
    page.get_by_label("City").fill("New York")
    page.get_by_label("Postal code").fill("10013")
    page.get_by_label("State / region (optional)").fill("NY")
    page.get_by_label("Country").select_option("US")
    page.get_by_label("Card number").fill(card)
    page.get_by_label("Expiry (MM / YY)").fill("12 / 34")
    page.get_by_label("Security code").fill("123")


def choose_quantity_and_coupon(page: Any) -> None:
    pay = page.get_by_role("button", name=re.compile(r"^Pay "))
    assert pay.inner_text() == "Pay $179.00"
    page.get_by_label("Quantity of 10-class pass").select_option("3")
    expect(page.locator("#pl-pay")).to_have_text("Pay $537.00")
    page.get_by_label("Discount code").fill("welcome10")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#pl-pay")).to_have_text("Pay $483.30")
    summary = page.locator("#pl-summary").inner_text()
    assert "WELCOME10" in summary
    assert "$53.70" in summary  # 10 % of $537.00
    assert "$483.30" in summary


def test_pay_a_seeded_link_and_land_on_the_merchants_page(
    page: Any, example_server: LiveServer, example_seed: dict[str, Any]
) -> None:
    from example_app.extensions import db
    from example_app.models import Customer

    app = example_server.app
    link = demo_link(app, example_seed)
    customer = existing_customer(app, example_seed)
    external = route_external(page)

    page.goto(f"{example_server.url}/pay/{link.slug}")
    assert page.get_by_text("Test mode").is_visible()
    assert "Class passes" not in page.content()  # the link's internal name
    screenshot(page, "checkout-1280")
    choose_quantity_and_coupon(page)
    fill_details(page, customer.email, "4242 4242 4242 4242")
    screenshot(page, "checkout-filled-1280")
    page.get_by_role("button", name="Pay $483.30").click()

    interim = page.get_by_role("heading", name="Payment received — taking you on…")
    interim.wait_for()
    assert page.get_by_text("Taking you to example.com.").is_visible()
    screenshot(page, "checkout-interim-1280")
    page.wait_for_url(THANKS)
    assert page.get_by_role("heading", name="Thanks from the merchant").is_visible()
    assert external == [THANKS]

    with app.app_context():
        [payment] = db.session.scalars(
            db.select(Payment).where(Payment.link_id == link.id)
        ).all()
        assert payment.state == "succeeded"
        assert payment.amount_total == 48330
        assert payment.coupon_code == "WELCOME10"
        assert payment.snapshot["lines"][0]["quantity"] == 3
        assert payment.contact_id == str(customer.id)
        # An anonymous checkout never overwrites the CRM: what the customer
        # typed waits on the payment for the merchant to apply.
        contact = db.session.get(Customer, customer.id)
        assert contact is not None
        changes = payment.contact_changes or {}
        assert contact.mobile == customer.mobile  # never written by a stranger
        assert changes["phone"] == "+12125550199"
        if customer.street:
            assert contact.street == customer.street
            assert changes["address"]["line1"] == "77 Hudson St"
        else:
            assert contact.street == "77 Hudson St"
        coupon = db.session.scalars(
            db.select(Coupon).where(
                Coupon.owner_id == example_seed["acme"]["owner"],
                Coupon.code_key == "WELCOME10",
            )
        ).one()
        assert coupon.times_redeemed == 1


def test_a_declined_card_keeps_the_form_and_changes_nothing_else(
    tolerant_page: Any, example_server: LiveServer, example_seed: dict[str, Any]
) -> None:
    from example_app.extensions import db
    from example_app.models import Customer

    page = tolerant_page
    app = example_server.app
    link = demo_link(app, example_seed)
    customer = existing_customer(app, example_seed)
    with app.app_context():
        customers_before = db.session.scalar(db.select(db.func.count(Customer.id)))

    page.goto(f"{example_server.url}/pay/{link.slug}")
    choose_quantity_and_coupon(page)
    fill_details(page, customer.email, "4000 0000 0000 0002")
    page.get_by_role("button", name="Pay $483.30").click()

    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "Your card was declined. You have not been charged." in alert.inner_text()
    assert page.evaluate("document.activeElement.id") == "pl-alert"
    screenshot(page, "checkout-declined-1280")
    # What was typed is still there; only the card number is cleared.
    assert page.get_by_label("Full name").input_value() == "Jordan Example"
    assert page.get_by_label("Email").input_value() == customer.email
    assert page.get_by_label("Phone").input_value() == "(212) 555-0199"
    assert page.get_by_label("Street address").input_value() == "77 Hudson St"
    assert page.get_by_label("Postal code").input_value() == "10013"
    assert page.get_by_label("Quantity of 10-class pass").input_value() == "3"
    assert page.get_by_label("Discount code").input_value() == "welcome10"
    assert page.get_by_label("Card number").input_value() == ""
    assert page.get_by_label("Card number").get_attribute("aria-invalid") == "true"
    assert page.get_by_role("button", name="Pay $483.30").is_visible()

    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "checkout-declined-390")

    with app.app_context():
        [payment] = db.session.scalars(
            db.select(Payment).where(Payment.link_id == link.id)
        ).all()
        assert (payment.state, payment.failure_code) == ("failed", "card_declined")
        assert payment.contact_id is None
        assert (
            db.session.scalar(db.select(db.func.count(Customer.id))) == customers_before
        )
        unchanged = db.session.get(Customer, customer.id)
        assert unchanged is not None
        assert (unchanged.mobile, unchanged.street) == (
            customer.mobile,
            customer.street,
        )
        coupon = db.session.scalars(
            db.select(Coupon).where(
                Coupon.owner_id == example_seed["acme"]["owner"],
                Coupon.code_key == "WELCOME10",
            )
        ).one()
        assert coupon.times_redeemed == 0


def test_checkout_on_a_phone(
    browser: Any, example_server: LiveServer, example_seed: dict[str, Any]
) -> None:
    app = example_server.app
    link = demo_link(app, example_seed)
    customer = existing_customer(app, example_seed)
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=1, is_mobile=True
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    route_external(page)
    page.goto(f"{example_server.url}/pay/{link.slug}")
    # Nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "checkout-390")
    choose_quantity_and_coupon(page)
    fill_details(page, customer.email, "4242 4242 4242 4242")
    page.get_by_role("button", name="Pay $483.30").click()
    page.get_by_role("heading", name="Payment received — taking you on…").wait_for()
    screenshot(page, "checkout-interim-390")
    page.wait_for_url(THANKS)
    context.close()
    assert errors == []


def test_keyboard_alone_can_pay(
    page: Any, example_server: LiveServer, example_seed: dict[str, Any]
) -> None:
    app = example_server.app
    link = demo_link(app, example_seed)
    customer = existing_customer(app, example_seed)
    route_external(page)
    page.goto(f"{example_server.url}/pay/{link.slug}")

    def tab_to(element_id: str) -> None:
        for _ in range(40):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement && document.activeElement.id") == (
                element_id
            ):
                return
        raise AssertionError(f"Tab never reached #{element_id}")

    quantity_id = page.get_by_label("Quantity of 10-class pass").get_attribute("id")
    tab_to(quantity_id)
    page.keyboard.press("ArrowDown")  # 1 -> 2
    expect(page.locator("#pl-pay")).to_have_text("Pay $358.00")
    tab_to("coupon")
    page.keyboard.type("WELCOME10")
    page.keyboard.press("Enter")  # applies the code; it does not pay
    expect(page.locator("#pl-pay")).to_have_text("Pay $322.20")
    typed = [
        ("name", "Kim Keyboard"),
        ("email", customer.email),
        ("phone", "+1 212 555 0199"),
        ("line1", "1 Tab Street"),
        ("city", "New York"),
        ("postal_code", "10001"),
        ("card-number", "4242424242424242"),
        ("card-expiry", "1234"),
        ("card-cvc", "321"),
    ]
    for element_id, text in typed:
        tab_to(element_id)
        page.keyboard.type(text)
    # The focused field is visibly outlined.
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    tab_to("pl-pay")
    page.keyboard.press("Enter")
    page.wait_for_url(THANKS)
    from example_app.extensions import db

    with app.app_context():
        [payment] = db.session.scalars(
            db.select(Payment).where(Payment.link_id == link.id)
        ).all()
        assert (payment.state, payment.amount_total) == ("succeeded", 32220)
        assert payment.customer_phone == "+12125550199"


# -- on test host A ---------------------------------------------------------------


@pytest.fixture
def served(host_a: Flask) -> Iterator[LiveServer]:
    with live_server(host_a) as server:
        yield server


def test_redirect_in_a_new_tab_keeps_the_receipt(
    page: Any, served: LiveServer, shop: Shop, yoga: Product
) -> None:
    link = shop.link(
        [{"product": yoga}],
        redirect_url="https://example.com/next",
        redirect_new_tab=True,
    )
    page.context.route(
        "https://example.com/**",
        lambda route: route.fulfill(
            status=200, content_type="text/html", body=THANKS_PAGE
        ),
    )
    page.goto(f"{served.url}/pay/{link.slug}")
    page.get_by_label("Full name").fill("Nia Newtab")
    page.get_by_label("Email").fill("nia@example.com")
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_label("Expiry (MM / YY)").fill("01/40")
    page.get_by_label("Security code").fill("999")
    with page.context.expect_page() as opened:
        page.get_by_role("button", name="Pay $25.00").click()
    new_tab = opened.value
    new_tab.wait_for_load_state()
    assert new_tab.url == "https://example.com/next"
    # The receipt stays in this tab, with a link in case a blocker stopped the tab.
    assert page.get_by_role("heading", name="Payment received").is_visible()
    assert page.get_by_role("link", name="open example.com").is_visible()
    assert page.get_by_text("PL-").first.is_visible()
    screenshot(page, "checkout-receipt-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "checkout-receipt-390")
    assert [p.state for p in shop.payments()] == ["succeeded"]


def test_plans_and_a_double_click_make_one_payment(
    page: Any,
    served: LiveServer,
    shop: Shop,
    yoga: Product,
    plans: tuple[Product, Product],
) -> None:
    monthly, yearly = plans
    link = shop.link([{"product": yoga}, {"product": monthly}, {"product": yearly}])
    page.goto(f"{served.url}/pay/{link.slug}")
    assert page.get_by_role("button", name="Pay $34.00").is_visible()
    page.get_by_text("Yearly").click()
    expect(page.locator("#pl-pay")).to_have_text("Pay $115.00")
    assert "Then $90.00 / year." in page.locator("#pl-summary").inner_text()
    page.get_by_label("Full name").fill("Dee Double")
    page.get_by_label("Email").fill("dee@example.com")
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_label("Expiry (MM / YY)").fill("01/40")
    page.get_by_label("Security code").fill("999")
    page.get_by_role("button", name="Pay $115.00").dblclick()
    page.get_by_role("heading", name="Payment received").wait_for()
    [payment] = shop.payments()
    assert (payment.state, payment.amount_total, payment.recurring_interval) == (
        "succeeded",
        11500,
        "year",
    )
