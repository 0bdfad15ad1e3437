"""Stripe's subscription, invoice and dispute events, applied to their payment.

A subscription's payment is found by its ``gateway_subscription_id`` (the
invoice names its subscription under ``parent.subscription_details``); a
dispute's by its PaymentIntent, as one-time payments are.

- ``invoice.paid``: the first invoice (``billing_reason`` ``subscription_create``)
  succeeds the payment through :func:`~.updates.apply_event`, like
  ``payment_intent.succeeded`` (whichever comes second changes nothing);
  any invoice makes the subscription ``active``.
- ``invoice.payment_failed``: the first invoice fails the payment; a later
  one makes the subscription ``past_due``.
- ``customer.subscription.updated``: the subscription's status as Stripe
  reports it; ``.deleted``: ``canceled``.
- ``charge.dispute.created``: the dispute's id, amount, reason and status
  are kept on the payment.

Every status is held with the ``created`` time of the event that reported it
and replaced only by a report at least as new (at the same second,
``canceled`` stays), so an older ``subscription.updated`` delivered late
never overwrites a newer one. The first invoice's amount and currency, and a
dispute's currency (and an amount no larger than the payment), are checked
against the payment: a mismatch is parked for review, like an unknown
subscription. Each event is stored once, with what it changed, in one
transaction; a redelivery changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select, true, update

from flask_paylinks.db.models import Payment
from flask_paylinks.db.session import session
from flask_paylinks.gateways.base import Outcome, PaymentUpdate, StripeEvent
from flask_paylinks.payments.updates import apply_event

if TYPE_CHECKING:
    from flask_paylinks.payments.webhooks import Received

#: The event types this module handles.
EVENTS = frozenset(
    {
        "invoice.paid",
        "invoice.payment_failed",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "charge.dispute.created",
    }
)
#: The ``billing_reason`` of a subscription's first invoice.
FIRST_INVOICE = "subscription_create"
CANCELED = "canceled"


def receive(event: StripeEvent, owner: str | None = None) -> Received:
    """Apply one of :data:`EVENTS` (see the module's text); what was done.

    *owner* is the owner of the connected account the event came from
    (Stripe Connect): a payment of another owner is never touched.
    """
    obj = event.raw.get("data", {}).get("object")
    obj = obj if isinstance(obj, Mapping) else {}
    if event.type.startswith("invoice."):
        return _invoice(event, obj, owner)
    if event.type.startswith("customer.subscription."):
        return _subscription(event, obj, owner)
    return _dispute(event, obj, owner)


def _foreign(event: StripeEvent, payment: Payment, owner: str | None) -> bool:
    """Whether *payment* belongs to another owner than the event's account's."""
    return owner is not None and payment.owner_id != owner


def _park_foreign(event: StripeEvent, payment: Payment) -> Received:
    from flask_paylinks.payments import webhooks as hooks  # imports this module

    return hooks._park(
        event,
        None,
        "account_mismatch",
        f"payment {payment.id} is not of the owner of account {event.account}",
    )


def _invoice(
    event: StripeEvent, invoice: Mapping[str, Any], owner: str | None
) -> Received:
    from flask_paylinks.payments import webhooks as hooks  # imports this module

    payment = _payment_of_subscription(_subscription_of(invoice))
    if payment is None:
        return _unknown(event, _subscription_of(invoice))
    if _foreign(event, payment, owner):
        return _park_foreign(event, payment)
    paid = event.type == "invoice.paid"
    currency = str(invoice.get("currency") or "").upper()
    if currency != payment.currency.upper():
        return hooks._park(
            event, payment, "amount_mismatch", f"invoice in {currency or 'no currency'}"
        )
    if invoice.get("billing_reason") != FIRST_INVOICE:
        _hold_status(payment, "active" if paid else "past_due", event)
        return hooks._record(event, payment)
    due = invoice.get("amount_due")
    if due != payment.amount_total:
        return hooks._park(
            event,
            payment,
            "amount_mismatch",
            f"Stripe's first invoice is {due} {currency}, the payment is "
            f"{payment.amount_total} {payment.currency.upper()}",
        )
    if paid:
        _hold_status(payment, "active", event)
    problem = invoice.get("last_finalization_error")
    applied = apply_event(
        hooks.STRIPE,
        PaymentUpdate(
            event_id=event.id,
            type=event.type,
            gateway_payment_id=payment.gateway_payment_id or "",
            outcome=Outcome.SUCCEEDED if paid else Outcome.FAILED,
            failure_code=None if paid else "invoice_payment_failed",
            failure_message=None
            if paid
            else (
                problem.get("message")
                if isinstance(problem, Mapping) and problem.get("message")
                else "The first payment of the subscription did not go through."
            ),
            payload=dict(event.raw),
        ),
    )
    return hooks.Received(
        "duplicate" if applied.duplicate else "applied",
        payment_id=applied.payment.id if applied.payment is not None else None,
        entered=applied.entered,
    )


def _subscription(
    event: StripeEvent, subscription: Mapping[str, Any], owner: str | None
) -> Received:
    from flask_paylinks.payments import webhooks as hooks  # imports this module

    ident = subscription.get("id")
    payment = _payment_of_subscription(ident)
    if payment is None:
        return _unknown(event, ident)
    if _foreign(event, payment, owner):
        return _park_foreign(event, payment)
    deleted = event.type == "customer.subscription.deleted"
    status = CANCELED if deleted else str(subscription.get("status") or "")
    if status:
        _hold_status(payment, status[:32], event)
    return hooks._record(event, payment)


def _dispute(
    event: StripeEvent, dispute: Mapping[str, Any], owner: str | None
) -> Received:
    from flask_paylinks.payments import webhooks as hooks  # imports this module

    payment = hooks._payment_of(event)
    if payment is None:
        return hooks._park(
            event,
            None,
            "unknown_payment_intent",
            f"no payment has PaymentIntent {event.payment_intent_id}",
        )
    if _foreign(event, payment, owner):
        return _park_foreign(event, payment)
    amount = event.amount
    if (
        amount is None
        or not 0 < amount <= payment.amount_total
        or (event.currency or "") != payment.currency.upper()
    ):
        return hooks._park(
            event,
            payment,
            "amount_mismatch",
            f"disputed {amount} {event.currency}, the payment is "
            f"{payment.amount_total} {payment.currency.upper()}",
        )
    payment.dispute_id = event.object_id
    payment.dispute_amount = amount
    payment.dispute_reason = str(dispute.get("reason") or "general")[:64]
    payment.dispute_status = (event.status or "needs_response")[:32]
    payment.disputed_at = _at(event)
    return hooks._record(event, payment)


def _unknown(event: StripeEvent, subscription: Any) -> Received:
    from flask_paylinks.payments import webhooks as hooks  # imports this module

    return hooks._park(
        event,
        None,
        "unknown_subscription",
        f"no payment has subscription {subscription}",
    )


def _subscription_of(invoice: Mapping[str, Any]) -> str | None:
    """The subscription an invoice bills: ``parent.subscription_details`` (basil)."""
    parent = invoice.get("parent")
    details = (
        parent.get("subscription_details") if isinstance(parent, Mapping) else None
    )
    ident = details.get("subscription") if isinstance(details, Mapping) else None
    ident = ident or invoice.get("subscription")  # before 2025-03-31.basil
    if isinstance(ident, Mapping):  # expanded
        ident = ident.get("id")
    return ident if isinstance(ident, str) and ident else None


def _payment_of_subscription(ident: Any) -> Payment | None:
    if not isinstance(ident, str) or not ident:
        return None
    from flask_paylinks.payments.webhooks import STRIPE

    return (
        session()
        .scalars(
            select(Payment).where(
                Payment.gateway == STRIPE, Payment.gateway_subscription_id == ident
            )
        )
        .first()
    )


def _at(event: StripeEvent) -> datetime:
    return datetime.fromtimestamp(event.created, UTC)


def _hold_status(payment: Payment, status: str, event: StripeEvent) -> bool:
    """Hold *status* unless the payment holds one reported later; whether it did.

    A conditional UPDATE in the event's transaction: it commits with the
    event's row, or not at all (a redelivery rolls it back).
    """
    at = _at(event)
    held_at = Payment.subscription_status_at
    not_canceled = or_(
        Payment.subscription_status.is_(None), Payment.subscription_status != CANCELED
    )
    result: Any = session().execute(
        update(Payment)
        .where(
            Payment.id == payment.id,
            or_(
                held_at.is_(None),
                held_at < at,
                and_(held_at == at, true() if status == CANCELED else not_canceled),
            ),
        )
        .values(subscription_status=status, subscription_status_at=at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)
