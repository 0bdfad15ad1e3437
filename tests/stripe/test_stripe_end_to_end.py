# The fixtures imported from test_checkout_browser are named as parameters too.
# ruff: noqa: F811
"""Stripe end to end in Chromium: a customer pays, the merchant sees and refunds it.

Each test runs host A on the Stripe gateway against localstripe (through the
edge of :mod:`tests.stripe.localstripe`), with "Stripe.js" from the shim of
:mod:`tests.stripe.shim.server`; the fixtures and page helpers are
:mod:`tests.stripe.test_checkout_browser`'s. The merchant logs in through
host A's own login route (``/login/<user id>``, Flask-Login) and works in the
dashboard in the same browser.

1. One-time: the customer pays with 4242… through the Payment Element;
   localstripe delivers its own signed ``payment_intent.succeeded``; the
   merchant refunds part of it on the payment's page (reached from the
   link's payments list), the same rendered form is posted again, and a
   signed ``charge.refunded`` for that amount arrives.
2. Subscription: a monthly plan plus a one-time fee, paid the same way on the
   first invoice's PaymentIntent; the test then signs and posts
   ``invoice.paid``, ``payment_intent.succeeded`` and
   ``customer.subscription.deleted`` itself, in that order (localstripe is
   told to send nothing, so the order is the test's).

Served at the HTTP level because localstripe lacks them (Stripe documents
them; shapes of API version 2025-03-31.basil and later), by the edge:
``POST /v1/prices``, ``GET /v1/prices/{id}``, ``POST /v1/subscriptions``
(``items[][price]``, ``add_invoice_items``, ``payment_behavior``,
``expand`` of the first invoice), ``GET /v1/subscriptions/{id}``,
``GET /v1/invoices/{id}``; by the shim server: ``POST
/v1/payment_intents/:id/confirm`` with the publishable key and client
secret, as Stripe.js sends it. Customers, PaymentIntents (the invoice's
too), charges, refunds and the one-time webhook are localstripe's own.
The webhooks these tests sign use the real ``t=…,v1=HMAC-SHA256`` scheme
and are verified by stripe-python in the app; nothing bypasses it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from playwright.sync_api import expect
from sqlalchemy import func, select

from flask_paylinks.db.models import (
    GatewayEvent,
    OutboxItem,
    PaymentLink,
    Product,
    Refund,
)
from flask_paylinks.payments.followups import PAYMENT_FOLLOWUP

from ..browser import LiveServer, screenshot, watched_page
from ..checkout.conftest import Shop
from ..hosts import crm_a
from . import test_subscriptions as subs
from . import test_webhooks as hooks
from .conftest import SECRET_KEY, WEBHOOK_SECRET
from .e2e_helpers import WEBHOOK_PATH, served_with_webhooks
from .localstripe import LocalStripe
from .test_checkout_browser import (  # noqa: F401 (fixtures)
    GOOD,
    assert_paid_once,
    enter_card,
    link,
    open_payment_step,
    payments_of,
    server,
    shim,
    stripe_app,
    succeeded_signals,
    wait_until_succeeded,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def merchant(stripe_app: Flask) -> int:
    """Host A's user of account 1 (the links' owner): their id, to log in with."""
    with stripe_app.app_context():
        crm_a.db.session.add(crm_a.User(id=1, account_id=1, email="alice@a.test"))
        crm_a.db.session.commit()
    return 1


@pytest.fixture
def quiet_server(stripe_app: Flask, localstripe: LocalStripe) -> Iterator[LiveServer]:
    """The app served live; localstripe sends it no events (the test signs them)."""
    with served_with_webhooks(stripe_app, localstripe, []) as running:
        yield running


def log_in(page: Any, server: LiveServer, user_id: int) -> None:
    """Host A's login, in *page*'s browser context."""
    page.goto(f"{server.url}/login/{user_id}")
    expect(page.locator("body")).to_have_text("ok")


def deliver(server: LiveServer, event: dict[str, Any]) -> int:
    """Post *event* to the live app as Stripe does, freshly signed; the status."""
    body = json.dumps(event).encode()
    answer = requests.post(
        server.url + WEBHOOK_PATH,
        data=body,
        headers={
            "Stripe-Signature": hooks.signature(body, secret=WEBHOOK_SECRET),
            "Content-Type": "application/json",
        },
        timeout=10,
    )
    return answer.status_code


def followups(app: Flask) -> int:
    with app.app_context():
        return int(
            crm_a.db.session.scalar(
                select(func.count())
                .select_from(OutboxItem)
                .where(OutboxItem.kind == PAYMENT_FOLLOWUP)
            )
            or 0
        )


def stripe_events(app: Flask) -> list[tuple[str, int | None, bool]]:
    """Stripe's own events as stored: type, payment, applied."""
    with app.app_context():
        rows = crm_a.db.session.scalars(
            select(GatewayEvent)
            .where(GatewayEvent.event_id.like("evt_%"))
            .order_by(GatewayEvent.id)
        )
        return [(r.type, r.payment_id, r.processed_at is not None) for r in rows]


