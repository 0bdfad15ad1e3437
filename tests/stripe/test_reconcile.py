"""The reconciler and the receipt's real-state check, against localstripe.

Payments start through the checkout's own service on a real localstripe;
the customer's part (confirming the PaymentIntent with a test card) is done
on localstripe directly, as Stripe.js would, and no webhook is delivered:
the reconciler (or the receipt page) has to find out by asking.

Faked at the HTTP edge (:mod:`tests.stripe.localstripe`), because localstripe
lacks them: idempotent replay of a POST with an ``Idempotency-Key``,
``automatic_payment_methods``/``description``/``reason`` echoed, and ``GET
/v1/payment_intents/search`` (Stripe's Search, a ``search_result`` answered
from localstripe's own PaymentIntents; used for a payment whose
PaymentIntent id was never stored).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import stripe
from flask import Flask
from sqlalchemy import func, select

from flask_paylinks import payments
from flask_paylinks.db.models import (
    GatewayEvent,
    OutboxItem,
    Payment,
    PaymentLink,
    Product,
    Refund,
    utcnow,
)
from flask_paylinks.db.session import session
from flask_paylinks.gateways.base import GatewayError
from flask_paylinks.payments import reconcile, refunds
from flask_paylinks.payments.followups import FOLLOWUP_KINDS
from flask_paylinks.payments.webhooks import REVIEW_KEY
from flask_paylinks.web.checkout.receipt_links import receipt_token

from ..checkout.conftest import Shop
from ..hosts import crm_a
from .conftest import SECRET_KEY
from .localstripe import LocalStripe
from .test_payment_intents import start as start_checkout

ADA = payments.Customer(name="Ada Lovelace", email="ada@example.com")
PAID_CARD = "4242424242424242"
#: Attaches, then its charge is declined (Stripe's and localstripe's test number).
DECLINED_CARD = "4000000000000341"


@pytest.fixture
def link(shop: Shop) -> PaymentLink:
    yoga: Product = shop.product(name="Yoga class", unit_amount=2500, currency="EUR")
    return shop.link([{"product": yoga, "quantity": 2}])


def start(app: Flask, link: PaymentLink, attempt: str) -> Payment:
    """A pending payment, its PaymentIntent made on localstripe by the checkout."""
    payment = start_checkout(app, link, attempt, ADA).payment
    assert payment.gateway_payment_id
    return payment


def customer_pays(localstripe: LocalStripe, intent: str, card: str) -> None:
    """What Stripe.js does with the customer's card: confirm the PaymentIntent."""
    client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": localstripe.url})
    method = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": card, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    # localstripe confirms only an intent that has its payment method already.
    client.v1.payment_intents.update(intent, {"payment_method": method.id})
    try:
        client.v1.payment_intents.confirm(intent)
    except stripe.CardError:
        assert card == DECLINED_CARD


def age(app: Flask, payment_id: int, minutes: int = 11) -> None:
    with app.app_context():
        row = session().get(Payment, payment_id)
        assert row is not None
        row.created_at = utcnow() - timedelta(minutes=minutes)
        session().commit()


def row_of(app: Flask, payment_id: int) -> Payment:
    with app.app_context():
        row = session().get(Payment, payment_id)
        assert row is not None
        session().expunge(row)
        return row


def run(app: Flask, **kwargs: Any) -> reconcile.Reconciled:
    with app.app_context():
        return reconcile.reconcile(**kwargs)


def count(app: Flask, model: Any) -> int:
    with app.app_context():
        return int(session().scalar(select(func.count()).select_from(model)) or 0)


def events(app: Flask) -> list[tuple[str, str, bool]]:
    with app.app_context():
        rows = session().scalars(select(GatewayEvent).order_by(GatewayEvent.id))
        return [(r.event_id, r.type, r.processed_at is not None) for r in rows]


