"""Faults around Stripe: Stripe failing as a payment starts, PostgreSQL failing after.

- **Stripe answers 500, or its answers are lost, while the customer presses
  Pay**: through the checkout page (the test client), the customer gets the
  503 page that says nothing was charged and to try again, with the same
  attempt in its form; at most one PaymentIntent exists for the payment; and
  pressing Pay again gets that same PaymentIntent (the same idempotency key).
- **A webhook handler fails**: 5xx, nothing kept, and Stripe's retry applies
  it. That is shown in ``tests/stripe/test_webhooks.py``
  (``test_a_failing_handler_answers_5xx_and_stripes_retry_applies_it``); here
  the failure is the database itself, below.
- **The database fails after Stripe succeeded** (``faults``, real
  PostgreSQL, run with ``--db=postgresql``): PostgreSQL is stopped while the
  signed ``payment_intent.succeeded`` arrives, so the delivery gets a 5xx;
  once PostgreSQL is back, the reconciler recovers the payment: succeeded
  once, one ``payment_succeeded``, and Stripe's redelivery changes nothing.

Faked at the HTTP edge (:mod:`tests.stripe.localstripe`), because localstripe
lacks them: idempotent replay of a POST with an ``Idempotency-Key``, the
PaymentIntent parameters it refuses (echoed back), and the faults themselves
(a 500 before processing; a response lost after processing).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import stripe
from flask import Flask
from sqlalchemy import create_engine, func, select, text

from flask_paylinks import payments, signals
from flask_paylinks.core.pricing import Choices
from flask_paylinks.db import migrate
from flask_paylinks.db.models import OutboxItem, Payment, PaymentLink, utcnow
from flask_paylinks.db.session import session
from flask_paylinks.payments import reconcile
from flask_paylinks.payments.followups import PAYMENT_FOLLOWUP

from ..checkout.conftest import Shop, form_of, priced, submission
from ..faults.test_database_blips import start_database, stop_database
from ..hosts import crm_a
from ..services import postgres_cluster
from .conftest import SECRET_KEY, WEBHOOK_SECRET
from .localstripe import LocalStripe

ADA = payments.Customer(name="Ada Lovelace", email="ada@example.com")


def _app(url: str, stripe_config: dict[str, Any]) -> Flask:
    app = crm_a.create_app(url, **stripe_config)
    with app.app_context():
        crm_a.db.create_all()
    return app


@pytest.fixture
def stripe_app(database_url: str, stripe_config: dict[str, Any]) -> Iterator[Flask]:
    app = _app(database_url, stripe_config)
    yield app
    with app.app_context():
        crm_a.db.session.remove()
        crm_a.db.engine.dispose()


def _link(app: Flask) -> PaymentLink:
    shop = Shop(app)
    yoga = shop.product(name="Yoga class", unit_amount=2500, currency="EUR")
    return shop.link([{"product": yoga, "quantity": 2}])


def _intents(localstripe: LocalStripe) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = localstripe.get(
        "/v1/payment_intents?limit=100", SECRET_KEY
    )["data"]
    return data


def _payments(app: Flask) -> list[Payment]:
    with app.app_context():
        rows = list(session().scalars(select(Payment).order_by(Payment.id)))
        for row in rows:
            session().expunge(row)
        return rows


def _start(app: Flask, link: PaymentLink, attempt: str) -> Payment:
    with app.test_request_context():
        fresh = session().get(PaymentLink, link.id)
        assert fresh is not None
        checkout = payments.start_checkout(
            fresh, choices=Choices(), customer=ADA, attempt=attempt
        )
        session().refresh(checkout.payment)
        session().expunge(checkout.payment)
        return checkout.payment


@pytest.mark.parametrize("fault", ["500", "lost"])
def test_stripe_failing_while_paying_says_try_again_and_paying_again_reuses_the_intent(
    stripe_app: Flask, localstripe: LocalStripe, fault: str
) -> None:
    link = _link(stripe_app)
    _start(stripe_app, link, "attempt-warmup-000001")  # Ada's Customer exists
    client = stripe_app.test_client()
    form = priced(client, link, submission(client, link))
    localstripe.edge.reset()

    # Every try of the client (1 + NETWORK_RETRIES) fails.
    if fault == "500":
        localstripe.edge.fail(3)
    else:
        localstripe.edge.lose_responses(3)
    answer = client.post(f"/pay/{link.slug}", data=form)

    assert answer.status_code == 503
    assert "You have not been charged; please try again." in answer.text
    shown = form_of(answer.text)
    assert shown["attempt"] == form["attempt"]  # Pay again: the same attempt
    payment = _payments(stripe_app)[-1]
    assert (payment.state, payment.gateway_payment_id) == ("pending", None)
    posts = localstripe.edge.posts("/v1/payment_intents")
    assert len(posts) == 3
    assert {p.headers["Idempotency-Key"] for p in posts} == {payment.idempotency_key}
    theirs = [
        i
        for i in _intents(localstripe)
        if i["metadata"].get("paylinks_payment") == str(payment.id)
    ]
    assert len(theirs) == (0 if fault == "500" else 1)

    again = client.post(f"/pay/{link.slug}", data={**form, **shown})
    assert again.status_code == 303, again.text
    [paid] = [p for p in _payments(stripe_app) if p.id == payment.id]
    [intent] = [
        i
        for i in _intents(localstripe)
        if i["metadata"].get("paylinks_payment") == str(payment.id)
    ]
    assert paid.gateway_payment_id == intent["id"]
    if fault == "lost":
        assert intent["id"] == theirs[0]["id"]  # Stripe's replay: the same one
    assert len(_payments(stripe_app)) == 2  # the warm-up and this one


# -- the database fails after Stripe succeeded (real PostgreSQL) -----------------


def _signed(event: dict[str, Any]) -> tuple[bytes, str]:
    body = json.dumps(event).encode()
    stamp = int(time.time())
    mac = hmac.new(WEBHOOK_SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
    return body, f"t={stamp},v1={mac.hexdigest()}"


def _succeeded_event(localstripe: LocalStripe, intent: str) -> dict[str, Any]:
    """Stripe's ``payment_intent.succeeded`` Event around the intent as it is now."""
    now = localstripe.get(f"/v1/payment_intents/{intent}", SECRET_KEY)
    return {
        "id": f"evt_{intent[3:]}",
        "object": "event",
        "api_version": "2025-01-27.acacia",
        "created": int(time.time()),
        "data": {"object": now},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "payment_intent.succeeded",
    }