def open_from_links_payments(page: Any, server: LiveServer, link_id: int) -> None:
    """The link's page, then its one payment's page through the amount's link."""
    page.goto(f"{server.url}/paylinks/links/{link_id}")
    page.get_by_role("link", name=re.compile(r"^Payment .+: ")).click()
    page.wait_for_url(re.compile(r"/paylinks/payments/\d+$"))


def refund_form_fields(page: Any) -> dict[str, str]:
    """What the rendered refund form would post (its hidden attempt key too)."""
    fields: dict[str, str] = page.evaluate(
        "Object.fromEntries(new FormData(document.querySelector('[data-refund-form]')))"
    )
    return fields


def fits(page: Any, width: int) -> None:
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"the page scrolls sideways at {width}px"


# -- 1. one-time ---------------------------------------------------------------------


def test_pay_then_the_merchant_refunds_part_once(
    browser: Any,
    server: LiveServer,
    link: PaymentLink,
    localstripe: LocalStripe,
    stripe_app: Flask,
    succeeded_signals: list[int],
    merchant: int,
) -> None:
    # The customer, on a phone.
    with watched_page(browser, **PHONE) as page:
        open_payment_step(page, server, link)
        enter_card(page, GOOD)
        page.get_by_role("button", name="Pay €50.00").click()
        page.wait_for_url(re.compile(r"/receipt/"))
        payment = assert_paid_once(stripe_app, localstripe, succeeded_signals)
        page.reload()
        expect(page.get_by_role("heading", level=1)).to_have_text("Payment received")
        screenshot(page, "stripe-e2e-receipt-390")
        fits(page, PHONE["width"])
    intent = payment.gateway_payment_id
    assert intent is not None

    # The merchant, on a phone too.
    with watched_page(browser, **PHONE) as page:
        log_in(page, server, merchant)
        open_from_links_payments(page, server, link.id)
        main = page.locator("main")
        expect(main).to_contain_text(payment.reference)
        assert page.get_by_label("Amount to refund").input_value() == "50.00"
        page.get_by_label("Amount to refund").fill("20.00")
        page.get_by_label("Note").fill("One class missed")
        sent = refund_form_fields(page)
        action = page.locator("[data-refund-form]").get_attribute("action")
        page.get_by_role("button", name="Refund", exact=True).click()
        page.wait_for_load_state()
        expect(main).to_contain_text("Refunded €20.00.")
        expect(main).to_contain_text("€30.00 can be refunded")
        expect(page.locator("[data-refunded]")).to_have_text("€20.00")
        screenshot(page, "stripe-e2e-refunded-390")
        fits(page, PHONE["width"])

        # The same rendered form again (a double click, a resubmit): the same
        # refund, no second one at Stripe.
        again = page.request.post(server.url + action, form=sent)
        assert again.ok, again.status
        assert "Refunded €20.00." in again.text()
        page.reload()
        expect(main).to_contain_text("€30.00 can be refunded")
        expect(page.locator("[data-refunded]")).to_have_text("€20.00")

    made = hooks.state_of(stripe_app, payment.id)
    assert (made.state, made.amount_refunded) == ("succeeded", 2000)
    listed = localstripe.get(f"/v1/refunds?payment_intent={intent}", SECRET_KEY)
    assert [(r["amount"], r["status"]) for r in listed["data"]] == [(2000, "succeeded")]
    (post,) = localstripe.edge.posts("/v1/refunds")
    # The rendered form's own key, the one both posts carried.
    assert post.headers.get("Idempotency-Key") == sent["attempt"]
    with stripe_app.app_context():
        rows = crm_a.db.session.scalars(select(Refund)).all()
        assert [(r.amount, r.state, r.idempotency_key) for r in rows] == [
            (2000, "succeeded", sent["attempt"])
        ]
    assert post.field("payment_intent") == intent
    assert post.field("amount") == "2000"

    # Stripe's charge.refunded for that refund: already counted, nothing moves.
    charge_id = localstripe.get(f"/v1/payment_intents/{intent}", SECRET_KEY)[
        "latest_charge"
    ]
    if isinstance(charge_id, dict):
        charge_id = charge_id["id"]
    charge = localstripe.get(f"/v1/charges/{charge_id}", SECRET_KEY)
    charge.update(amount_refunded=2000, refunded=False)
    before = followups(stripe_app)
    assert deliver(server, subs.event("charge.refunded", charge)) == 200
    after = hooks.state_of(stripe_app, payment.id)
    assert (after.state, after.amount_refunded) == ("succeeded", 2000)
    assert followups(stripe_app) == before
    assert succeeded_signals == [payment.id]
    assert len(localstripe.edge.posts("/v1/refunds")) == 1
    assert stripe_events(stripe_app)[-1] == ("charge.refunded", payment.id, True)