def lookups(localstripe: LocalStripe, intent: str) -> int:
    path = f"/v1/payment_intents/{intent}"
    return sum(
        1 for r in localstripe.edge.requests if r.method == "GET" and r.path == path
    )


def test_a_paid_intent_is_reconciled_to_succeeded_once(
    stripe_app: Flask, link: PaymentLink, localstripe: LocalStripe
) -> None:
    payment = start(stripe_app, link, "attempt-reconcile-0001")
    intent = payment.gateway_payment_id
    assert intent is not None
    customer_pays(localstripe, intent, PAID_CARD)
    age(stripe_app, payment.id)

    first = run(stripe_app)
    assert (first.looked_up, first.succeeded) == (1, 1)
    row = row_of(stripe_app, payment.id)
    assert row.state == "succeeded"
    assert row.succeeded_at is not None
    assert count(stripe_app, OutboxItem) == len(FOLLOWUP_KINDS)
    assert events(stripe_app) == [
        (f"lookup:{intent}:succeeded", "payment_intent.succeeded", True)
    ]

    # Succeeded payments are not pending any more: the next run asks nothing.
    again = run(stripe_app)
    assert again.looked_up == 0
    assert count(stripe_app, OutboxItem) == len(FOLLOWUP_KINDS)


def test_applying_the_same_lookup_twice_applies_it_once(
    stripe_app: Flask, link: PaymentLink, localstripe: LocalStripe
) -> None:
    payment = start(stripe_app, link, "attempt-reconcile-0002")
    intent = payment.gateway_payment_id
    assert intent is not None
    customer_pays(localstripe, intent, PAID_CARD)
    with stripe_app.app_context():
        gateway = stripe_app.extensions["paylinks"].gateway
        reported = gateway.look_up(intent, payment.owner_id)
        assert reported is not None
        assert (reported.amount, reported.currency) == (5000, "EUR")
        first = payments.apply_update("stripe", reported)
        assert first is not None
        second = reconcile._apply(payment.id, reported)
    assert second == "unchanged"
    assert row_of(stripe_app, payment.id).state == "succeeded"
    assert count(stripe_app, OutboxItem) == len(FOLLOWUP_KINDS)
    assert len(events(stripe_app)) == 1


def test_a_declined_intent_is_reconciled_to_failed(
    stripe_app: Flask, link: PaymentLink, localstripe: LocalStripe
) -> None:
    payment = start(stripe_app, link, "attempt-reconcile-0003")
    assert payment.gateway_payment_id is not None
    customer_pays(localstripe, payment.gateway_payment_id, DECLINED_CARD)
    age(stripe_app, payment.id)

    done = run(stripe_app)
    assert (done.looked_up, done.failed) == (1, 1)
    row = row_of(stripe_app, payment.id)
    assert row.state == "failed"
    assert row.failure_code == "card_declined"
    assert row.failure_message
    assert count(stripe_app, OutboxItem) == 0


def test_unpaid_and_young_payments_are_left_alone(
    stripe_app: Flask, link: PaymentLink, localstripe: LocalStripe
) -> None:
    waiting = start(stripe_app, link, "attempt-reconcile-0004")
    young = start(stripe_app, link, "attempt-reconcile-0005")
    assert young.gateway_payment_id is not None
    customer_pays(localstripe, young.gateway_payment_id, PAID_CARD)
    age(stripe_app, waiting.id)
    age(stripe_app, young.id, minutes=9)  # under PAYLINKS_RECONCILE_AFTER_MINUTES

    done = run(stripe_app)
    assert (done.looked_up, done.still_pending, done.succeeded) == (1, 1, 0)
    assert row_of(stripe_app, waiting.id).state == "pending"
    assert row_of(stripe_app, young.id).state == "pending"
    assert lookups(localstripe, young.gateway_payment_id) == 0
    assert events(stripe_app) == []

    # Asked with a shorter age, the young one is reconciled too.
    done = run(stripe_app, older_than=timedelta(minutes=5))
    assert done.succeeded == 1
    assert row_of(stripe_app, young.id).state == "succeeded"


