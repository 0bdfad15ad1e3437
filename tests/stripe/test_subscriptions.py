"""Recurring links become Stripe Subscriptions; their webhooks and disputes.

The gateway talks to a real localstripe through the HTTP edge
(:mod:`tests.stripe.localstripe`). localstripe keeps the Customers, Products,
Coupons and the first invoice's PaymentIntent. Faked at the edge, because
localstripe lacks them (or has only their pre-2019 form) and Stripe documents
them, in the shapes of API version 2025-03-31.basil and later:

- ``POST /v1/prices`` and ``GET /v1/prices/{id}`` (the Price object);
- ``POST /v1/subscriptions`` with ``items[][price]``, ``add_invoice_items``,
  ``discounts``, ``payment_behavior=default_incomplete``,
  ``payment_settings[save_default_payment_method]`` and ``expand`` of
  ``latest_invoice.confirmation_secret`` / ``latest_invoice.payments``;
  ``GET`` and ``DELETE /v1/subscriptions/{id}``; ``GET /v1/invoices/{id}``
  (the first Invoice, its ``confirmation_secret`` the client secret of a real
  localstripe PaymentIntent for its total);
- ``applies_to[products]`` on ``POST /v1/coupons``, taken off and put back;
- idempotent replay of a POST with an ``Idempotency-Key``.

Webhook bodies are Stripe Events (an Invoice, a Subscription, a Dispute, a
PaymentIntent) signed with the real ``t=…,v1=HMAC-SHA256`` scheme and
verified by stripe-python; nothing bypasses verification.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_paylinks import payments
from flask_paylinks.core.pricing import Choices
from flask_paylinks.db.models import (
    GatewayEvent,
    GatewayPrice,
    Payment,
    PaymentLink,
    Product,
)
from flask_paylinks.gateways.stripe import API_VERSION
from flask_paylinks.payments import webhooks

from ..checkout.conftest import Shop
from ..hosts import crm_a
from . import test_webhooks as hooks
from .conftest import SECRET_KEY, WEBHOOK_SECRET
from .localstripe import LocalStripe

ADA = payments.Customer(name="Ada Lovelace", email="ada@example.com")


@pytest.fixture
def stripe_app(database_url: str, stripe_config: dict[str, Any]) -> Iterator[Flask]:
    """Host A on the Stripe gateway, pointed at localstripe's edge."""
    app = crm_a.create_app(database_url, **stripe_config)
    with app.app_context():
        crm_a.db.create_all()
        crm_a.db.session.add(crm_a.User(id=1, account_id=1, email="alice@a.test"))
        crm_a.db.session.commit()
    yield app
    with app.app_context():
        crm_a.db.session.remove()
        crm_a.db.engine.dispose()


@pytest.fixture
def shop(stripe_app: Flask) -> Shop:
    return Shop(stripe_app)


@pytest.fixture
def client(stripe_app: Flask) -> FlaskClient:
    return stripe_app.test_client()


@pytest.fixture
def plan(shop: Shop) -> Product:
    return shop.product(
        name="Gym membership", kind="recurring", unit_amount=3000, interval="month"
    )


@pytest.fixture
def gym_link(shop: Shop, plan: Product) -> PaymentLink:
    """$30.00 a month, and a $15.00 joining fee once."""
    fee = shop.product(name="Joining fee", unit_amount=1500)
    return shop.link([{"product": plan}, {"product": fee}], allow_coupons=True)


def start(
    app: Flask,
    link: PaymentLink,
    attempt: str,
    customer: payments.Customer = ADA,
    coupon: str = "",
) -> payments.Checkout:
    with app.test_request_context():
        fresh = crm_a.db.session.get(PaymentLink, link.id)
        assert fresh is not None
        checkout = payments.start_checkout(
            fresh,
            choices=Choices(coupon_code=coupon),
            customer=customer,
            attempt=attempt,
        )
        crm_a.db.session.refresh(checkout.payment)
        crm_a.db.session.expunge(checkout.payment)
        return checkout


