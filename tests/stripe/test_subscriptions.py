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

import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_paylinks import payments
from flask_paylinks.core.pricing import Choices
from flask_paylinks.db.models import GatewayPrice, Payment, PaymentLink, Product

from ..checkout.conftest import OWNER, Shop
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