def test_an_amount_mismatch_is_parked_not_applied(
    stripe_app: Flask, link: PaymentLink, localstripe: LocalStripe
) -> None:
    payment = start(stripe_app, link, "attempt-reconcile-0006")
    intent = payment.gateway_payment_id
    assert intent is not None
    customer_pays(localstripe, intent, PAID_CARD)
    with stripe_app.app_context():
        row = session().get(Payment, payment.id)
        assert row is not None
        row.amount_total = 4000  # not what Stripe charged
        row.created_at = utcnow() - timedelta(minutes=30)
        session().commit()

    assert run(stripe_app).parked == 1
    assert run(stripe_app).parked == 1  # looked up again, parked once
    assert row_of(stripe_app, payment.id).state == "pending"
    assert count(stripe_app, OutboxItem) == 0
    assert events(stripe_app) == [
        (f"lookup:{intent}:succeeded", "payment_intent.succeeded", False)
    ]
    with stripe_app.app_context():
        parked = session().scalars(select(GatewayEvent)).one()
        assert parked.payload[REVIEW_KEY]["reason"] == "amount_mismatch"
        assert "5000 EUR" in parked.payload[REVIEW_KEY]["detail"]


def test_a_payment_whose_intent_id_was_never_stored_is_found_by_its_metadata(
    stripe_app: Flask, link: PaymentLink, localstripe: LocalStripe
) -> None:
    payment = start(stripe_app, link, "attempt-reconcile-0007")
    intent = payment.gateway_payment_id
    assert intent is not None
    with stripe_app.app_context():  # the database failed before the id was stored
        row = session().get(Payment, payment.id)
        assert row is not None
        row.gateway_payment_id = None
        row.created_at = utcnow() - timedelta(minutes=30)
        session().commit()

    done = run(stripe_app)
    assert (done.found, done.still_pending) == (1, 1)
    assert row_of(stripe_app, payment.id).gateway_payment_id == intent
    [search] = [
        r for r in localstripe.edge.requests if r.path == "/v1/payment_intents/search"
    ]
    assert search.method == "GET"
    # The customer never got its client secret, so nothing was paid on it;
    # were it paid, the next run would apply it like any other.
    assert row_of(stripe_app, payment.id).state == "pending"


def _succeeded_payment(
    app: Flask, link: PaymentLink, localstripe: LocalStripe, attempt: str
) -> Payment:
    payment = start(app, link, attempt)
    assert payment.gateway_payment_id is not None
    customer_pays(localstripe, payment.gateway_payment_id, PAID_CARD)
    with app.app_context():
        assert reconcile.reconcile_payment(payment.id) == "succeeded"
    return row_of(app, payment.id)


def _refunds_on_localstripe(localstripe: LocalStripe) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = localstripe.get("/v1/refunds?limit=100", SECRET_KEY)[
        "data"
    ]
    return data


def _claimed_refund(app: Flask, payment: Payment, amount: int, key: str) -> int:
    """A refund claimed and stored, its gateway call never made (the crash)."""
    with app.app_context():
        row = session().get(Payment, payment.id)
        assert row is not None
        refund, made = refunds._claim(row, amount, "requested_by_customer", "", key)
        assert made
        refund.created_at = utcnow() - timedelta(minutes=30)
        session().commit()
        return refund.id


def test_a_refund_left_pending_is_settled_with_one_gateway_refund(
    stripe_app: Flask, link: PaymentLink, localstripe: LocalStripe
) -> None:
    payment = _succeeded_payment(stripe_app, link, localstripe, "attempt-refund-0001")
    refund_id = _claimed_refund(stripe_app, payment, 1500, "k" * 32)
    assert row_of(stripe_app, payment.id).amount_refunded == 1500

    done = run(stripe_app)
    assert (done.refunds_succeeded, done.errors) == (1, 0)
    with stripe_app.app_context():
        refund = session().get(Refund, refund_id)
        assert refund is not None
        assert refund.state == "succeeded"
        assert refund.gateway_refund_id
    assert run(stripe_app).refunds_succeeded == 0
    [made] = _refunds_on_localstripe(localstripe)
    assert made["amount"] == 1500
    assert row_of(stripe_app, payment.id).amount_refunded == 1500
    assert row_of(stripe_app, payment.id).state == "succeeded"