# -- 2. subscription ---------------------------------------------------------------


@pytest.fixture
def plan(stripe_app: Flask) -> Product:
    return Shop(stripe_app).product(
        name="Gym membership", kind="recurring", unit_amount=3000, interval="month"
    )


@pytest.fixture
def gym_link(stripe_app: Flask, plan: Product) -> PaymentLink:
    """$30.00 a month, and a $15.00 joining fee once."""
    shop = Shop(stripe_app)
    fee = shop.product(name="Joining fee", unit_amount=1500)
    return shop.link([{"product": plan}, {"product": fee}])


def test_a_subscription_paid_activated_and_cancelled(
    browser: Any,
    quiet_server: LiveServer,
    gym_link: PaymentLink,
    localstripe: LocalStripe,
    stripe_app: Flask,
    succeeded_signals: list[int],
    merchant: int,
) -> None:
    server = quiet_server
    with watched_page(browser, **PHONE) as page:
        open_payment_step(page, server, gym_link, pay="Pay $45.00")
        enter_card(page, GOOD)
        page.get_by_role("button", name="Pay $45.00").click()
        page.wait_for_url(re.compile(r"/receipt/"))
        screenshot(page, "stripe-e2e-subscription-receipt-390")
    (payment,) = payments_of(stripe_app)
    sub_id = payment.gateway_subscription_id
    assert sub_id is not None

    # The subscription Stripe was asked for: the plan's Price, the fee once.
    edge = localstripe.edge
    # One subscription; the payment step asked again with the same key
    # (replayed as Stripe replays it).
    assert list(edge.billing.subscriptions) == [sub_id]
    asked = edge.posts("/v1/subscriptions")
    assert {r.headers.get("Idempotency-Key") for r in asked} == {
        payment.idempotency_key
    }
    created = asked[0]
    prices = {p["unit_amount"]: p for p in edge.billing.prices.values()}
    assert prices[3000]["recurring"]["interval"] == "month"
    assert prices[1500]["recurring"] is None
    assert created.field("items[0][price]") == prices[3000]["id"]
    assert created.field("items[1][price]") is None
    assert created.field("add_invoice_items[0][price]") == prices[1500]["id"]
    assert created.field("payment_behavior") == "default_incomplete"
    # The Payment Element paid the first invoice's PaymentIntent.
    invoice = edge.billing.invoices[
        edge.billing.subscriptions[sub_id]["latest_invoice"]
    ]
    assert invoice["amount_due"] == 4500
    intent = localstripe.get(
        f"/v1/payment_intents/{payment.gateway_payment_id}", SECRET_KEY
    )
    assert (intent["status"], intent["amount"]) == ("succeeded", 4500)

    # The receipt asked Stripe for the PaymentIntent's real state and may have
    # succeeded the payment already; the subscription is not active before
    # Stripe says the first invoice is paid.
    assert hooks.state_of(stripe_app, payment.id).subscription_status != "active"

    # Stripe's invoice.paid for that first invoice.
    t = int(time.time())
    paid = subs.invoice_event(localstripe, payment, "invoice.paid", created=t)
    assert deliver(server, paid) == 200
    now = wait_until_succeeded(stripe_app)
    assert now.subscription_status == "active"
    assert succeeded_signals == [payment.id]
    assert followups(stripe_app) == 1

    # The invoice's PaymentIntent succeeding, and invoice.paid again: the same payment.
    succeeded = hooks.intent_event(
        "payment_intent.succeeded",
        payment.gateway_payment_id or "",
        amount=4500,
        currency="usd",
    )
    assert deliver(server, succeeded) == 200
    assert deliver(server, paid) == 200
    again = hooks.state_of(stripe_app, payment.id)
    assert (again.state, again.succeeded_at) == ("succeeded", now.succeeded_at)
    assert succeeded_signals == [payment.id]
    assert followups(stripe_app) == 1
    assert stripe_events(stripe_app) == [
        ("invoice.paid", payment.id, True),
        ("payment_intent.succeeded", payment.id, True),
    ]

    with watched_page(browser, **PHONE) as page:
        log_in(page, server, merchant)
        open_from_links_payments(page, server, gym_link.id)
        status = page.locator("main [data-subscription-status]")
        expect(status).to_have_text("Subscription: Active")
        screenshot(page, "stripe-e2e-subscription-390")
        fits(page, PHONE["width"])

        deleted = subs.subscription_event(
            localstripe,
            payment,
            "customer.subscription.deleted",
            "canceled",
            created=t + 60,
        )
        assert deliver(server, deleted) == 200
        page.reload()
        expect(status).to_have_text("Subscription: Cancelled")
        screenshot(page, "stripe-e2e-subscription-cancelled-390")
    last = hooks.state_of(stripe_app, payment.id)
    assert (last.state, last.subscription_status) == ("succeeded", "canceled")
    assert succeeded_signals == [payment.id]