def field_values(form: list[tuple[str, str]], prefix: str) -> dict[str, str]:
    return {k: v for k, v in form if k.startswith(prefix)}


# -- creating the subscription ---------------------------------------------------


def test_the_subscription_has_the_plans_price_and_the_fee_on_its_first_invoice(
    stripe_app: Flask, gym_link: PaymentLink, plan: Product, localstripe: LocalStripe
) -> None:
    checkout = start(stripe_app, gym_link, "attempt-sub-0000000001")
    payment = checkout.payment
    assert payment.amount_total == 4500
    started = checkout.started
    assert started is not None
    assert started.client_secret
    assert started.client_secret.startswith(f"{payment.gateway_payment_id}_secret_")
    assert payment.gateway_subscription_id is not None
    assert payment.gateway_subscription_id.startswith("sub_")

    edge = localstripe.edge
    [price_of_plan, price_of_fee] = edge.posts("/v1/prices")
    assert price_of_plan.field("unit_amount") == "3000"
    assert price_of_plan.field("recurring[interval]") == "month"
    assert price_of_plan.field("recurring[interval_count]") == "1"
    assert price_of_fee.field("unit_amount") == "1500"
    assert price_of_fee.field("recurring[interval]") is None
    [created] = edge.posts("/v1/subscriptions")
    sub = localstripe.edge.billing.subscriptions[payment.gateway_subscription_id]
    plan_price, fee_price = (
        r["id"]
        for r in sorted(edge.billing.prices.values(), key=lambda p: -p["unit_amount"])
    )
    assert created.field("items[0][price]") == plan_price
    assert created.field("items[0][quantity]") == "1"
    assert created.field("add_invoice_items[0][price]") == fee_price
    assert created.field("payment_behavior") == "default_incomplete"
    assert (
        created.field("payment_settings[save_default_payment_method]")
        == "on_subscription"
    )
    assert created.field("customer") == payment.gateway_customer_id
    assert created.headers["Idempotency-Key"] == payment.idempotency_key
    assert created.field("metadata[paylinks_payment]") == str(payment.id)
    assert sub["status"] == "incomplete"

    # The first invoice: the plan's first month and the fee, the quote's total.
    invoice = edge.billing.invoices[sub["latest_invoice"]]
    assert [line["amount"] for line in invoice["lines"]["data"]] == [3000, 1500]
    assert invoice["amount_due"] == 4500
    # Its PaymentIntent is localstripe's own, and is the payment's.
    intent = localstripe.get(
        f"/v1/payment_intents/{payment.gateway_payment_id}", SECRET_KEY
    )
    assert intent["amount"] == 4500
    assert intent["currency"] == "usd"


def test_a_repeated_start_makes_one_subscription_and_reuses_prices(
    stripe_app: Flask, gym_link: PaymentLink, localstripe: LocalStripe, shop: Shop
) -> None:
    first = start(stripe_app, gym_link, "attempt-sub-0000000002")
    again = start(stripe_app, gym_link, "attempt-sub-0000000002")
    assert again.created is False
    assert again.payment.id == first.payment.id
    edge = localstripe.edge
    # The page's repeat asks again with the same key: Stripe replays it.
    keys = {r.headers["Idempotency-Key"] for r in edge.posts("/v1/subscriptions")}
    assert len(edge.posts("/v1/subscriptions")) == 2
    assert keys == {first.payment.idempotency_key}
    assert len(edge.billing.subscriptions) == 1
    # Another customer's start reuses the remembered Products and Prices.
    other = start(
        stripe_app,
        gym_link,
        "attempt-sub-0000000003",
        payments.Customer(name="Grace", email="grace@example.com"),
    )
    assert (
        other.payment.gateway_subscription_id != first.payment.gateway_subscription_id
    )
    assert len(edge.posts("/v1/prices")) == 2
    assert len(edge.posts("/v1/products")) == 2
    assert len(edge.billing.subscriptions) == 2
    with stripe_app.app_context():
        rows = crm_a.db.session.scalars(crm_a.db.select(GatewayPrice)).all()
        assert len(rows) == 2
        assert {(r.amount, r.interval, r.interval_count) for r in rows} == {
            (3000, "month", 1),
            (1500, "", 0),
        }


