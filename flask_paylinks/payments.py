"""Payments: price a checkout, start it once, and apply what the gateway reports.

The life of a payment:

1. :func:`start_checkout` prices the customer's choices on the server and
   creates a *pending* :class:`~flask_paylinks.models.Payment` holding a
   snapshot of what is bought. Its ``idempotency_key`` is derived from the
   checkout attempt (a token the page carries), and the column is unique, so
   a double click or a reload finds the same row instead of making another.
   The gateway is asked with that same key.
2. Whatever the gateway says (the sandbox's card form, a Stripe webhook) comes
   in as a :class:`~flask_paylinks.gateways.PaymentUpdate` and goes through
   :func:`apply_update`, the one function every gateway uses. Each event is
   applied once (``GatewayEvent`` is unique on gateway and event id), and
   pending -> succeeded | failed happens once whatever the order or number
   of reports; a succeeded payment never goes back to failed.
3. On success the coupon's redemption is counted, and a job
   (:func:`flask_paylinks.tasks.payment_followup`) upserts the contact, links
   the payment to it and sends ``payment_succeeded``.

Coupon limits hold under concurrent checkouts: starting a checkout with a
coupon locks the coupon row (``SELECT ... FOR UPDATE``) and counts
redemptions plus the pending payments that hold it (reservations) before the
new pending payment is committed. Reservations older than
``PAYLINKS_PENDING_TIMEOUT`` no longer count; ``flask paylinks reconcile``
marks such payments abandoned.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from . import signals
from .contacts import Address
from .database import session
from .errors import PayLinksError
from .gateways.base import (
    GatewayError,
    Outcome,
    PaymentRequest,
    PaymentUpdate,
    RecurringTerms,
    StartedPayment,
)
from .gateways.sandbox import SandboxGateway
from .models import (
    Coupon,
    GatewayEvent,
    LinkStatus,
    Payment,
    PaymentLink,
    PaymentState,
    Recipient,
    utcnow,
)
from .pricing import (
    COUPON_FIELD,
    COUPON_REJECTED,
    Choices,
    CouponTerms,
    PricingError,
    Quote,
    chosen_items,
    coupon_rejection,
    normalise_code,
    offer_from_link,
    quote,
)
from .scoping import owned

log = logging.getLogger(__name__)

#: Letters of a payment reference: no 0/O or 1/I/L to misread on a phone.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_LENGTH = 8


class CheckoutRefused(PayLinksError):
    """The choices cannot be charged; :attr:`errors` say why, by form field."""

    def __init__(self, errors: Sequence[PricingError]) -> None:
        super().__init__("; ".join(error.message for error in errors))
        self.errors = list(errors)


class PaymentNotStarted(PayLinksError):
    """The gateway could not start the payment; nothing was charged."""


@dataclass(frozen=True, slots=True)
class Customer:
    """Who pays, as typed at checkout (phone already E.164)."""

    name: str
    email: str
    phone: str | None = None
    address: Address | None = None


@dataclass(frozen=True, slots=True)
class Checkout:
    """A started checkout: its pending payment and the gateway's handle on it."""

    payment: Payment
    #: False when a repeated submit found the payment of an earlier one.
    created: bool
    started: StartedPayment | None = None


def new_reference() -> str:
    """A short reference for the receipt, e.g. ``PL-7KQ2M9XD``."""
    body = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))
    return f"PL-{body}"


def new_attempt() -> str:
    """A token naming one checkout attempt (128 random bits)."""
    return secrets.token_urlsafe(16)


def is_attempt(value: str) -> bool:
    """Whether *value* looks like a token from :func:`new_attempt`."""
    return (
        16 <= len(value) <= 64
        and value.isascii()
        and all(ch.isalnum() or ch in "-_" for ch in value)
    )


def idempotency_key(link: PaymentLink, attempt: str) -> str:
    """The key of one checkout attempt on one link: the same inputs, the same key."""
    return hashlib.sha256(f"paylinks:{link.id}:{attempt}".encode()).hexdigest()


def _now(now: datetime | None) -> datetime:
    return now if now is not None else utcnow()


