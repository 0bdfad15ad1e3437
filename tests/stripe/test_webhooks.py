"""Stripe's webhooks, posted to the app signed as Stripe signs them.

Every body is signed with the real scheme: ``Stripe-Signature: t=<unix
time>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>``, verified by
stripe-python's own check; nothing here bypasses verification. The event
bodies follow Stripe's documented Event object (``id``, ``object: "event"``,
``type``, ``created``, ``data.object``, ``account`` for Connect) with a
PaymentIntent or a Charge as the object.

The end-to-end tests at the bottom start **localstripe** (a subprocess of the
venv's entry point, ``--from-scratch`` on a free port, failing the run when
it cannot start), register the served app's URL with it
(``POST /_config/webhooks/<id>``) and let it deliver its own signed
``payment_intent.succeeded`` / ``.payment_failed`` after a real confirm.
Nothing is faked at the HTTP edge here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from flask_paylinks.db.models import GatewayEvent, OutboxItem, Payment
from flask_paylinks.db.session import session
from flask_paylinks.payments import updates, webhooks
from flask_paylinks.payments.followups import FOLLOWUP_KINDS

from ..browser import live_server
from ..checkout.test_concurrency import all_at_once
from ..factories import make_payment
from ..hosts import crm_a
from .localstripe import LocalStripe

SECRET = "whsec_test_hooks_0123456789abcdef"
URL = "/paylinks/webhooks/stripe"
OWNER = "1"

STRIPE_CONFIG = {
    "PAYLINKS_GATEWAY": "stripe",
    "PAYLINKS_STRIPE_SECRET_KEY": "sk_test_hooks0123456789",
    "PAYLINKS_STRIPE_PUBLISHABLE_KEY": "pk_test_hooks0123456789",
    "PAYLINKS_STRIPE_WEBHOOK_SECRET": SECRET,
}


def _app(database_url: str, **config: Any) -> Flask:
    app = crm_a.create_app(database_url, **config)
    with app.app_context():
        crm_a.db.create_all()
    return app


@pytest.fixture
def stripe_app(database_url: str) -> Iterator[Flask]:
    """Host A on the Stripe gateway with a webhook signing secret."""
    app = _app(database_url, **STRIPE_CONFIG)
    yield app
    with app.app_context():
        crm_a.db.session.remove()
        crm_a.db.engine.dispose()


@pytest.fixture
def client(stripe_app: Flask) -> FlaskClient:
    return stripe_app.test_client()


def pending_payment(app: Flask, **fields: Any) -> tuple[int, str]:
    """A pending $10.00 USD Stripe payment of owner 1: its id and PaymentIntent id."""
    intent = f"pi_{secrets.token_hex(12)}"
    with app.app_context():
        payment = make_payment(
            OWNER,
            state="pending",
            gateway="stripe",
            gateway_payment_id=intent,
            **fields,
        )
        return payment.id, intent


def intent_event(
    kind: str,
    intent: str,
    *,
    amount: int = 1000,
    currency: str = "usd",
    event_id: str | None = None,
    account: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A Stripe Event whose object is the PaymentIntent *intent*."""
    status = {
        "payment_intent.succeeded": "succeeded",
        "payment_intent.payment_failed": "requires_payment_method",
        "payment_intent.processing": "processing",
        "payment_intent.canceled": "canceled",
    }.get(kind, "requires_payment_method")
    obj = {
        "id": intent,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount if status == "succeeded" else 0,
        "currency": currency,
        "status": status,
        "livemode": False,
        "last_payment_error": None,
        "cancellation_reason": None,
        "metadata": {},
        **fields,
    }
    return _event(kind, obj, event_id=event_id, account=account)