def test_a_refund_stripe_made_before_the_crash_is_not_made_twice(
    stripe_app: Flask, link: PaymentLink, localstripe: LocalStripe
) -> None:
    payment = _succeeded_payment(stripe_app, link, localstripe, "attempt-refund-0002")
    refund_id = _claimed_refund(stripe_app, payment, 5000, "r" * 32)
    # The gateway call went out and Stripe refunded; our answer was lost.
    localstripe.edge.lose_responses(3)
    with stripe_app.app_context():
        refund = session().get(Refund, refund_id)
        assert refund is not None
        paid = session().get(Payment, payment.id)
        assert paid is not None
        with pytest.raises(GatewayError):
            stripe_app.extensions["paylinks"].gateway.refund(
                refunds._request(paid, refund)
            )
    assert len(_refunds_on_localstripe(localstripe)) == 1

    assert run(stripe_app).refunds_succeeded == 1
    assert len(_refunds_on_localstripe(localstripe)) == 1
    row = row_of(stripe_app, payment.id)
    assert (row.state, row.amount_refunded) == ("refunded", 5000)


def test_a_refund_stays_pending_while_stripe_is_unreachable(
    stripe_app: Flask, link: PaymentLink, localstripe: LocalStripe
) -> None:
    payment = _succeeded_payment(stripe_app, link, localstripe, "attempt-refund-0003")
    refund_id = _claimed_refund(stripe_app, payment, 1000, "u" * 32)
    localstripe.edge.fail(10)
    done = run(stripe_app)
    assert (done.refunds_succeeded, done.errors) == (0, 1)
    with stripe_app.app_context():
        refund = session().get(Refund, refund_id)
        assert refund is not None
        assert refund.state == "pending"
    localstripe.edge.fail(0)
    assert run(stripe_app).refunds_succeeded == 1
    assert len(_refunds_on_localstripe(localstripe)) == 1


# -- the receipt page: never the query string -------------------------------------


def receipt_url(app: Flask, link: PaymentLink, payment: Payment) -> str:
    with app.app_context():
        token = receipt_token(payment.reference)
    return f"/pay/{link.slug}/receipt/{token}"


def test_a_forged_redirect_status_on_an_unpaid_intent_shows_no_receipt(
    stripe_app: Flask, link: PaymentLink, localstripe: LocalStripe
) -> None:
    payment = start(stripe_app, link, "attempt-receipt-0001")
    intent = payment.gateway_payment_id
    assert intent is not None
    client = stripe_app.test_client()
    url = receipt_url(stripe_app, link, payment)
    forged = f"{url}?payment_intent={intent}&redirect_status=succeeded"

    page = client.get(forged)
    assert page.status_code == 200
    assert "Confirming your payment" in page.text
    assert "Payment received" not in page.text
    assert row_of(stripe_app, payment.id).state == "pending"
    assert lookups(localstripe, intent) == 1

    # Reloads within a few seconds do not ask Stripe again.
    client.get(forged)
    client.get(forged)
    assert lookups(localstripe, intent) == 1


def test_a_forged_success_on_a_declined_intent_shows_the_failure(
    stripe_app: Flask, link: PaymentLink, localstripe: LocalStripe
) -> None:
    payment = start(stripe_app, link, "attempt-receipt-0002")
    assert payment.gateway_payment_id is not None
    customer_pays(localstripe, payment.gateway_payment_id, DECLINED_CARD)
    url = receipt_url(stripe_app, link, payment)
    page = stripe_app.test_client().get(
        f"{url}?payment_intent={payment.gateway_payment_id}&redirect_status=succeeded"
    )
    assert "Your payment didn't go through" in page.text
    assert "Try again" in page.text
    assert "Payment received" not in page.text
    assert row_of(stripe_app, payment.id).state == "failed"


