"""Stripe's webhook events, stored once and applied once through :mod:`.updates`.

:func:`parse_stripe` hands the raw body and its ``Stripe-Signature`` to the
gateway, which verifies them (:class:`~flask_paylinks.gateways.base.WebhookRejected`
otherwise: nothing is written). :func:`receive` then does one of three things:

- **applies** the event through :func:`~.updates.apply_event`, which stores
  the ``GatewayEvent`` row and moves the payment in one transaction
  (``payment_intent.succeeded`` → succeeded, ``.payment_failed`` and
  ``.canceled`` → failed while pending, ``charge.refunded`` raises the
  payment's refunded amount to Stripe's ``amount_refunded`` (never lowers
  it), and a full one makes it refunded, whether the refund was made here or
  in Stripe's own dashboard); the state machine never reopens a paid payment;
- **records** it (``payment_intent.processing``): stored against its payment,
  nothing moves;
- **parks** it for review: stored with ``processed_at`` empty and the reason
  under :data:`REVIEW_KEY` in its payload, never applied. That is an event for
  a PaymentIntent we do not know, one from a connected account that is no
  owner's (``unknown_account``), one from an owner's account about another
  owner's payment (``account_mismatch``), one whose amount or currency differs
  from the payment's snapshot, a refund whose ``amount_refunded`` is missing
  or past the payment's total, or a type not handled yet.

``account.updated`` (Stripe Connect) stores the account's new state
(charges enabled, details submitted, requirements due) for its owner; an
event older than the state stored changes nothing.

A redelivered event finds its row and changes nothing; of two deliveries at
once, the unique (gateway, event id) row lets one through. When handling
fails, the transaction (row included) is rolled back and
:class:`WebhookFailed` raised, so the provider's retry applies it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from flask_paylinks.core.errors import NotFound, Unavailable
from flask_paylinks.db.models import GatewayEvent, Payment, PaymentState, utcnow
from flask_paylinks.db.session import session
from flask_paylinks.gateways.base import Outcome, PaymentUpdate, StripeEvent
from flask_paylinks.gateways.stripe_accounts import (
    owner_of,
    save_state,
    state_from_object,
)
from flask_paylinks.payments import subscriptions
from flask_paylinks.payments.updates import apply_event
from flask_paylinks.state import paylinks_state

log = logging.getLogger(__name__)

#: The gateway name Stripe's payments and events are stored under.
STRIPE = "stripe"

#: Key, in a parked event's stored payload, of ``{"reason": ..., "detail": ...}``.
REVIEW_KEY = "paylinks_review"

#: What each handled event type does to its payment (``None``: recorded only).
OUTCOMES: dict[str, Outcome | None] = {
    "payment_intent.succeeded": Outcome.SUCCEEDED,
    "payment_intent.payment_failed": Outcome.FAILED,
    "payment_intent.canceled": Outcome.FAILED,
    "payment_intent.processing": None,
    "charge.refunded": Outcome.REFUNDED,
}


class WebhookFailed(Unavailable):
    """Handling an event failed; nothing of it was kept, so a redelivery applies it."""


@dataclass(frozen=True, slots=True)
class Received:
    """What :func:`receive` did with one event.

    ``action`` is ``"applied"`` (handed to :func:`~.updates.apply_event`,
    which skips an event applied before; ``entered`` says what changed),
    ``"recorded"``, ``"parked"`` or ``"duplicate"`` (stored before: nothing
    changed).
    """

    action: str
    reason: str | None = None
    payment_id: int | None = None
    entered: list[PaymentState] = field(default_factory=list)


def parse_stripe(payload: bytes, signature: str | None) -> StripeEvent:
    """The verified event of a Stripe webhook body (raises ``WebhookRejected``).

    :class:`~flask_paylinks.core.errors.NotFound` when the configured gateway
    takes no Stripe webhooks.
    """
    parse = getattr(paylinks_state().gateway, "parse_webhook", None)
    if parse is None:
        raise NotFound("This site does not take Stripe webhooks.")
    event: StripeEvent = parse(payload, signature)
    return event


def receive(event: StripeEvent) -> Received:
    """Store *event* once and apply, record or park it (see the module's text).

    Raises :class:`WebhookFailed` (after rolling back) when handling fails.
    """
    db = session()
    try:
        return _receive(event)
    except Exception as error:
        db.rollback()
        log.exception("Stripe event %s (%s) was not applied", event.id, event.type)
        raise WebhookFailed(
            f"Stripe event {event.id} could not be applied now."
        ) from error


def _receive(event: StripeEvent) -> Received:
    if _applied_before(event):
        # Stripe redelivers (and retries after a timeout): one indexed read
        # answers it, before any payment is looked up or locked.
        return Received("duplicate")
    if event.type == "account.updated":
        return _account_updated(event)
    if event.type not in OUTCOMES and event.type not in subscriptions.EVENTS:
        return _park(event, None, "unhandled_type", f"no handler for {event.type}")
    owner = None
    if event.account is not None:
        # Connect: the event is the account owner's, and touches only theirs.
        owner = owner_of(event.account)
        if owner is None:
            return _park(
                event, None, "unknown_account", f"no owner has account {event.account}"
            )
    if event.type in subscriptions.EVENTS:
        return subscriptions.receive(event, owner)
    payment = _payment_of(event)
    if payment is None:
        return _park(
            event,
            None,
            "unknown_payment_intent",
            f"no payment has PaymentIntent {event.payment_intent_id}",
        )
    if owner is not None and payment.owner_id != owner:
        return _park(
            event,
            None,
            "account_mismatch",
            f"payment {payment.id} is not of the owner of account {event.account}",
        )
    mismatch = _mismatch(event, payment)
    if mismatch is not None:
        return _park(event, payment, "amount_mismatch", mismatch)
    outcome = OUTCOMES[event.type]
    if outcome is None:
        return _record(event, payment)
    refunded = event.amount_refunded if outcome is Outcome.REFUNDED else None
    if outcome is Outcome.REFUNDED:
        if refunded is None or not 0 < refunded <= payment.amount_total:
            return _park(
                event,
                payment,
                "refund_amount",
                f"refunded {refunded} of {payment.amount_total}",
            )
        if refunded < payment.amount_total:
            outcome = Outcome.PARTLY_REFUNDED
    update = PaymentUpdate(
        event_id=event.id,
        type=event.type,
        gateway_payment_id=payment.gateway_payment_id or "",
        outcome=outcome,
        failure_code=event.failure_code
        or ("canceled" if event.type == "payment_intent.canceled" else None),
        failure_message=event.failure_message
        or (
            "The payment was canceled."
            if event.type == "payment_intent.canceled"
            else None
        ),
        payload=dict(event.raw),
        amount_refunded=refunded,
    )
    applied = apply_event(STRIPE, update)
    return Received(
        "duplicate" if applied.duplicate else "applied",
        payment_id=applied.payment.id if applied.payment is not None else None,
        entered=applied.entered,
    )


def _account_updated(event: StripeEvent) -> Received:
    """Store a connected account's new state, unless what is stored is newer."""
    obj = event.raw.get("data", {}).get("object")
    state = state_from_object(obj if isinstance(obj, dict) else {})
    if event.account is not None and state.account_id not in ("", event.account):
        # Signed for one account, about another: it changes neither.
        return _park(
            event,
            None,
            "account_mismatch",
            f"account {event.account} reports on account {state.account_id}",
        )
    account = state.account_id or event.account or ""
    owner = owner_of(account) if account else None
    if owner is None:
        return _park(event, None, "unknown_account", f"no owner has account {account}")
    save_state(state, event.created, commit=False)
    row = _store(event, None, dict(event.raw), processed=True, owner=owner)
    if row is None:
        return Received("duplicate")
    return Received("applied")


def _applied_before(event: StripeEvent) -> bool:
    """Whether *event* was stored and applied (or recorded) before."""
    done = session().scalar(
        select(GatewayEvent.processed_at).where(
            GatewayEvent.gateway == STRIPE, GatewayEvent.event_id == event.id
        )
    )
    return done is not None


def _payment_of(event: StripeEvent) -> Payment | None:
    if not event.payment_intent_id:
        return None
    return (
        session()
        .scalars(
            select(Payment).where(
                Payment.gateway == STRIPE,
                Payment.gateway_payment_id == event.payment_intent_id,
            )
        )
        .first()
    )


def _mismatch(event: StripeEvent, payment: Payment) -> str | None:
    """Why what Stripe reports differs from the payment's snapshot, if it does."""
    return mismatch(event.amount, event.currency, payment)


def mismatch(amount: int | None, currency: str | None, payment: Payment) -> str | None:
    """Why a reported *amount* and *currency* differ from *payment*'s snapshot, if so.

    Webhooks and the reconciler's look-ups are checked alike.
    """
    if amount != payment.amount_total or (
        (currency or "").upper() != payment.currency.upper()
    ):
        return (
            f"Stripe reports {amount} {currency}, the payment is "
            f"{payment.amount_total} {payment.currency.upper()}"
        )
    return None


def _park(
    event: StripeEvent, payment: Payment | None, reason: str, detail: str
) -> Received:
    """Store *event* unapplied, flagged with *reason*, for a person to review."""
    payload: dict[str, Any] = {
        **event.raw,
        REVIEW_KEY: {"reason": reason, "detail": detail},
    }
    row = _store(event, payment, payload, processed=False)
    if row is None:
        return Received("duplicate", reason)
    log.warning(
        "Stripe event %s (%s) parked for review: %s (%s)",
        event.id,
        event.type,
        reason,
        detail,
    )
    return Received("parked", reason, row.payment_id)


def _record(event: StripeEvent, payment: Payment) -> Received:
    """Store *event* against *payment* as handled; nothing moves."""
    row = _store(event, payment, dict(event.raw), processed=True)
    if row is None:
        return Received("duplicate")
    return Received("recorded", payment_id=payment.id)


def _store(
    event: StripeEvent,
    payment: Payment | None,
    payload: dict[str, Any],
    *,
    processed: bool,
    owner: str | None = None,
) -> GatewayEvent | None:
    """Insert *event*'s row and commit; ``None`` (rolled back) when it exists.

    A row parked before is settled instead when *processed* (its review flag
    goes with the new payload).
    """
    db = session()
    existing = db.scalars(
        select(GatewayEvent).where(
            GatewayEvent.gateway == STRIPE, GatewayEvent.event_id == event.id
        )
    ).first()
    now = utcnow()
    if existing is not None:
        if not (processed and existing.processed_at is None):
            db.rollback()
            return None
        # Parked before (say, its PaymentIntent was not known yet): settle it.
        existing.processed_at = now
        existing.owner_id = payment.owner_id if payment is not None else owner
        existing.payment_id = payment.id if payment is not None else None
        existing.payload = payload
        db.commit()
        return existing
    row = GatewayEvent(
        gateway=STRIPE,
        event_id=event.id,
        type=event.type[:100],
        owner_id=payment.owner_id if payment is not None else owner,
        payment_id=payment.id if payment is not None else None,
        payload=payload,
        received_at=now,
        processed_at=now if processed else None,
    )
    db.add(row)
    try:
        db.commit()
    except IntegrityError:
        # A concurrent delivery of the same event stored it first.
        db.rollback()
        return None
    return row


def parked() -> list[GatewayEvent]:
    """Stripe events stored but not applied, oldest first (at most 500)."""
    return list(
        session()
        .scalars(
            select(GatewayEvent)
            .where(GatewayEvent.gateway == STRIPE, GatewayEvent.processed_at.is_(None))
            .order_by(GatewayEvent.id)
            .limit(500)
        )
        .all()
    )