def charge_event(
    intent: str,
    *,
    amount: int = 1000,
    refunded: int = 1000,
    event_id: str | None = None,
) -> dict[str, Any]:
    """A ``charge.refunded`` Event for the charge of *intent*."""
    obj = {
        "id": f"ch_{secrets.token_hex(12)}",
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": refunded,
        "currency": "usd",
        "payment_intent": intent,
        "refunded": refunded == amount,
        "status": "succeeded",
        "failure_code": None,
        "failure_message": None,
    }
    return _event("charge.refunded", obj, event_id=event_id)


def _event(
    kind: str,
    obj: dict[str, Any],
    *,
    event_id: str | None = None,
    account: str | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": event_id or f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": "2025-01-27.acacia",
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": kind,
    }
    if account is not None:
        event["account"] = account
    return event


def signature(body: bytes, *, secret: str = SECRET, at: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe sends with *body*."""
    stamp = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
    return f"t={stamp},v1={mac.hexdigest()}"


def deliver(
    client: FlaskClient, event: dict[str, Any], **signing: Any
) -> tuple[int, str]:
    """Post *event* signed (freshly, as each redelivery is); status and body."""
    body = json.dumps(event).encode()
    response = client.post(
        URL,
        data=body,
        headers={
            "Stripe-Signature": signature(body, **signing),
            "Content-Type": "application/json",
        },
    )
    return response.status_code, response.get_data(as_text=True)


def state_of(app: Flask, payment_id: int) -> Payment:
    with app.app_context():
        payment = session().get(Payment, payment_id)
        assert payment is not None
        session().expunge(payment)
        return payment


def events(app: Flask) -> list[GatewayEvent]:
    with app.app_context():
        rows = list(session().scalars(select(GatewayEvent).order_by(GatewayEvent.id)))
        session().expunge_all()
        return rows


def outbox_count(app: Flask) -> int:
    with app.app_context():
        return int(session().scalar(select(func.count()).select_from(OutboxItem)) or 0)


def review(row: GatewayEvent) -> dict[str, Any]:
    flag: dict[str, Any] = row.payload[webhooks.REVIEW_KEY]
    return flag


# -- verification: nothing unverified is written ---------------------------------


def test_bad_missing_or_stale_signatures_get_400_and_write_nothing(
    stripe_app: Flask, client: FlaskClient
) -> None:
    payment_id, intent = pending_payment(stripe_app)
    body = json.dumps(intent_event("payment_intent.succeeded", intent)).encode()
    tampered = body.replace(b'"amount": 1000', b'"amount": 1')
    headers = {
        "wrong secret": signature(body, secret="whsec_someone_else"),
        "stale (301 s old)": signature(body, at=int(time.time()) - 301),
        "tampered body": signature(body),
        "garbage": "t=abc,v1=zz",
        "no v1": f"t={int(time.time())}",
    }
    for name, header in headers.items():
        sent = tampered if name == "tampered body" else body
        response = client.post(URL, data=sent, headers={"Stripe-Signature": header})
        assert response.status_code == 400, name
    assert client.post(URL, data=body).status_code == 400  # no header at all
    not_utf8 = b"\xff\xfe" + body
    assert (
        client.post(
            URL, data=not_utf8, headers={"Stripe-Signature": signature(not_utf8)}
        ).status_code
        == 400
    )
    not_an_event = b'["a list"]'
    assert (
        client.post(
            URL,
            data=not_an_event,
            headers={"Stripe-Signature": signature(not_an_event)},
        ).status_code
        == 400
    )
    assert events(stripe_app) == []
    assert state_of(stripe_app, payment_id).state == "pending"


def test_a_signature_within_the_tolerance_is_taken(
    stripe_app: Flask, client: FlaskClient
) -> None:
    payment_id, intent = pending_payment(stripe_app)
    event = intent_event("payment_intent.succeeded", intent)
    assert deliver(client, event, at=int(time.time()) - 240)[0] == 200
    assert state_of(stripe_app, payment_id).state == "succeeded"


def test_the_sandbox_gateway_takes_no_stripe_webhooks(database_url: str) -> None:
    app = _app(database_url)
    body = json.dumps(intent_event("payment_intent.succeeded", "pi_x")).encode()
    response = app.test_client().post(
        URL, data=body, headers={"Stripe-Signature": signature(body)}
    )
    assert response.status_code == 404
    assert events(app) == []
    with app.app_context():
        crm_a.db.engine.dispose()


def test_the_endpoint_passes_a_host_csrf_protection(database_url: str) -> None:
    from flask_wtf.csrf import CSRFProtect

    app = _app(database_url, WTF_CSRF_ENABLED=True, **STRIPE_CONFIG)
    CSRFProtect(app)  # after PayLinks, as many hosts do
    payment_id, intent = pending_payment(app)
    event = intent_event("payment_intent.succeeded", intent)
    assert deliver(app.test_client(), event) == (200, "applied\n")
    assert state_of(app, payment_id).state == "succeeded"
    with app.app_context():
        crm_a.db.engine.dispose()


# -- applied exactly once ----------------------------------------------------------


def test_succeeded_applies_once_and_a_redelivery_changes_nothing(
    stripe_app: Flask, client: FlaskClient
) -> None:
    payment_id, intent = pending_payment(stripe_app)
    event = intent_event("payment_intent.succeeded", intent)
    assert deliver(client, event) == (200, "applied\n")
    paid = state_of(stripe_app, payment_id)
    assert paid.state == "succeeded"
    assert outbox_count(stripe_app) == len(FOLLOWUP_KINDS)
    (row,) = events(stripe_app)
    assert (row.event_id, row.payment_id, row.owner_id) == (
        event["id"],
        payment_id,
        OWNER,
    )
    assert row.processed_at is not None
    assert row.payload["data"]["object"]["id"] == intent

    for _ in range(2):
        assert deliver(client, event) == (200, "duplicate\n")
    again = state_of(stripe_app, payment_id)
    assert (again.state, again.succeeded_at) == ("succeeded", paid.succeeded_at)
    assert len(events(stripe_app)) == 1
    assert outbox_count(stripe_app) == len(FOLLOWUP_KINDS)


def test_two_deliveries_at_once_apply_once(stripe_app: Flask) -> None:
    payment_id, intent = pending_payment(stripe_app)
    event = intent_event("payment_intent.succeeded", intent)
    clients = [stripe_app.test_client() for _ in range(4)]

    results = all_at_once(len(clients), lambda i: deliver(clients[i], event))

    assert [status for status, _ in results] == [200] * len(clients)
    assert state_of(stripe_app, payment_id).state == "succeeded"
    assert len(events(stripe_app)) == 1
    assert outbox_count(stripe_app) == len(FOLLOWUP_KINDS)


def test_a_stale_failure_after_the_success_never_reopens_the_payment(
    stripe_app: Flask, client: FlaskClient
) -> None:
    payment_id, intent = pending_payment(stripe_app)
    assert deliver(client, intent_event("payment_intent.succeeded", intent))[0] == 200
    failed = intent_event(
        "payment_intent.payment_failed",
        intent,
        last_payment_error={"code": "card_declined", "message": "Declined."},
    )
    canceled = intent_event("payment_intent.canceled", intent)
    assert deliver(client, failed)[0] == 200
    assert deliver(client, canceled)[0] == 200
    payment = state_of(stripe_app, payment_id)
    assert (payment.state, payment.failure_code) == ("succeeded", None)
    assert len(events(stripe_app)) == 3  # each recorded, none reopened it
    assert outbox_count(stripe_app) == len(FOLLOWUP_KINDS)


def test_payment_failed_fails_a_pending_payment_with_stripes_reason(
    stripe_app: Flask, client: FlaskClient
) -> None:
    payment_id, intent = pending_payment(stripe_app)
    failed = intent_event(
        "payment_intent.payment_failed",
        intent,
        last_payment_error={
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds.",
            "type": "card_error",
        },
    )
    assert deliver(client, failed) == (200, "applied\n")
    payment = state_of(stripe_app, payment_id)
    assert payment.state == "failed"
    assert payment.failure_code == "insufficient_funds"
    assert payment.failure_message == "Your card has insufficient funds."

    # A success reported after (the customer retried the same PaymentIntent) wins.
    assert deliver(client, intent_event("payment_intent.succeeded", intent))[0] == 200
    assert state_of(stripe_app, payment_id).state == "succeeded"


def test_canceled_fails_a_pending_payment(
    stripe_app: Flask, client: FlaskClient
) -> None:
    payment_id, intent = pending_payment(stripe_app)
    canceled = intent_event(
        "payment_intent.canceled", intent, cancellation_reason="abandoned"
    )
    assert deliver(client, canceled)[0] == 200
    payment = state_of(stripe_app, payment_id)
    assert (payment.state, payment.failure_code) == ("failed", "abandoned")


def test_processing_is_recorded_and_changes_nothing(
    stripe_app: Flask, client: FlaskClient
) -> None:
    payment_id, intent = pending_payment(stripe_app)
    event = intent_event("payment_intent.processing", intent)
    assert deliver(client, event) == (200, "recorded\n")
    assert deliver(client, event) == (200, "duplicate\n")
    assert state_of(stripe_app, payment_id).state == "pending"
    (row,) = events(stripe_app)
    assert (row.payment_id, row.processed_at is not None) == (payment_id, True)


def test_a_partial_refund_raises_the_amount_and_a_full_one_refunds(
    stripe_app: Flask, client: FlaskClient
) -> None:
    payment_id, intent = pending_payment(stripe_app)
    assert deliver(client, intent_event("payment_intent.succeeded", intent))[0] == 200
    partial = charge_event(intent, refunded=400)
    assert deliver(client, partial) == (200, "applied\n")
    assert deliver(client, partial) == (200, "duplicate\n")  # applied once
    payment = state_of(stripe_app, payment_id)
    assert (payment.state, payment.amount_refunded) == ("succeeded", 400)
    assert [row.event_id for row in events(stripe_app)].count(partial["id"]) == 1

    assert deliver(client, charge_event(intent))[0] == 200
    refunded = state_of(stripe_app, payment_id)
    assert (refunded.state, refunded.amount_refunded) == ("refunded", 1000)
    assert refunded.refunded_at is not None
    assert [row for row in events(stripe_app) if row.processed_at is None] == []


def test_a_refund_figure_past_the_total_is_parked(
    stripe_app: Flask, client: FlaskClient
) -> None:
    payment_id, intent = pending_payment(stripe_app)
    assert deliver(client, intent_event("payment_intent.succeeded", intent))[0] == 200
    assert deliver(client, charge_event(intent, refunded=1001)) == (200, "parked\n")
    payment = state_of(stripe_app, payment_id)
    assert (payment.state, payment.amount_refunded) == ("succeeded", 0)
    parked = [row for row in events(stripe_app) if row.processed_at is None]
    assert [review(row)["reason"] for row in parked] == ["refund_amount"]


# -- flagged and parked, never silently dropped ------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency"), [(999, "usd"), (1000, "eur"), (100000, "usd")]
)
def test_an_amount_or_currency_mismatch_is_flagged_not_applied(
    stripe_app: Flask, client: FlaskClient, amount: int, currency: str
) -> None:
    payment_id, intent = pending_payment(stripe_app)
    event = intent_event(
        "payment_intent.succeeded", intent, amount=amount, currency=currency
    )
    assert deliver(client, event) == (200, "parked\n")
    assert state_of(stripe_app, payment_id).state == "pending"
    assert outbox_count(stripe_app) == 0
    (row,) = events(stripe_app)
    assert row.processed_at is None
    assert (row.payment_id, row.owner_id) == (payment_id, OWNER)
    assert review(row)["reason"] == "amount_mismatch"
    assert f"{amount} {currency.upper()}" in review(row)["detail"]
    # Sent again, it stays parked once.
    assert deliver(client, event) == (200, "duplicate\n")
    assert len(events(stripe_app)) == 1


def test_an_event_for_an_unknown_payment_intent_is_parked_and_logged(
    stripe_app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    pending_payment(stripe_app)
    event = intent_event("payment_intent.succeeded", "pi_nobody_knows")
    with caplog.at_level(logging.WARNING, logger="flask_paylinks.payments.webhooks"):
        assert deliver(client, event) == (200, "parked\n")
    assert "parked for review" in caplog.text
    assert event["id"] in caplog.text
    (row,) = events(stripe_app)
    assert (row.processed_at, row.payment_id, row.owner_id) == (None, None, None)
    assert review(row)["reason"] == "unknown_payment_intent"
    with stripe_app.app_context():
        assert [r.event_id for r in webhooks.parked()] == [event["id"]]


def test_a_parked_event_redelivered_once_its_payment_is_known_is_applied(
    stripe_app: Flask, client: FlaskClient
) -> None:
    intent = f"pi_{secrets.token_hex(12)}"
    early = intent_event("payment_intent.succeeded", intent)
    processing = intent_event("payment_intent.processing", intent)
    assert deliver(client, early) == (200, "parked\n")
    assert deliver(client, processing) == (200, "parked\n")
    with stripe_app.app_context():
        payment_id = make_payment(
            OWNER, state="pending", gateway="stripe", gateway_payment_id=intent
        ).id

    assert deliver(client, processing) == (200, "recorded\n")
    assert deliver(client, early) == (200, "applied\n")
    assert state_of(stripe_app, payment_id).state == "succeeded"
    rows = events(stripe_app)
    assert [(r.payment_id, r.processed_at is not None) for r in rows] == [
        (payment_id, True),
        (payment_id, True),
    ]
    with stripe_app.app_context():
        assert webhooks.parked() == []


def test_an_event_from_a_connected_account_no_owner_has_touches_nothing(
    stripe_app: Flask, client: FlaskClient
) -> None:
    payment_id, intent = pending_payment(stripe_app)
    event = intent_event("payment_intent.succeeded", intent, account="acct_stranger")
    assert deliver(client, event) == (200, "parked\n")
    assert state_of(stripe_app, payment_id).state == "pending"
    (row,) = events(stripe_app)
    assert (row.processed_at, row.payment_id, row.owner_id) == (None, None, None)
    assert review(row)["reason"] == "unknown_account"


def test_an_unhandled_event_type_is_parked(
    stripe_app: Flask, client: FlaskClient
) -> None:
    pending_payment(stripe_app)
    event = _event("customer.created", {"id": "cus_1", "object": "customer"})
    assert deliver(client, event) == (200, "parked\n")
    (row,) = events(stripe_app)
    assert review(row)["reason"] == "unhandled_type"


# -- a failing handler: 5xx, nothing kept, the retry applies it ------------------


def test_a_failing_handler_answers_5xx_and_stripes_retry_applies_it(
    stripe_app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    payment_id, intent = pending_payment(stripe_app)
    event = intent_event("payment_intent.succeeded", intent)
    real_on_success = updates._on_success
    calls = 0

    def fails_once(*args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("the handler broke half-way")
        real_on_success(*args, **kwargs)

    monkeypatch.setattr(updates, "_on_success", fails_once)
    status, _ = deliver(client, event)
    assert 500 <= status < 600
    assert events(stripe_app) == []  # the row went with the rolled-back change
    assert state_of(stripe_app, payment_id).state == "pending"
    assert outbox_count(stripe_app) == 0

    assert deliver(client, event) == (200, "applied\n")
    assert state_of(stripe_app, payment_id).state == "succeeded"
    (row,) = events(stripe_app)
    assert row.processed_at is not None
    assert outbox_count(stripe_app) == len(FOLLOWUP_KINDS)


# -- end to end: localstripe signs and delivers its own events --------------------


def register_webhook(localstripe: LocalStripe, url: str, events: list[str]) -> None:
    """Have localstripe deliver *events* to *url*, signed with :data:`SECRET`."""
    requests.post(
        f"{localstripe.url}/_config/webhooks/paylinks-tests",
        json={"url": url, "secret": SECRET, "events": events},
        timeout=10,
    ).raise_for_status()


def wait_for_state(app: Flask, payment_id: int, state: str) -> Payment:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        payment = state_of(app, payment_id)
        if payment.state == state:
            return payment
        time.sleep(0.1)
    raise AssertionError(f"payment {payment_id} never became {state}")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("card", "state", "kind"),
    [
        ("4242424242424242", "succeeded", "payment_intent.succeeded"),
        ("4000000000000341", "failed", "payment_intent.payment_failed"),
    ],
)
def test_localstripe_delivers_signed_events_that_settle_the_payment(
    database_url: str, localstripe: LocalStripe, card: str, state: str, kind: str
) -> None:
    import stripe

    app = _app(database_url, **STRIPE_CONFIG, PAYLINKS_STRIPE_API_BASE=localstripe.url)
    client = stripe.StripeClient(
        STRIPE_CONFIG["PAYLINKS_STRIPE_SECRET_KEY"],
        base_addresses={"api": localstripe.url},
    )
    method = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": card, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    intent = client.v1.payment_intents.create(
        params={"amount": 1000, "currency": "usd", "payment_method": method.id}
    )
    with app.app_context():
        payment_id = make_payment(
            OWNER, state="pending", gateway="stripe", gateway_payment_id=intent.id
        ).id
    with live_server(app) as server:
        register_webhook(
            localstripe,
            f"{server.url}{URL}",
            ["payment_intent.succeeded", "payment_intent.payment_failed"],
        )
        try:
            client.v1.payment_intents.confirm(intent.id)
        except stripe.CardError:
            assert state == "failed"  # localstripe declines at once, then reports
        wait_for_state(app, payment_id, state)
        time.sleep(1.5)  # anything else localstripe sends arrives meanwhile
    rows = events(app)
    assert [(row.type, row.payment_id) for row in rows] == [(kind, payment_id)]
    assert rows[0].processed_at is not None
    assert rows[0].payload["data"]["object"]["id"] == intent.id
    with app.app_context():
        crm_a.db.engine.dispose()


# -- odd shapes, signed as Stripe signs: never a 5xx --------------------------------


def _odd_events(intent: str, subscription: str) -> list[tuple[str, dict[str, Any]]]:
    """Signed events whose fields have shapes Stripe's documentation never shows."""
    sub_obj = {"id": subscription, "object": "subscription", "status": "active"}
    invoice = {
        "id": "in_odd",
        "object": "invoice",
        "billing_reason": "subscription_create",
        "currency": "usd",
        "amount_due": 1000,
        "subscription": subscription,
    }
    odd: list[tuple[str, dict[str, Any]]] = [
        ("object a list", _event("payment_intent.succeeded", [intent])),  # type: ignore[arg-type]
        (
            "amount a string",
            intent_event("payment_intent.succeeded", intent, amount="1000"),
        ),  # type: ignore[arg-type]
        (
            "amount huge",
            intent_event("payment_intent.succeeded", intent, amount=10**40),
        ),
        ("refund huge", {**charge_event(intent, refunded=10**40)}),
        (
            "invoice without parent",
            _event("invoice.paid", {**invoice, "subscription": None}),
        ),
        (
            "invoice amount a string",
            _event("invoice.paid", {**invoice, "amount_due": "1000"}),
        ),
        (
            "invoice currency a list",
            _event("invoice.paid", {**invoice, "currency": ["usd"]}),
        ),
        (
            "status a number",
            _event("customer.subscription.updated", {**sub_obj, "status": 7}),
        ),
        (
            "dispute of a list",
            _event(
                "charge.dispute.created",
                {
                    "object": "dispute",
                    "payment_intent": [intent],
                    "amount": 1000,
                    "currency": "usd",
                },
            ),
        ),
        ("account.updated of a string", _event("account.updated", "acct_1")),  # type: ignore[arg-type]
    ]
    no_created = _event("customer.subscription.updated", sub_obj)
    del no_created["created"]
    odd.append(("created missing", no_created))
    for label, created in [
        ("created huge", 10**15),
        ("created negative", -(10**15)),
        ("created a string", "now"),
    ]:
        ev = _event("customer.subscription.deleted", sub_obj)
        ev["created"] = created
        odd.append((label, ev))
    dispute = _event(
        "charge.dispute.created",
        {
            "id": "dp_1",
            "object": "dispute",
            "payment_intent": intent,
            "amount": 500,
            "currency": "usd",
            "status": "needs_response",
        },
    )
    dispute["created"] = 10**15
    odd.append(("dispute created huge", dispute))
    long_id = intent_event("payment_intent.processing", intent)
    long_id["id"] = "evt_" + "x" * 400
    odd.append(("id past 255", long_id))
    return odd


def test_signed_events_of_odd_shapes_never_answer_5xx(
    stripe_app: Flask, client: FlaskClient
) -> None:
    payment_id, intent = pending_payment(
        stripe_app, gateway_subscription_id="sub_odd_shapes"
    )
    for label, event in _odd_events(intent, "sub_odd_shapes"):
        status, body = deliver(client, event)
        assert status < 500, (label, status, body)
    assert state_of(stripe_app, payment_id).state == "pending"


def test_an_account_that_is_not_a_string_is_parked_not_taken_as_the_platforms(
    stripe_app: Flask, client: FlaskClient
) -> None:
    payment_id, intent = pending_payment(stripe_app)
    event = intent_event("payment_intent.succeeded", intent)
    event["account"] = 12345
    assert deliver(client, event) == (200, "parked\n")
    assert state_of(stripe_app, payment_id).state == "pending"
    (row,) = events(stripe_app)
    assert review(row)["reason"] == "unknown_account"


def test_an_event_id_longer_than_any_stored_is_refused_and_nothing_written(
    stripe_app: Flask, client: FlaskClient
) -> None:
    """PostgreSQL would refuse the row (``event_id`` is 255): a 503 forever."""
    _, intent = pending_payment(stripe_app)
    event = intent_event("payment_intent.succeeded", intent)
    event["id"] = "evt_" + "x" * 300
    assert deliver(client, event)[0] == 400
    assert events(stripe_app) == []


def test_a_future_created_time_holds_no_status_against_newer_reports(
    stripe_app: Flask, client: FlaskClient
) -> None:
    payment_id, _ = pending_payment(stripe_app, gateway_subscription_id="sub_future")
    sub = {"id": "sub_future", "object": "subscription", "status": "past_due"}
    bogus = _event("customer.subscription.updated", sub)
    bogus["created"] = int(time.time()) + 10 * 365 * 86400
    assert deliver(client, bogus)[0] == 200
    fresh = _event("customer.subscription.updated", {**sub, "status": "active"})
    assert deliver(client, fresh)[0] == 200
    assert state_of(stripe_app, payment_id).subscription_status == "active"


@pytest.mark.parametrize(
    "odd",
    [
        b'"amount": NaN',
        b'"amount": Infinity',
        b'"description": "a\\u0000b"',
        b'"amount": ' + b"[" * 100_000 + b"]" * 100_000,  # RecursionError
    ],
)
def test_json_no_database_can_store_is_refused_not_a_5xx(
    stripe_app: Flask, client: FlaskClient, odd: bytes
) -> None:
    """Python reads NaN and ``\\u0000``; JSONB stores neither (a 503 forever)."""
    _, intent = pending_payment(stripe_app)
    body = json.dumps(intent_event("payment_intent.processing", intent)).encode()
    body = body.replace(b'"amount": 1000', odd, 1)
    response = client.post(
        URL,
        data=body,
        headers={
            "Stripe-Signature": signature(body),
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 400
    assert events(stripe_app) == []