def test_a_price_change_makes_a_new_price_of_the_same_product(
    stripe_app: Flask, gym_link: PaymentLink, plan: Product, localstripe: LocalStripe
) -> None:
    start(stripe_app, gym_link, "attempt-sub-0000000004")
    with stripe_app.app_context():
        product = crm_a.db.session.get(Product, plan.id)
        assert product is not None
        product.unit_amount = 3500
        crm_a.db.session.commit()
    later = start(stripe_app, gym_link, "attempt-sub-0000000005")
    assert later.payment.amount_total == 5000
    edge = localstripe.edge
    amounts = [r.field("unit_amount") for r in edge.posts("/v1/prices")]
    assert amounts == ["3000", "1500", "3500"]
    assert len(edge.posts("/v1/products")) == 2  # the new Price, same Product
    old, new = (p for p in edge.billing.prices.values() if p["recurring"] is not None)
    assert old["product"] == new["product"]
    assert old["unit_amount"] == 3000  # never edited
    sub = edge.billing.subscriptions[later.payment.gateway_subscription_id or ""]
    assert sub["items"]["data"][0]["price"]["id"] == new["id"]


@pytest.mark.parametrize(
    ("terms", "expected"),
    [
        ({"duration": "once"}, {"duration": "once"}),
        (
            {"duration": "repeating", "duration_in_months": 3},
            {"duration": "repeating", "duration_in_months": "3"},
        ),
        ({"duration": "forever"}, {"duration": "forever"}),
    ],
)
def test_a_coupon_becomes_a_stripe_coupon_of_the_same_duration(
    stripe_app: Flask,
    gym_link: PaymentLink,
    shop: Shop,
    localstripe: LocalStripe,
    terms: dict[str, Any],
    expected: dict[str, str],
) -> None:
    coupon = shop.coupon(code="WELCOME", percent_off_bp=2000, **terms)
    checkout = start(stripe_app, gym_link, "attempt-sub-0000000006", coupon="WELCOME")
    assert checkout.payment.amount_total == 3600  # 20% off 45.00
    edge = localstripe.edge
    [made] = edge.posts("/v1/coupons")
    assert made.field("percent_off") == "20.0"
    for name, value in expected.items():
        assert made.field(name) == value
    assert made.field("metadata[paylinks_code]") == coupon.code
    [sub] = edge.posts("/v1/subscriptions")
    coupon_id = made.field("id")
    assert sub.field("discounts[0][coupon]") == coupon_id
    stored = localstripe.get(f"/v1/coupons/{coupon_id}", SECRET_KEY)
    assert stored["duration"] == terms["duration"]
    invoice = next(iter(edge.billing.invoices.values()))
    assert invoice["amount_due"] == 3600

    # The same terms again: the same coupon id, created once.
    start(stripe_app, gym_link, "attempt-sub-0000000007", coupon="WELCOME")
    assert {r.field("id") for r in edge.posts("/v1/coupons")} == {coupon_id}
    assert len(localstripe.get("/v1/coupons?limit=100", SECRET_KEY)["data"]) == 1


def test_an_amount_off_coupon_on_the_plan_only(
    stripe_app: Flask,
    gym_link: PaymentLink,
    plan: Product,
    shop: Shop,
    localstripe: LocalStripe,
) -> None:
    shop.coupon(
        code="FIVE", amount_off=500, currency="USD", products=[plan], duration="forever"
    )
    checkout = start(stripe_app, gym_link, "attempt-sub-0000000008", coupon="FIVE")
    assert checkout.payment.amount_total == 4000
    assert checkout.payment.amount_recurring == 2500
    [made] = localstripe.edge.posts("/v1/coupons")
    assert made.field("amount_off") == "500"
    assert made.field("currency") == "usd"
    product_of_plan = next(
        p["product"]
        for p in localstripe.edge.billing.prices.values()
        if p["recurring"] is not None
    )
    assert made.field("applies_to[products][0]") == product_of_plan
    invoice = next(iter(localstripe.edge.billing.invoices.values()))
    assert invoice["amount_due"] == 4000