def test_back_from_stripe_after_paying_the_receipt_shows_it_paid(
    stripe_app: Flask, link: PaymentLink, localstripe: LocalStripe
) -> None:
    payment = start(stripe_app, link, "attempt-receipt-0003")
    intent = payment.gateway_payment_id
    assert intent is not None
    customer_pays(localstripe, intent, PAID_CARD)
    url = receipt_url(stripe_app, link, payment)
    page = stripe_app.test_client().get(
        f"{url}?payment_intent={intent}&redirect_status=succeeded"
    )
    assert "Payment received" in page.text
    assert payment.reference in page.text
    assert row_of(stripe_app, payment.id).state == "succeeded"
    assert count(stripe_app, OutboxItem) == len(FOLLOWUP_KINDS)


# -- the command ---------------------------------------------------------------


def test_the_command_says_what_it_did(
    stripe_app: Flask, link: PaymentLink, localstripe: LocalStripe
) -> None:
    paid = start(stripe_app, link, "attempt-command-0001")
    waiting = start(stripe_app, link, "attempt-command-0002")
    assert paid.gateway_payment_id is not None
    customer_pays(localstripe, paid.gateway_payment_id, PAID_CARD)
    age(stripe_app, paid.id, minutes=4)
    age(stripe_app, waiting.id, minutes=4)
    cli = stripe_app.test_cli_runner()

    nothing = cli.invoke(args=["paylinks", "reconcile"])
    assert nothing.exit_code == 0, nothing.output
    assert "Looked up 0 pending payments" in nothing.output

    result = cli.invoke(args=["paylinks", "reconcile", "--older-than", "3"])
    assert result.exit_code == 0, result.output
    assert (
        "Looked up 2 pending payments: 1 succeeded, 0 failed, 1 still pending at "
        "the gateway, 0 parked for review." in result.output
    )
    assert "pending payments abandoned." in result.output
    assert row_of(stripe_app, paid.id).state == "succeeded"

    bad = cli.invoke(args=["paylinks", "reconcile", "--older-than", "0"])
    assert bad.exit_code == 2
    assert "--older-than" in bad.output


# -- the worker runs it from its sweep loop -------------------------------------


@pytest.mark.slow
def test_the_worker_reconciles_from_its_sweep_loop(
    database_url: str,
    stripe_config: dict[str, Any],
    redis_url: str,
    localstripe: LocalStripe,
) -> None:
    from flask_paylinks.jobs.queue import run_worker

    app = crm_a.create_app(database_url, **stripe_config, PAYLINKS_REDIS_URL=redis_url)
    with app.app_context():
        crm_a.db.create_all()
    try:
        shop = Shop(app)
        product = shop.product(name="Yoga class", unit_amount=2500, currency="EUR")
        link = shop.link([{"product": product, "quantity": 2}])
        payment = start(app, link, "attempt-worker-00001")
        waiting = start(app, link, "attempt-worker-00002")
        assert payment.gateway_payment_id is not None
        assert waiting.gateway_payment_id is not None
        customer_pays(localstripe, payment.gateway_payment_id, PAID_CARD)
        age(app, payment.id)
        age(app, waiting.id)

        run_worker(app, burst=True)
        assert row_of(app, payment.id).state == "succeeded"
        assert row_of(app, waiting.id).state == "pending"
        assert lookups(localstripe, waiting.gateway_payment_id) == 1

        # Not due again before PAYLINKS_RECONCILE_SECONDS: no second look-up.
        run_worker(app, burst=True)
        assert lookups(localstripe, waiting.gateway_payment_id) == 1
    finally:
        with app.app_context():
            crm_a.db.session.remove()
            crm_a.db.engine.dispose()