def _pending_timeout() -> timedelta:
    return timedelta(seconds=int(current_app.config["PAYLINKS_PENDING_TIMEOUT"]))


# -- pricing against the database ---------------------------------------------------


def find_coupon(owner: str, code: str, *, lock: bool = False) -> Coupon | None:
    """The owner's coupon a typed *code* names (any case), or ``None``."""
    key = normalise_code(code)
    if key is None:
        return None
    stmt = owned(Coupon, owner).where(Coupon.code_key == key)
    if lock:
        stmt = stmt.with_for_update()
    return session().scalars(stmt).first()


def reserved_redemptions(owner: str, coupon_id: int, *, now: datetime) -> int:
    """Pending payments that hold the coupon and have not timed out."""
    since = now - _pending_timeout()
    stmt = (
        select(func.count())
        .select_from(Payment)
        .where(
            Payment.owner_id == owner,
            Payment.coupon_id == coupon_id,
            Payment.state == PaymentState.PENDING,
            Payment.created_at > since,
        )
    )
    return int(session().scalar(stmt) or 0)


def price(
    link: PaymentLink,
    choices: Choices,
    *,
    now: datetime | None = None,
    lock_coupon: bool = False,
) -> Quote | list[PricingError]:
    """Price *choices* on *link*, looking up and checking the coupon code.

    Every reason a code cannot be used gives the same error message. With
    *lock_coupon* the coupon row stays locked until the transaction ends.
    """
    now = _now(now)
    offer = offer_from_link(link)
    errors: list[PricingError] = []
    terms: CouponTerms | None = None
    if choices.coupon_code and offer.allow_coupons:
        coupon = find_coupon(link.owner_id, choices.coupon_code, lock=lock_coupon)
        reason = "unknown"
        if coupon is not None:
            terms = CouponTerms.from_model(coupon)
            reason = (
                coupon_rejection(
                    terms,
                    now=now,
                    currency=offer.currency,
                    product_ids=[i.product_id for i in chosen_items(offer, choices)],
                    reserved=reserved_redemptions(link.owner_id, coupon.id, now=now),
                )
                or ""
            )
        if reason:
            log.info("coupon refused on link %s: %s", link.id, reason)
            errors.append(PricingError(COUPON_FIELD, COUPON_REJECTED))
            terms = None
    result = quote(offer, choices, terms)
    if isinstance(result, list):
        return result + errors
    return errors or result


# -- starting a checkout ------------------------------------------------------------


def find_by_attempt(link: PaymentLink, attempt: str) -> Payment | None:
    """The payment an earlier submit of this attempt made, if any."""
    key = idempotency_key(link, attempt)
    stmt = owned(Payment, link.owner_id).where(Payment.idempotency_key == key)
    return session().scalars(stmt).first()


def _recipient(link: PaymentLink, token: str | None) -> Recipient | None:
    if not token or len(token) > 64:
        return None
    stmt = owned(Recipient, link.owner_id).where(
        Recipient.token == token, Recipient.link_id == link.id
    )
    return session().scalars(stmt).first()


def recipient_opened(link: PaymentLink, token: str | None) -> Recipient | None:
    """The recipient a personal URL's token names; its first open is recorded."""
    recipient = _recipient(link, token)
    if recipient is not None and recipient.opened_at is None:
        recipient.opened_at = utcnow()
        session().commit()
    return recipient


def _snapshot(link: PaymentLink, priced: Quote) -> dict[str, Any]:
    return {"link": {"id": link.id, "slug": link.slug}, **priced.as_dict()}


