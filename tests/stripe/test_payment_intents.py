"""One-time payments start a PaymentIntent on localstripe, through the checkout.

Everything runs against a real localstripe process. Faked at the HTTP edge
(:mod:`tests.stripe.localstripe`), because localstripe lacks them and Stripe
documents them: idempotent replay of a POST with an ``Idempotency-Key``;
``automatic_payment_methods`` and ``description`` on ``POST
/v1/payment_intents`` (localstripe refuses them as unexpected); and the
faults (a 500 before processing, a response lost after processing).
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from flask_paylinks import payments
from flask_paylinks.core.pricing import Choices
from flask_paylinks.db.models import GatewayCustomer, Payment, PaymentLink, Product
from flask_paylinks.gateways.base import GatewayError, PaymentRequest
from flask_paylinks.gateways.stripe import API_VERSION, UNREACHABLE, StripeGateway
from flask_paylinks.payments.start import (
    PaymentNotStarted,
    _payment_request,
    attempt_tag,
)

from ..checkout.conftest import OWNER, Shop
from ..hosts import crm_a
from .conftest import SECRET_KEY
from .localstripe import LocalStripe

ADA = payments.Customer(name="Ada Lovelace", email="Ada@Example.com ")
GRACE = payments.Customer(name="Grace Hopper", email="grace@example.com")


@pytest.fixture
def yoga_link(shop: Shop) -> PaymentLink:
    yoga: Product = shop.product(name="Yoga class", unit_amount=2500, currency="EUR")
    return shop.link([{"product": yoga, "quantity": 2}])


def start(
    app: Flask, link: PaymentLink, attempt: str, customer: payments.Customer = ADA
) -> payments.Checkout:
    with app.test_request_context():
        fresh = crm_a.db.session.get(PaymentLink, link.id)
        assert fresh is not None
        checkout = payments.start_checkout(
            fresh, choices=Choices(), customer=customer, attempt=attempt
        )
        crm_a.db.session.refresh(checkout.payment)
        crm_a.db.session.expunge(checkout.payment)
        return checkout


def intents(localstripe: LocalStripe) -> list[dict[str, Any]]:
    listed = localstripe.get("/v1/payment_intents?limit=100", SECRET_KEY)
    data: list[dict[str, Any]] = listed["data"]
    return data


def customers(localstripe: LocalStripe) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = localstripe.get("/v1/customers?limit=100", SECRET_KEY)[
        "data"
    ]
    return data


def remembered(app: Flask) -> list[tuple[str, str, str, str, str]]:
    with app.app_context():
        rows = crm_a.db.session.scalars(crm_a.db.select(GatewayCustomer)).all()
        return [
            (r.gateway, r.account, r.owner_id, r.email_key, r.customer_id) for r in rows
        ]


def test_the_intent_has_the_servers_total_currency_metadata_and_customer(
    stripe_app: Flask, yoga_link: PaymentLink, localstripe: LocalStripe
) -> None:
    checkout = start(stripe_app, yoga_link, "attempt-0000000000001")
    payment = checkout.payment
    assert checkout.started is not None
    assert checkout.started.client_secret

    [intent] = intents(localstripe)
    assert intent["id"] == payment.gateway_payment_id
    assert intent["amount"] == 5000 == payment.amount_total
    assert intent["currency"] == "eur"
    assert intent["metadata"] == {
        "paylinks_owner": OWNER,
        "paylinks_link": str(yoga_link.id),
        "paylinks_payment": str(payment.id),
        "paylinks_attempt": attempt_tag("attempt-0000000000001"),
        "reference": payment.reference,
    }
    [customer] = customers(localstripe)
    assert intent["customer"] == customer["id"] == payment.gateway_customer_id
    assert customer["email"] == "Ada@Example.com"
    assert remembered(stripe_app) == [
        ("stripe", "platform-test", OWNER, "ada@example.com", customer["id"])
    ]

    # What went over the wire: Stripe's own shape, pinned, keyed to the payment.
    [create] = localstripe.edge.posts("/v1/payment_intents")
    assert create.field("automatic_payment_methods[enabled]") == "true"
    assert create.field("payment_method_types[0]") is None
    assert create.field("amount") == "5000"
    assert create.headers["Idempotency-Key"] == payment.idempotency_key
    assert create.headers["Stripe-Version"] == API_VERSION
    assert create.headers["Authorization"] == f"Bearer {SECRET_KEY}"


def test_the_same_email_reuses_the_customer_another_gets_its_own(
    stripe_app: Flask, yoga_link: PaymentLink, localstripe: LocalStripe
) -> None:
    first = start(stripe_app, yoga_link, "attempt-0000000000001").payment
    again = start(
        stripe_app,
        yoga_link,
        "attempt-0000000000002",
        payments.Customer(name="Ada L.", email="ada@example.COM"),
    ).payment
    other = start(stripe_app, yoga_link, "attempt-0000000000003", GRACE).payment

    assert len(intents(localstripe)) == 3
    assert len(customers(localstripe)) == 2
    assert len(localstripe.edge.posts("/v1/customers")) == 2
    assert first.gateway_customer_id == again.gateway_customer_id
    assert other.gateway_customer_id not in (None, first.gateway_customer_id)


def test_customers_are_per_owner(
    stripe_app: Flask, shop: Shop, yoga_link: PaymentLink, localstripe: LocalStripe
) -> None:
    theirs = shop.link([{"product": shop.product("2", unit_amount=900)}], owner="2")
    mine = start(stripe_app, yoga_link, "attempt-0000000000001").payment
    other_owner = start(stripe_app, theirs, "attempt-0000000000002").payment
    assert mine.gateway_customer_id != other_owner.gateway_customer_id
    assert {row[2] for row in remembered(stripe_app)} == {OWNER, "2"}


def test_a_repeated_submit_of_the_attempt_makes_one_intent(
    stripe_app: Flask, yoga_link: PaymentLink, localstripe: LocalStripe
) -> None:
    first = start(stripe_app, yoga_link, "attempt-0000000000001")
    second = start(stripe_app, yoga_link, "attempt-0000000000001")
    assert not second.created
    assert second.payment.id == first.payment.id
    assert second.started is not None
    assert first.started is not None
    assert second.started.gateway_payment_id == first.started.gateway_payment_id
    assert len(intents(localstripe)) == 1


def request_for(app: Flask, payment: Payment, attempt: str) -> PaymentRequest:
    """The request the checkout makes for *payment* (the code's own builder)."""
    with app.app_context():
        row = crm_a.db.session.get(Payment, payment.id)
        assert row is not None
        return _payment_request(row, attempt)


def gateway(app: Flask) -> StripeGateway:
    found = app.extensions["paylinks"].gateway
    assert isinstance(found, StripeGateway)
    return found


def test_the_same_idempotency_key_twice_gives_one_intent(
    stripe_app: Flask, yoga_link: PaymentLink, localstripe: LocalStripe
) -> None:
    payment = start(stripe_app, yoga_link, "attempt-0000000000001").payment
    request = request_for(stripe_app, payment, "attempt-0000000000001")
    with stripe_app.app_context():
        again = gateway(stripe_app).start_payment(request)
    assert again.gateway_payment_id == payment.gateway_payment_id
    assert len(intents(localstripe)) == 1


def test_a_lost_answer_is_retried_by_the_client_with_the_same_key(
    stripe_app: Flask, yoga_link: PaymentLink, localstripe: LocalStripe
) -> None:
    start(stripe_app, yoga_link, "attempt-0000000000001")  # Ada's customer exists
    localstripe.edge.reset()
    localstripe.edge.lose_responses(1)
    payment = start(stripe_app, yoga_link, "attempt-0000000000002").payment
    assert payment.state == "pending"
    assert len(intents(localstripe)) == 2
    assert payment.gateway_payment_id in {i["id"] for i in intents(localstripe)}
    posts = localstripe.edge.posts("/v1/payment_intents")
    assert len(posts) == 2
    assert {p.headers["Idempotency-Key"] for p in posts} == {payment.idempotency_key}


def test_stripe_down_says_try_again_and_the_retry_reuses_the_intent(
    stripe_app: Flask, yoga_link: PaymentLink, localstripe: LocalStripe
) -> None:
    payment = start(stripe_app, yoga_link, "attempt-0000000000001").payment
    localstripe.clear()
    request = request_for(stripe_app, payment, "attempt-0000000000001")
    request = PaymentRequest(**{**_fields(request), "customer_email": ""})

    # Every try's answer is lost after Stripe made the intent: the client
    # retries twice with the same key, then gives up with a GatewayError.
    localstripe.edge.lose_responses(3)
    with stripe_app.app_context(), pytest.raises(GatewayError) as failed:
        gateway(stripe_app).start_payment(request)
    assert str(failed.value) == UNREACHABLE
    assert len(localstripe.edge.posts("/v1/payment_intents")) == 3
    assert len(intents(localstripe)) == 1

    # The customer tries again: the same key gets the same intent back.
    with stripe_app.app_context():
        again = gateway(stripe_app).start_payment(request)
    [intent] = intents(localstripe)
    assert again.gateway_payment_id == intent["id"]

    # A 500 before Stripe did anything: nothing is made, "try again".
    localstripe.edge.fail(3)
    other = PaymentRequest(**{**_fields(request), "idempotency_key": "k" * 64})
    with stripe_app.app_context(), pytest.raises(GatewayError, match="try again"):
        gateway(stripe_app).start_payment(other)
    assert len(intents(localstripe)) == 1


def test_a_failed_start_in_the_checkout_says_try_again(
    stripe_app: Flask, yoga_link: PaymentLink, localstripe: LocalStripe
) -> None:
    localstripe.edge.fail(10)
    with pytest.raises(PaymentNotStarted) as refused:
        start(stripe_app, yoga_link, "attempt-0000000000001")
    assert str(refused.value) == UNREACHABLE
    assert intents(localstripe) == []


def _fields(request: PaymentRequest) -> dict[str, Any]:
    return {name: getattr(request, name) for name in request.__dataclass_fields__}
