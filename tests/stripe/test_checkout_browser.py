"""The Stripe payment step in Chromium: the real checkout JavaScript on localstripe.

The app runs on the Stripe gateway against localstripe (through the edge of
:mod:`tests.stripe.localstripe`) and loads "Stripe.js" from the shim server
of :mod:`tests.stripe.shim.server` (``PAYLINKS_STRIPE_JS_URL``): localstripe's
fake Stripe.js plus ``stripe-shim.js``, which adds the Payment Element's
``elements({clientSecret, appearance}).create('payment')`` and
``confirmPayment``. localstripe registers the live server's webhook URL and
delivers its own signed events.

Served at the HTTP level because localstripe lacks them (Stripe documents
them): ``POST /v1/payment_intents/:id/confirm`` with the publishable key,
the client secret and ``payment_method_data`` (what Stripe.js sends), done
on localstripe by the shim server; Stripe's ``card_error`` type on a 402
(localstripe types every error ``invalid_request_error``). Everything else
(PaymentMethods, declines, 3-D Secure, charges, webhooks) is localstripe's.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect
from sqlalchemy import func, select

from flask_paylinks import signals
from flask_paylinks.db.models import GatewayEvent, OutboxItem, Payment, PaymentLink
from flask_paylinks.payments.followups import PAYMENT_FOLLOWUP

from ..axe import assert_no_serious_violations
from ..browser import LiveServer, screenshot, watched_page
from ..checkout.conftest import Shop
from ..hosts import crm_a
from .conftest import SECRET_KEY
from .e2e_helpers import served_with_webhooks
from .localstripe import LocalStripe
from .shim.server import StripeJsShim, stripe_js_shim

pytestmark = [pytest.mark.browser, pytest.mark.slow]

GOOD = "4242424242424242"
DECLINED = "4000000000000002"
THREE_D_SECURE = "4000002760003184"
BRAND = "#0F766E"


@pytest.fixture
def shim(localstripe: LocalStripe) -> Iterator[StripeJsShim]:
    with stripe_js_shim(
        api_base=localstripe.api_base,
        localstripe_url=localstripe.url,
        secret_key=SECRET_KEY,
    ) as running:
        yield running


@pytest.fixture
def stripe_app(
    database_url: str, stripe_config: dict[str, Any], shim: StripeJsShim
) -> Iterator[Flask]:
    app = crm_a.create_app(
        database_url, **stripe_config, PAYLINKS_STRIPE_JS_URL=shim.js_url
    )
    with app.app_context():
        crm_a.db.create_all()
    yield app
    with app.app_context():
        crm_a.db.session.remove()
        crm_a.db.engine.dispose()


@pytest.fixture
def server(stripe_app: Flask, localstripe: LocalStripe) -> Iterator[LiveServer]:
    """The app served live, its webhook URL registered with localstripe."""
    with served_with_webhooks(
        stripe_app,
        localstripe,
        ["payment_intent.succeeded", "payment_intent.payment_failed"],
    ) as running:
        yield running


@pytest.fixture
def link(stripe_app: Flask) -> PaymentLink:
    shop = Shop(stripe_app)
    yoga = shop.product(name="Yoga class", unit_amount=2500, currency="EUR")
    return shop.link([{"product": yoga, "quantity": 2}], brand_color=BRAND)


@pytest.fixture
def succeeded_signals(stripe_app: Flask) -> Iterator[list[int]]:
    seen: list[int] = []

    def receiver(sender: Any, payment: Payment, **extra: Any) -> None:
        seen.append(payment.id)

    signals.payment_succeeded.connect(receiver, stripe_app)
    yield seen
    signals.payment_succeeded.disconnect(receiver, stripe_app)


def open_payment_step(
    page: Any, server: LiveServer, link: PaymentLink, pay: str = "Pay €50.00"
) -> None:
    """Fill the checkout, press *pay*, and wait for the Payment Element."""
    page.goto(f"{server.url}/pay/{link.slug}")
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_role("button", name=pay).click()
    expect(
        page.get_by_role("heading", name=re.compile(f"^{re.escape(pay)}"))
    ).to_be_visible()
    expect(page.get_by_label("Card number")).to_be_visible()
    expect(page.get_by_role("button", name=pay)).to_be_enabled()


def enter_card(page: Any, number: str) -> None:
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Expiry month (MM)").fill("12")
    page.get_by_label("Expiry year (YY)").fill("34")
    page.get_by_label("Security code").fill("123")
    page.get_by_label("Postal code").fill("10013")


def payments_of(app: Flask) -> list[Payment]:
    with app.app_context():
        rows = list(crm_a.db.session.scalars(select(Payment).order_by(Payment.id)))
        for row in rows:
            crm_a.db.session.expunge(row)
        return rows


def wait_until_succeeded(app: Flask) -> Payment:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        (payment,) = payments_of(app)
        if payment.state == "succeeded":
            return payment
        time.sleep(0.1)
    raise AssertionError("the payment never became succeeded")


def intents(localstripe: LocalStripe) -> list[dict[str, Any]]:
    return list(localstripe.get("/v1/payment_intents", SECRET_KEY)["data"])


def assert_paid_once(
    app: Flask, localstripe: LocalStripe, succeeded_signals: list[int]
) -> Payment:
    """One PaymentIntent, succeeded; one payment, succeeded once, followed up once.

    Whichever came first, the receipt's look-up or the webhook, moved it; the
    other changed nothing.
    """
    payment = wait_until_succeeded(app)
    time.sleep(1.5)  # anything else localstripe sends arrives meanwhile
    (intent,) = intents(localstripe)
    assert intent["id"] == payment.gateway_payment_id
    assert intent["status"] == "succeeded"
    assert intent["amount"] == 5000
    with app.app_context():
        db = crm_a.db.session
        # Stripe's own events; the receipt's look-up is stored as lookup:<pi>:<status>.
        kinds = list(
            db.scalars(
                select(GatewayEvent.type).where(GatewayEvent.event_id.like("evt_%"))
            )
        )
        followups = db.scalar(
            select(func.count())
            .select_from(OutboxItem)
            .where(OutboxItem.kind == PAYMENT_FOLLOWUP)
        )
    assert kinds.count("payment_intent.succeeded") == 1
    assert followups == 1
    assert succeeded_signals == [payment.id]
    return payment


def test_pay_with_the_payment_element_lands_on_the_receipt(
    page: Any,
    server: LiveServer,
    link: PaymentLink,
    localstripe: LocalStripe,
    stripe_app: Flask,
    succeeded_signals: list[int],
) -> None:
    open_payment_step(page, server, link)
    step_url = page.url
    assert "/confirm/" in step_url
    shim_state = page.evaluate("window.__paylinksShim")
    assert shim_state["appearance"]["variables"]["colorPrimary"] == BRAND
    assert shim_state["appearance"]["variables"]["colorText"] == "#111827"

    page.reload()  # the same PaymentIntent again, never a second one
    expect(page.get_by_label("Card number")).to_be_visible()
    assert len(intents(localstripe)) == 1

    enter_card(page, GOOD)
    page.get_by_role("button", name="Pay €50.00").click()
    page.wait_for_url(re.compile(r"/receipt/.*[?&]redirect_status=succeeded"))
    assert "payment_intent=pi_" in page.url
    expect(page.get_by_role("heading", level=1)).to_have_text(
        re.compile("Confirming your payment|Payment received")
    )
    payment = assert_paid_once(stripe_app, localstripe, succeeded_signals)
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment received")
    assert payment.reference in page.locator("main").inner_text()

    # The payment step of a paid payment is its receipt.
    page.goto(step_url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment received")


def test_a_declined_card_says_so_then_another_card_pays(
    page: Any,
    server: LiveServer,
    link: PaymentLink,
    localstripe: LocalStripe,
    stripe_app: Flask,
    succeeded_signals: list[int],
) -> None:
    open_payment_step(page, server, link)
    enter_card(page, DECLINED)
    page.get_by_role("button", name="Pay €50.00").click()
    alert = page.get_by_role("alert")
    expect(alert).to_have_text("Your card was declined.")
    assert "/confirm/" in page.url
    (payment,) = payments_of(stripe_app)
    assert payment.state == "pending"
    assert intents(localstripe)[0]["status"] == "requires_payment_method"

    enter_card(page, GOOD)
    page.get_by_role("button", name="Pay €50.00").click()
    page.wait_for_url(re.compile(r"/receipt/"))
    assert_paid_once(stripe_app, localstripe, succeeded_signals)


def test_three_d_secure_completed_pays(
    page: Any,
    server: LiveServer,
    link: PaymentLink,
    localstripe: LocalStripe,
    stripe_app: Flask,
    succeeded_signals: list[int],
) -> None:
    open_payment_step(page, server, link)
    enter_card(page, THREE_D_SECURE)
    page.get_by_role("button", name="Pay €50.00").click()
    page.get_by_role("button", name="Complete authentication").click()
    page.wait_for_url(re.compile(r"/receipt/"))
    assert_paid_once(stripe_app, localstripe, succeeded_signals)


def test_three_d_secure_failed_says_so_and_pays_on_a_second_try(
    page: Any,
    server: LiveServer,
    link: PaymentLink,
    localstripe: LocalStripe,
    stripe_app: Flask,
    succeeded_signals: list[int],
) -> None:
    open_payment_step(page, server, link)
    enter_card(page, THREE_D_SECURE)
    page.get_by_role("button", name="Pay €50.00").click()
    page.get_by_role("button", name="Fail authentication").click()
    expect(page.get_by_role("alert")).to_have_text(
        "The provided PaymentMethod has failed authentication."
    )
    (payment,) = payments_of(stripe_app)
    assert payment.state == "pending"

    page.get_by_role("button", name="Pay €50.00").click()  # 3-D Secure again
    page.get_by_role("button", name="Complete authentication").click()
    page.wait_for_url(re.compile(r"/receipt/"))
    assert_paid_once(stripe_app, localstripe, succeeded_signals)


@pytest.mark.parametrize(("width", "height"), [(1280, 900), (390, 844)])
def test_the_payment_step_is_accessible_and_looks_right(
    browser: Any, server: LiveServer, link: PaymentLink, width: int, height: int
) -> None:
    with watched_page(browser, width=width, height=height) as page:
        open_payment_step(page, server, link)
        assert_no_serious_violations(page, f"payment step at {width}px")
        enter_card(page, DECLINED)
        page.get_by_role("button", name="Pay €50.00").click()
        expect(page.get_by_role("alert")).to_have_text("Your card was declined.")
        assert_no_serious_violations(page, f"declined payment step at {width}px")
        screenshot(page, f"stripe-checkout-{width}")
        # Keyboard only: Tab reaches the card fields and the Pay button.
        page.get_by_label("Card number").focus()
        for _ in range(5):
            page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "pl-step-pay"