def start_checkout(
    link: PaymentLink,
    *,
    choices: Choices,
    customer: Customer,
    attempt: str,
    recipient_token: str | None = None,
    now: datetime | None = None,
) -> Checkout:
    """Create the pending payment of this attempt and start it at the gateway.

    A repeated call with the same *attempt* returns the payment the first one
    made (``created=False``), whatever its state; it never makes a second
    one. Raises :class:`CheckoutRefused` when the choices cannot be priced
    (nothing is stored) and :class:`PaymentNotStarted` when the gateway
    refuses (the payment is stored as failed).
    """
    if not is_attempt(attempt):
        raise CheckoutRefused(
            [
                PricingError(
                    "items", "This page expired. Check your order and try again."
                )
            ]
        )
    db = session()
    existing = find_by_attempt(link, attempt)
    if existing is not None:
        return Checkout(existing, created=False, started=_ensure_started(existing))

    now = _now(now)
    payment: Payment | None = None
    for _ in range(3):
        priced = price(link, choices, now=now, lock_coupon=True)
        if isinstance(priced, list):
            db.rollback()
            raise CheckoutRefused(priced)
        recipient = _recipient(link, recipient_token)
        recurring = priced.recurring
        payment = Payment(
            owner_id=link.owner_id,
            reference=new_reference(),
            link_id=link.id,
            state=PaymentState.PENDING,
            currency=priced.currency,
            amount_subtotal=priced.subtotal,
            amount_discount=priced.discount,
            amount_total=priced.total,
            amount_recurring=(
                None
                if recurring is None
                else recurring.discounted_amount
                if recurring.discount_forever
                else recurring.amount
            ),
            recurring_interval=recurring.interval if recurring else None,
            recurring_interval_count=recurring.interval_count if recurring else None,
            snapshot=_snapshot(link, priced),
            coupon_id=priced.coupon.id if priced.coupon else None,
            coupon_code=priced.coupon.code if priced.coupon else None,
            customer_name=customer.name,
            customer_email=customer.email,
            customer_phone=customer.phone,
            customer_address=customer.address.as_dict() if customer.address else None,
            recipient_id=recipient.id if recipient else None,
            gateway=current_app.extensions["paylinks"].gateway.name,
            idempotency_key=idempotency_key(link, attempt),
            created_at=now,
        )
        db.add(payment)
        try:
            # Committing ends the coupon lock with the reservation in place.
            db.commit()
            break
        except IntegrityError:
            db.rollback()
            existing = find_by_attempt(link, attempt)
            if existing is not None:
                return Checkout(
                    existing, created=False, started=_ensure_started(existing)
                )
            payment = None  # a reference collision: try another one
    if payment is None:
        raise PaymentNotStarted("Could not store the payment; try again.")

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    signals.checkout_started.send(app, payment=payment)
    return Checkout(payment, created=True, started=_ensure_started(payment))


def _payment_request(payment: Payment) -> PaymentRequest:
    snapshot = payment.snapshot or {}
    names = ", ".join(
        f"{line['quantity']} x {line['name']}" for line in snapshot.get("lines", [])
    )
    recurring = None
    if payment.amount_recurring is not None and payment.recurring_interval:
        recurring = RecurringTerms(
            amount=payment.amount_recurring,
            interval=payment.recurring_interval,
            interval_count=payment.recurring_interval_count or 1,
        )
    return PaymentRequest(
        idempotency_key=payment.idempotency_key,
        reference=payment.reference,
        amount=payment.amount_total,
        currency=payment.currency,
        description=f"{payment.reference}: {names}"[:500],
        customer_email=payment.customer_email,
        customer_name=payment.customer_name,
        recurring=recurring,
        metadata={"paylinks_payment": str(payment.id), "reference": payment.reference},
    )


def _ensure_started(payment: Payment) -> StartedPayment | None:
    """Ask the gateway for the payment (same key, same answer); store its ids."""
    if payment.state != PaymentState.PENDING:
        return None
    gateway = current_app.extensions["paylinks"].gateway
    try:
        started: StartedPayment = gateway.start_payment(_payment_request(payment))
    except GatewayError as error:
        log.warning("gateway refused payment %s: %s", payment.reference, error)
        _settle_without_event(payment, "gateway_error", str(error)[:500])
        raise PaymentNotStarted(str(error)) from error
    if payment.gateway_payment_id != started.gateway_payment_id:
        payment.gateway_payment_id = started.gateway_payment_id
        payment.gateway_customer_id = started.gateway_customer_id
        payment.gateway_subscription_id = started.gateway_subscription_id
        session().commit()
    return started


