"""Refunds on Stripe: made through localstripe, reported back by ``charge.refunded``.

Everything runs against a real localstripe process through the test edge
(:mod:`tests.stripe.localstripe`), which replays a POST with an
``Idempotency-Key`` as Stripe does and keeps ``reason`` (which localstripe
refuses) off the request it forwards, putting it back on the Refund.

localstripe sends no ``charge.refunded`` event. Its body here is the Charge
localstripe itself holds after the refund (``GET /v1/charges/<id>``), wrapped
in Stripe's documented Event object and signed as Stripe signs
(``t=…,v1=HMAC-SHA256``), then posted to the app's webhook endpoint: a refund
made in Stripe's own dashboard, with no refund row of ours.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
import stripe
from flask import Flask
from flask.testing import FlaskClient

from flask_paylinks.core.errors import InvalidInput
from flask_paylinks.db.models import Payment, Refund
from flask_paylinks.db.session import session
from flask_paylinks.gateways.base import GatewayError, RefundRequest
from flask_paylinks.gateways.stripe import StripeGateway
from flask_paylinks.payments import refunds

from ..factories import make_payment
from .conftest import SECRET_KEY, WEBHOOK_SECRET
from .localstripe import LocalStripe
from .test_webhooks import URL, _event, signature

OWNER = "1"


def paid_intent(localstripe: LocalStripe, amount: int = 1000) -> str:
    """A PaymentIntent paid with Stripe's 4242 test card on localstripe."""
    client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": localstripe.url})
    method = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {
                "number": "4242424242424242",
                "exp_month": 12,
                "exp_year": 2034,
                "cvc": "123",
            },
        }
    )
    intent = client.v1.payment_intents.create(
        params={"amount": amount, "currency": "usd", "payment_method": method.id}
    )
    confirmed = client.v1.payment_intents.confirm(intent.id)
    assert confirmed.status == "succeeded"
    return intent.id


def paid_payment(app: Flask, intent: str) -> int:
    with app.app_context():
        return make_payment(OWNER, gateway="stripe", gateway_payment_id=intent).id


def do_refund(app: Flask, payment_id: int, amount: int, key: str) -> Refund:
    with app.app_context():
        row = refunds.refund(OWNER, payment_id, amount, "duplicate", "", key)
        session().expunge(row)
        return row


def payment_of(app: Flask, payment_id: int) -> Payment:
    with app.app_context():
        row = session().get(Payment, payment_id)
        assert row is not None
        session().expunge(row)
        return row


def stripe_refunds(localstripe: LocalStripe, intent: str) -> list[dict[str, Any]]:
    listed = localstripe.get(f"/v1/refunds?payment_intent={intent}", SECRET_KEY)
    data: list[dict[str, Any]] = listed["data"]
    return data


def test_a_partial_then_full_refund_on_stripe(
    stripe_app: Flask, localstripe: LocalStripe
) -> None:
    intent = paid_intent(localstripe)
    payment_id = paid_payment(stripe_app, intent)
    localstripe.edge.reset()
    key = secrets.token_hex(16)
    first = do_refund(stripe_app, payment_id, 400, key)
    assert first.state == "succeeded"
    assert first.gateway_refund_id
    assert first.gateway_refund_id.startswith("re_")
    again = do_refund(stripe_app, payment_id, 400, key)  # the double click
    assert again.id == first.id
    (post,) = localstripe.edge.posts("/v1/refunds")
    assert post.headers["Idempotency-Key"] == key
    assert (post.field("payment_intent"), post.field("amount")) == (intent, "400")
    assert post.field("reason") == "duplicate"
    (made,) = stripe_refunds(localstripe, intent)
    assert (made["id"], made["amount"], made["status"]) == (
        first.gateway_refund_id,
        400,
        "succeeded",
    )
    payment = payment_of(stripe_app, payment_id)
    assert (payment.state, payment.amount_refunded) == ("succeeded", 400)

    rest = do_refund(stripe_app, payment_id, 600, secrets.token_hex(16))
    assert rest.state == "succeeded"
    assert sorted(r["amount"] for r in stripe_refunds(localstripe, intent)) == [
        400,
        600,
    ]
    payment = payment_of(stripe_app, payment_id)
    assert (payment.state, payment.amount_refunded) == ("refunded", 1000)


def test_stripe_refusing_gives_the_amount_back(
    stripe_app: Flask, localstripe: LocalStripe
) -> None:
    payment_id = paid_payment(stripe_app, "pi_" + secrets.token_hex(12))  # unknown
    row = do_refund(stripe_app, payment_id, 1000, secrets.token_hex(16))
    assert row.state == "failed"
    assert row.failure_message
    assert row.failure_message.startswith("Stripe refused the refund")
    payment = payment_of(stripe_app, payment_id)
    assert (payment.state, payment.amount_refunded) == ("succeeded", 0)