def test_stripe_charging_another_amount_cancels_and_charges_nothing(
    stripe_app: Flask,
    gym_link: PaymentLink,
    plan: Product,
    shop: Shop,
    localstripe: LocalStripe,
) -> None:
    start(stripe_app, gym_link, "attempt-sub-0000000009")
    # The plan's $35.00 row remembers the $30.00 Price (a row gone wrong):
    # Stripe's first invoice would not be the server's quote.
    with stripe_app.app_context():
        product = crm_a.db.session.get(Product, plan.id)
        assert product is not None
        product.unit_amount = 3500
        old = crm_a.db.session.scalars(
            crm_a.db.select(GatewayPrice).where(GatewayPrice.interval == "month")
        ).one()
        crm_a.db.session.add(
            GatewayPrice(
                gateway="stripe",
                account=old.account,
                product_id=old.product_id,
                amount=3500,
                currency="USD",
                interval="month",
                interval_count=1,
                gateway_product_id=old.gateway_product_id,
                gateway_price_id=old.gateway_price_id,
            )
        )
        crm_a.db.session.commit()
    with pytest.raises(payments.PaymentNotStarted, match="another amount"):
        start(stripe_app, gym_link, "attempt-sub-0000000010")
    [_, refused] = shop.payments()
    assert refused.state == "failed"
    subscriptions = localstripe.edge.billing.subscriptions.values()
    assert sorted(row["status"] for row in subscriptions) == ["canceled", "incomplete"]
    assert [r.method for r in localstripe.edge.requests][-1] == "DELETE"


# -- webhooks ----------------------------------------------------------------------


@pytest.fixture
def subscribed(stripe_app: Flask, gym_link: PaymentLink) -> Payment:
    """A pending $45.00 payment of the gym link: its subscription incomplete."""
    return start(stripe_app, gym_link, "attempt-sub-hooks-00001").payment


def event(
    kind: str, obj: dict[str, Any], *, created: int | None = None
) -> dict[str, Any]:
    """A Stripe Event (https://docs.stripe.com/api/events/object) of *obj*."""
    return {
        "id": f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()) if created is None else created,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": kind,
    }


def deliver(client: FlaskClient, sent: dict[str, Any]) -> int:
    """Post *sent*, signed with the app's webhook secret; the status."""
    status, _ = hooks.deliver(client, sent, secret=WEBHOOK_SECRET)
    return status


def invoice_event(
    localstripe: LocalStripe,
    payment: Payment,
    kind: str,
    *,
    later: bool = False,
    created: int | None = None,
) -> dict[str, Any]:
    """*kind* for the first invoice of *payment*'s subscription, or a later one."""
    billing = localstripe.edge.billing
    sub = billing.subscriptions[payment.gateway_subscription_id or ""]
    invoice = dict(billing.invoices[sub["latest_invoice"]])
    for includable in ("confirmation_secret", "payments"):
        invoice.pop(includable)
    if later:
        invoice.update(
            id=f"in_{secrets.token_hex(12)}",
            billing_reason="subscription_cycle",
            amount_due=3000,
            amount_remaining=3000,
        )
    if kind == "invoice.paid":
        invoice.update(
            status="paid", amount_paid=invoice["amount_due"], amount_remaining=0
        )
    else:
        invoice["attempt_count"] = 1
    return event(kind, invoice, created=created)


def subscription_event(
    localstripe: LocalStripe,
    payment: Payment,
    kind: str,
    status: str,
    *,
    created: int | None = None,
) -> dict[str, Any]:
    sub = dict(
        localstripe.edge.billing.subscriptions[payment.gateway_subscription_id or ""]
    )
    sub["status"] = status
    return event(kind, sub, created=created)


def reloaded(app: Flask, payment: Payment) -> Payment:
    return hooks.state_of(app, payment.id)