def _settle_without_event(payment: Payment, code: str, message: str) -> None:
    db = session()
    locked = db.scalars(
        owned(Payment, payment.owner_id)
        .where(Payment.id == payment.id)
        .with_for_update()
    ).first()
    if locked is None or locked.state != PaymentState.PENDING:
        db.rollback()
        return
    locked.state = PaymentState.FAILED
    locked.failed_at = utcnow()
    locked.failure_code = code
    locked.failure_message = message
    db.commit()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    signals.payment_failed.send(app, payment=locked)


# -- the sandbox's card form ----------------------------------------------------------


def confirm_test_card(payment: Payment, card_number: str) -> Payment:
    """Pay a pending payment with a sandbox test card, through :func:`apply_update`.

    A payment that is no longer pending is returned as it is: a repeated
    submit never charges again.
    """
    gateway = current_app.extensions["paylinks"].gateway
    if not isinstance(gateway, SandboxGateway):
        raise PayLinksError("Test cards are only taken by the sandbox gateway.")
    if payment.state != PaymentState.PENDING or not payment.gateway_payment_id:
        return payment
    update = gateway.charge(payment.gateway_payment_id, card_number)
    return apply_update(gateway.name, update) or payment


# -- applying what a gateway reports --------------------------------------------------


def apply_update(gateway_name: str, update: PaymentUpdate) -> Payment | None:
    """Apply one gateway event to its payment, once; return the payment.

    Every gateway's reports go through here. The payment row is locked
    first, so concurrent copies of an event queue up and the later ones find
    it recorded. An event for a payment we do not know yet is stored
    unprocessed and applied when it is delivered again.
    """
    db = session()
    now = utcnow()
    payment = db.scalars(
        select(Payment)
        .where(
            Payment.gateway == gateway_name,
            Payment.gateway_payment_id == update.gateway_payment_id,
        )
        .with_for_update()
    ).first()
    event = db.scalars(
        select(GatewayEvent).where(
            GatewayEvent.gateway == gateway_name,
            GatewayEvent.event_id == update.event_id,
        )
    ).first()
    if event is not None and event.processed_at is not None:
        db.rollback()
        return payment
    if event is None:
        event = GatewayEvent(
            gateway=gateway_name,
            event_id=update.event_id,
            type=update.type,
            payload=dict(update.payload),
            received_at=now,
        )
        db.add(event)
        try:
            db.flush()
        except IntegrityError:
            # A concurrent delivery of the same event got there first.
            db.rollback()
            return payment
    if payment is None:
        db.commit()
        log.info("gateway event %s is for an unknown payment", update.event_id)
        return None

    event.owner_id = payment.owner_id
    event.payment_id = payment.id
    event.processed_at = now
    changes = _transition(payment, update, now)
    db.commit()
    _after_transition(payment, changes)
    return payment


def _transition(
    payment: Payment, update: PaymentUpdate, now: datetime
) -> list[PaymentState]:
    """Move the payment's state as *update* says; return the states entered."""
    state = payment.state
    entered: list[PaymentState] = []
    # A refund can only follow a success; reported first, it implies one.
    implies_success = update.outcome in (Outcome.SUCCEEDED, Outcome.REFUNDED)
    if implies_success and state in (PaymentState.PENDING, PaymentState.FAILED):
        payment.state = PaymentState.SUCCEEDED
        payment.succeeded_at = now
        payment.failure_code = None
        payment.failure_message = None
        _on_success(payment, now)
        entered.append(PaymentState.SUCCEEDED)
    if update.outcome is Outcome.FAILED and payment.state == PaymentState.PENDING:
        payment.state = PaymentState.FAILED
        payment.failed_at = now
        payment.failure_code = (update.failure_code or "failed")[:64]
        payment.failure_message = (
            update.failure_message or "The payment did not go through."
        )[:500]
        entered.append(PaymentState.FAILED)
    if update.outcome is Outcome.REFUNDED and payment.state == PaymentState.SUCCEEDED:
        payment.state = PaymentState.REFUNDED
        payment.refunded_at = now
        entered.append(PaymentState.REFUNDED)
    return entered