def test_stripe_down_is_a_gateway_error(
    stripe_app: Flask, localstripe: LocalStripe
) -> None:
    intent = paid_intent(localstripe)
    localstripe.edge.fail(10)  # every try, retries included
    with stripe_app.app_context():
        gateway = stripe_app.extensions["paylinks"].gateway
        assert isinstance(gateway, StripeGateway)
        request = RefundRequest(intent, 100, "USD", "duplicate", secrets.token_hex(16))
        with pytest.raises(
            GatewayError, match="Stripe did not answer; the refund is asked again"
        ):
            gateway.refund(request)
    localstripe.edge.reset()
    assert stripe_refunds(localstripe, intent) == []


def charge_refunded(localstripe: LocalStripe, intent: str) -> dict[str, Any]:
    """``charge.refunded`` with localstripe's own Charge of *intent* as it is now."""
    got = localstripe.get(f"/v1/payment_intents/{intent}", SECRET_KEY)
    charge_id = got["latest_charge"]
    charge_id = charge_id["id"] if isinstance(charge_id, dict) else charge_id
    charge = localstripe.get(f"/v1/charges/{charge_id}", SECRET_KEY)
    charge.setdefault("payment_intent", intent)
    return _event("charge.refunded", charge)


def deliver(client: FlaskClient, event: dict[str, Any]) -> tuple[int, str]:

    body = json.dumps(event).encode()
    response = client.post(
        URL,
        data=body,
        headers={
            "Stripe-Signature": signature(body, secret=WEBHOOK_SECRET),
            "Content-Type": "application/json",
        },
    )
    return response.status_code, response.get_data(as_text=True)


def test_a_refund_made_in_stripes_dashboard_is_reflected(
    stripe_app: Flask, localstripe: LocalStripe
) -> None:
    intent = paid_intent(localstripe)
    payment_id = paid_payment(stripe_app, intent)
    dashboard = stripe.StripeClient(SECRET_KEY, base_addresses={"api": localstripe.url})
    dashboard.v1.refunds.create({"payment_intent": intent, "amount": 300})
    event = charge_refunded(localstripe, intent)
    assert event["data"]["object"]["amount_refunded"] == 300
    client = stripe_app.test_client()
    assert deliver(client, event) == (200, "applied\n")
    payment = payment_of(stripe_app, payment_id)
    assert (payment.state, payment.amount_refunded) == ("succeeded", 300)
    with stripe_app.app_context():
        assert refunds.refunds_of(OWNER, payment_id) == []  # none of ours

    dashboard.v1.refunds.create({"payment_intent": intent, "amount": 700})
    assert deliver(client, charge_refunded(localstripe, intent)) == (
        200,
        "applied\n",
    )
    payment = payment_of(stripe_app, payment_id)
    assert (payment.state, payment.amount_refunded) == ("refunded", 1000)


def test_stripes_figure_never_lowers_ours(
    stripe_app: Flask, localstripe: LocalStripe
) -> None:
    intent = paid_intent(localstripe)
    payment_id = paid_payment(stripe_app, intent)
    do_refund(stripe_app, payment_id, 200, secrets.token_hex(16))
    stale = charge_refunded(localstripe, intent)  # says 200
    do_refund(stripe_app, payment_id, 500, secrets.token_hex(16))
    client = stripe_app.test_client()
    assert deliver(client, stale) == (200, "applied\n")
    assert payment_of(stripe_app, payment_id).amount_refunded == 700
    assert deliver(client, charge_refunded(localstripe, intent))[0] == 200
    payment = payment_of(stripe_app, payment_id)
    assert (payment.state, payment.amount_refunded) == ("succeeded", 700)


def test_a_lost_answer_leaves_the_refund_pending_never_refunded_twice(
    stripe_app: Flask, localstripe: LocalStripe
) -> None:
    """Stripe made the refund but every answer was lost: the claim is kept.

    Giving the amount back would tell the merchant "nothing was refunded"
    and let a second form refund it again; the refund stays pending, and
    asking again with its own key settles it with Stripe's one refund.
    """
    intent = paid_intent(localstripe)
    payment_id = paid_payment(stripe_app, intent)
    localstripe.edge.lose_responses(3)  # the first try and both retries
    row = do_refund(stripe_app, payment_id, 400, secrets.token_hex(16))
    assert row.state == "pending"
    assert len(stripe_refunds(localstripe, intent)) == 1
    assert payment_of(stripe_app, payment_id).amount_refunded == 400
    with stripe_app.app_context(), pytest.raises(InvalidInput) as refused:
        refunds.refund(OWNER, payment_id, 700, "duplicate", "", secrets.token_hex(16))
    assert refused.value.errors["amount"].startswith("At most $6.00")

    with stripe_app.app_context():
        pending = session().get(Refund, row.id)
        assert pending is not None
        settled = refunds.settle_pending(pending)
        assert settled.state == "succeeded"
    assert len(stripe_refunds(localstripe, intent)) == 1
    payment = payment_of(stripe_app, payment_id)
    assert (payment.state, payment.amount_refunded) == ("succeeded", 400)