def test_invoice_paid_succeeds_the_payment_and_activates_the_subscription(
    stripe_app: Flask,
    client: FlaskClient,
    subscribed: Payment,
    localstripe: LocalStripe,
) -> None:
    assert reloaded(stripe_app, subscribed).state == "pending"
    paid = invoice_event(localstripe, subscribed, "invoice.paid")
    assert deliver(client, paid) == 200
    now = reloaded(stripe_app, subscribed)
    assert now.state == "succeeded"
    assert now.subscription_status == "active"
    followups = hooks.outbox_count(stripe_app)
    assert followups > 0

    # The invoice's PaymentIntent succeeding too is the same payment: nothing moves.
    intent = hooks.intent_event(
        "payment_intent.succeeded",
        subscribed.gateway_payment_id or "",
        amount=4500,
        currency="usd",
    )
    assert deliver(client, intent) == 200
    assert deliver(client, paid) == 200  # and a redelivery
    again = reloaded(stripe_app, subscribed)
    assert (again.state, again.succeeded_at) == ("succeeded", now.succeeded_at)
    assert hooks.outbox_count(stripe_app) == followups
    rows = hooks.events(stripe_app)
    assert [(r.type, r.payment_id) for r in rows] == [
        ("invoice.paid", subscribed.id),
        ("payment_intent.succeeded", subscribed.id),
    ]
    assert all(r.processed_at is not None for r in rows)


def test_a_failed_first_invoice_fails_the_payment(
    stripe_app: Flask,
    client: FlaskClient,
    subscribed: Payment,
    localstripe: LocalStripe,
) -> None:
    failed = invoice_event(localstripe, subscribed, "invoice.payment_failed")
    assert deliver(client, failed) == 200
    now = reloaded(stripe_app, subscribed)
    assert now.state == "failed"
    assert now.subscription_status is None


def test_subscription_deleted_cancels_it(
    stripe_app: Flask,
    client: FlaskClient,
    subscribed: Payment,
    localstripe: LocalStripe,
) -> None:
    t = int(time.time())
    deliver(client, invoice_event(localstripe, subscribed, "invoice.paid", created=t))
    deleted = subscription_event(
        localstripe,
        subscribed,
        "customer.subscription.deleted",
        "canceled",
        created=t + 60,
    )
    assert deliver(client, deleted) == 200
    now = reloaded(stripe_app, subscribed)
    assert now.subscription_status == "canceled"
    assert now.state == "succeeded"  # what was paid stays paid


def test_an_older_subscription_update_never_overwrites_a_newer_one(
    stripe_app: Flask,
    client: FlaskClient,
    subscribed: Payment,
    localstripe: LocalStripe,
) -> None:
    t = int(time.time())
    newer = subscription_event(
        localstripe, subscribed, "customer.subscription.updated", "past_due", created=t
    )
    older = subscription_event(
        localstripe,
        subscribed,
        "customer.subscription.updated",
        "active",
        created=t - 30,
    )
    assert deliver(client, newer) == 200
    assert deliver(client, older) == 200
    assert reloaded(stripe_app, subscribed).subscription_status == "past_due"
    # A newer one still does.
    newest = subscription_event(
        localstripe,
        subscribed,
        "customer.subscription.updated",
        "active",
        created=t + 30,
    )
    assert deliver(client, newest) == 200
    assert reloaded(stripe_app, subscribed).subscription_status == "active"


def test_a_failed_later_invoice_makes_it_past_due(
    stripe_app: Flask,
    client: FlaskClient,
    subscribed: Payment,
    localstripe: LocalStripe,
) -> None:
    t = int(time.time())
    deliver(client, invoice_event(localstripe, subscribed, "invoice.paid", created=t))
    later = invoice_event(
        localstripe,
        subscribed,
        "invoice.payment_failed",
        later=True,
        created=t + 60,
    )
    assert deliver(client, later) == 200
    now = reloaded(stripe_app, subscribed)
    assert now.subscription_status == "past_due"
    assert now.state == "succeeded"  # the first payment stays paid