def _customer_pays(localstripe: LocalStripe, intent: str) -> None:
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
    client.v1.payment_intents.update(intent, {"payment_method": method.id})
    client.v1.payment_intents.confirm(intent)


@pytest.mark.slow
@pytest.mark.faults
def test_the_reconciler_recovers_a_payment_whose_webhook_met_a_dead_database(
    localstripe: LocalStripe, stripe_config: dict[str, Any]
) -> None:
    with postgres_cluster() as cluster:
        admin = create_engine(cluster.admin_url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text('CREATE DATABASE "stripe_faults"'))
        admin.dispose()
        url = cluster.url("stripe_faults")
        engine = create_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        app = _app(url, stripe_config)
        heard: list[int] = []

        def count(sender: Any, payment: Payment, **extra: Any) -> None:
            heard.append(payment.id)

        signals.payment_succeeded.connect(count)
        try:
            _recover(app, localstripe, cluster, heard)
        finally:
            signals.payment_succeeded.disconnect(count)
            with app.app_context():
                crm_a.db.session.remove()
                crm_a.db.engine.dispose()


def _recover(
    app: Flask, localstripe: LocalStripe, cluster: Any, heard: list[int]
) -> None:
    link = _link(app)
    payment = _start(app, link, "attempt-dead-database-1")
    intent = payment.gateway_payment_id
    assert intent is not None
    _customer_pays(localstripe, intent)
    body, signature = _signed(_succeeded_event(localstripe, intent))
    client = app.test_client()

    options = stop_database(cluster)
    try:
        delivered = client.post(
            "/paylinks/webhooks/stripe",
            data=body,
            headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
        )
        assert 500 <= delivered.status_code < 600
    finally:
        start_database(cluster, options)

    with app.app_context():
        waiting = session().get(Payment, payment.id)
        assert waiting is not None
        assert waiting.state == "pending"
        first = reconcile.reconcile(older_than=timedelta(0), now=utcnow())
        second = reconcile.reconcile(older_than=timedelta(0), now=utcnow())
    assert (first.succeeded, second.looked_up) == (1, 0)
    assert heard == [payment.id]

    # Stripe retries the delivery later: taken, nothing changes.
    body, signature = _signed(json.loads(body))
    again = client.post(
        "/paylinks/webhooks/stripe",
        data=body,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )
    assert again.status_code == 200
    with app.app_context():
        row = session().get(Payment, payment.id)
        assert row is not None
        assert row.state == "succeeded"
        followups = session().scalar(
            select(func.count())
            .select_from(OutboxItem)
            .where(OutboxItem.kind == PAYMENT_FOLLOWUP)
        )
    assert followups == 1
    assert heard == [payment.id]