def _on_success(payment: Payment, now: datetime) -> None:
    """Count the coupon, mark the recipient paid, close a single-use link."""
    db = session()
    if payment.coupon_id is not None:
        coupon = db.scalars(
            owned(Coupon, payment.owner_id)
            .where(Coupon.id == payment.coupon_id)
            .with_for_update()
        ).first()
        if coupon is not None:
            limit = coupon.max_redemptions
            if limit is None or coupon.times_redeemed < limit:
                coupon.times_redeemed += 1
            else:
                # Only reachable when a reservation timed out before the
                # payment settled: the charge stands, the count stays at max.
                log.warning(
                    "payment %s used coupon %s beyond its %s redemptions",
                    payment.reference,
                    coupon.code,
                    limit,
                )
    if payment.recipient_id is not None:
        recipient = db.scalars(
            owned(Recipient, payment.owner_id).where(
                Recipient.id == payment.recipient_id
            )
        ).first()
        if recipient is not None and recipient.paid_at is None:
            recipient.paid_at = now
    if payment.link_id is not None:
        link = db.scalars(
            owned(PaymentLink, payment.owner_id).where(
                PaymentLink.id == payment.link_id
            )
        ).first()
        if link is not None and link.single_use:
            link.status = LinkStatus.INACTIVE


def _after_transition(payment: Payment, entered: list[PaymentState]) -> None:
    from .tasks import payment_followup

    state = current_app.extensions["paylinks"]
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    for new_state in entered:
        if new_state is PaymentState.SUCCEEDED:
            state.jobs.enqueue(
                payment_followup,
                payment.id,
                job_id=f"paylinks-payment-followup-{payment.id}",
            )
        elif new_state is PaymentState.FAILED:
            signals.payment_failed.send(app, payment=payment)
        elif new_state is PaymentState.REFUNDED:
            signals.payment_refunded.send(app, payment=payment)
    link = payment.link
    closed = link is not None and link.single_use and link.status == LinkStatus.INACTIVE
    if PaymentState.SUCCEEDED in entered and closed:
        signals.link_deactivated.send(app, link=link)


def follow_up_success(payment_id: int) -> bool:
    """Upsert the paying contact, link the payment to it, send ``payment_succeeded``.

    Idempotent: the payment row is locked while this runs, and a payment
    already linked to a contact is left alone. Returns whether it did the work.
    """
    db = session()
    payment = db.scalars(
        select(Payment).where(Payment.id == payment_id).with_for_update()
    ).first()
    if payment is None or payment.contact_id is not None:
        db.rollback()
        return False
    if payment.state not in (PaymentState.SUCCEEDED, PaymentState.REFUNDED):
        db.rollback()
        return False
    directory = current_app.extensions["paylinks"].contacts
    contact = directory.upsert(
        payment.owner_id,
        name=payment.customer_name,
        email=payment.customer_email or None,
        phone=payment.customer_phone,
        address=Address.from_dict(payment.customer_address),
    )
    payment.contact_id = contact.id
    db.commit()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    signals.payment_succeeded.send(app, payment=payment, contact=contact)
    return True


# -- look-ups for the receipt and the CLI -------------------------------------------


def get_by_reference(link: PaymentLink, reference: str) -> Payment | None:
    """The payment of *link* with this receipt reference, or ``None``."""
    if not reference or len(reference) > 32:
        return None
    stmt = owned(Payment, link.owner_id).where(
        Payment.reference == reference, Payment.link_id == link.id
    )
    return session().scalars(stmt).first()


def abandon_stale(
    *, now: datetime | None = None, older_than: timedelta | None = None
) -> int:
    """Mark pending payments older than the timeout failed (``abandoned``).

    Frees the coupon redemptions they held. A gateway that later reports one
    of them succeeded still moves it to succeeded. Returns how many changed.
    """
    now = _now(now)
    cutoff = now - (older_than if older_than is not None else _pending_timeout())
    db = session()
    stale = db.scalars(
        select(Payment)
        .where(Payment.state == PaymentState.PENDING, Payment.created_at <= cutoff)
        .order_by(Payment.id)
        .with_for_update(skip_locked=True)
    ).all()
    for payment in stale:
        payment.state = PaymentState.FAILED
        payment.failed_at = now
        payment.failure_code = "abandoned"
        payment.failure_message = "The customer did not finish paying."
    db.commit()
    return len(stale)