def test_a_first_invoice_of_another_amount_is_parked(
    stripe_app: Flask,
    client: FlaskClient,
    subscribed: Payment,
    localstripe: LocalStripe,
) -> None:
    paid = invoice_event(localstripe, subscribed, "invoice.paid")
    paid["data"]["object"]["amount_due"] = 100
    assert deliver(client, paid) == 200
    assert reloaded(stripe_app, subscribed).state == "pending"
    [row] = hooks.events(stripe_app)
    assert row.processed_at is None
    assert hooks.review(row)["reason"] == "amount_mismatch"


def test_an_unknown_subscription_is_parked(
    stripe_app: Flask,
    client: FlaskClient,
    subscribed: Payment,
    localstripe: LocalStripe,
) -> None:
    sub = subscription_event(
        localstripe, subscribed, "customer.subscription.updated", "active"
    )
    sub["data"]["object"]["id"] = "sub_nobody"
    assert deliver(client, sub) == 200
    [row] = hooks.events(stripe_app)
    assert hooks.review(row)["reason"] == "unknown_subscription"
    assert reloaded(stripe_app, subscribed).subscription_status is None


def test_a_dispute_is_recorded_and_shown_on_the_links_payments(
    stripe_app: Flask,
    client: FlaskClient,
    subscribed: Payment,
    gym_link: PaymentLink,
    localstripe: LocalStripe,
) -> None:
    deliver(client, invoice_event(localstripe, subscribed, "invoice.paid"))
    dispute = {
        "id": f"dp_{secrets.token_hex(12)}",
        "object": "dispute",
        "amount": 4500,
        "currency": "usd",
        "charge": f"ch_{secrets.token_hex(12)}",
        "payment_intent": subscribed.gateway_payment_id,
        "reason": "fraudulent",
        "status": "needs_response",
        "is_charge_refundable": True,
        "livemode": False,
        "created": int(time.time()),
    }
    assert deliver(client, event("charge.dispute.created", dispute)) == 200
    now = reloaded(stripe_app, subscribed)
    assert (now.dispute_id, now.dispute_amount) == (dispute["id"], 4500)
    assert (now.dispute_reason, now.dispute_status) == ("fraudulent", "needs_response")
    assert now.state == "succeeded"

    merchant = stripe_app.test_client()
    assert merchant.get("/login/1").status_code == 200
    page = merchant.get(f"/paylinks/links/{gym_link.id}").get_data(as_text=True)
    assert "Subscription: Active" in page
    assert "Disputed: $45.00, fraudulent (needs response)" in page


def test_a_dispute_for_more_than_the_payment_is_parked(
    stripe_app: Flask, client: FlaskClient, subscribed: Payment
) -> None:
    dispute = {
        "id": "dp_too_much",
        "object": "dispute",
        "amount": 9999,
        "currency": "usd",
        "payment_intent": subscribed.gateway_payment_id,
        "reason": "general",
        "status": "needs_response",
    }
    assert deliver(client, event("charge.dispute.created", dispute)) == 200
    assert reloaded(stripe_app, subscribed).dispute_id is None
    [row] = hooks.events(stripe_app)
    assert hooks.review(row)["reason"] == "amount_mismatch"
    assert isinstance(row, GatewayEvent)
    assert webhooks.REVIEW_KEY in row.payload


def test_a_payer_without_email_gets_a_customer_of_this_payment_alone(
    stripe_app: Flask, gym_link: PaymentLink, localstripe: LocalStripe
) -> None:
    nameless = payments.Customer(name="Walk-in", email="")
    checkout = start(stripe_app, gym_link, "attempt-sub-0000000011", nameless)
    again = start(stripe_app, gym_link, "attempt-sub-0000000011", nameless)
    assert again.payment.gateway_customer_id == checkout.payment.gateway_customer_id
    made = localstripe.edge.posts("/v1/customers")
    assert {r.field("name") for r in made} == {"Walk-in"}
    assert {r.field("email") for r in made} == {None}
    customers = localstripe.get("/v1/customers?limit=100", SECRET_KEY)["data"]
    assert [c["id"] for c in customers] == [checkout.payment.gateway_customer_id]
