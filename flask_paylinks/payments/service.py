"""Payments: price a checkout, start it once, and apply what the gateway reports.

The life of a payment:

1. :func:`start_checkout` prices the customer's choices on the server and
   creates a *pending* :class:`~flask_paylinks.db.models.Payment` holding a
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
3. On success the coupon's redemption is counted and, in the same
   transaction, the follow-ups are owed as outbox rows
   (:mod:`flask_paylinks.jobs.outbox`): :func:`follow_up_success` upserts the
   contact, links the payment to it and sends ``payment_succeeded``; the
   receipt is emailed (:mod:`flask_paylinks.payments.receipts`).

Limits hold under concurrent checkouts on every database: starting a
checkout claims the coupon redemption and the single-use link with
conditional UPDATEs (:mod:`flask_paylinks.db.limits`) in the pending payment's
transaction; a payment that fails or is abandoned gives them back, once.
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
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from flask_paylinks import signals
from flask_paylinks.contacts import Address, Contact, differences
from flask_paylinks.core.errors import PayLinksError
from flask_paylinks.core.pricing import (
    COUPON_FIELD,
    COUPON_REJECTED,
    Choices,
    CouponTerms,
    PricingError,
    Quote,
    chosen_items,
    coupon_rejection,
    offer_from_link,
    quote,
    terms_digest,
)
from flask_paylinks.core.rules import normalise_code
from flask_paylinks.db.limits import claim, release
from flask_paylinks.db.models import (
    ContactClaim,
    Coupon,
    GatewayEvent,
    LinkStatus,
    Payment,
    PaymentLink,
    PaymentState,
    Recipient,
    utcnow,
)
from flask_paylinks.db.scoping import MAX_ID, get_owned, owned
from flask_paylinks.db.session import session
from flask_paylinks.gateways.base import (
    GatewayError,
    Outcome,
    PaymentRequest,
    PaymentUpdate,
    RecurringTerms,
    StartedPayment,
)
from flask_paylinks.gateways.sandbox import SandboxGateway
from flask_paylinks.jobs import outbox
from flask_paylinks.web import db_outage

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


class TermsChanged(PayLinksError):
    """The terms the server computes now are not those the customer saw.

    :attr:`quote` holds the new terms, to show before asking again.
    """

    def __init__(self, priced: Quote) -> None:
        super().__init__("The order's terms changed since the page was loaded.")
        self.quote = priced


class LinkTaken(PayLinksError):
    """A single-use link is paid, or being paid, by someone else.

    :attr:`in_progress` is True while that other payment is still pending.
    """

    def __init__(self, *, in_progress: bool) -> None:
        super().__init__("This link has already been used.")
        self.in_progress = in_progress


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


def find_coupon(owner: str, code: str) -> Coupon | None:
    """The owner's coupon a typed *code* names (any case), or ``None``."""
    key = normalise_code(code)
    if key is None:
        return None
    stmt = owned(Coupon, owner).where(Coupon.code_key == key)
    return session().scalars(stmt).first()


def _coupon_rejection(
    coupon: Coupon, offer: Any, choices: Choices, now: datetime
) -> str | None:
    terms = CouponTerms.from_model(coupon)
    return coupon_rejection(
        terms,
        now=now,
        currency=offer.currency,
        product_ids=[i.product_id for i in chosen_items(offer, choices)],
        reserved=max(0, (coupon.times_claimed or 0) - (coupon.times_redeemed or 0)),
    )


def price(
    link: PaymentLink,
    choices: Choices,
    *,
    now: datetime | None = None,
) -> Quote | list[PricingError]:
    """Price *choices* on *link*, looking up and checking the coupon code.

    Every reason a code cannot be used gives the same error message. A code
    used up only by checkouts that were abandoned is freed first.
    """
    now = _now(now)
    offer = offer_from_link(link)
    errors: list[PricingError] = []
    terms: CouponTerms | None = None
    if choices.coupon_code and offer.allow_coupons:
        coupon = find_coupon(link.owner_id, choices.coupon_code)
        reason = "unknown"
        if coupon is not None:
            reason = _coupon_rejection(coupon, offer, choices, now) or ""
            if reason == "exhausted" and abandon_stale(now=now, coupon_id=coupon.id):
                reason = _coupon_rejection(coupon, offer, choices, now) or ""
            terms = CouponTerms.from_model(coupon)
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
    agreed_terms: str | None = None,
    recipient_token: str | None = None,
    now: datetime | None = None,
) -> Checkout:
    """Create the pending payment of this attempt and start it at the gateway.

    A repeated call with the same *attempt* returns the payment the first one
    made (``created=False``), whatever its state; it never makes a second
    one. *agreed_terms* is the :func:`~flask_paylinks.core.pricing.terms_digest`
    the customer's page showed: when the terms priced now differ,
    :class:`TermsChanged` is raised and nothing is stored. Raises
    :class:`CheckoutRefused` when the choices cannot be priced or the coupon
    has no redemption left, :class:`LinkTaken` when a single-use link is
    already someone else's, and :class:`PaymentNotStarted` when the gateway
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
        priced = price(link, choices, now=now)
        if isinstance(priced, list):
            db.rollback()
            raise CheckoutRefused(priced)
        digest = terms_digest(priced)
        if agreed_terms is not None and agreed_terms != digest:
            db.rollback()
            raise TermsChanged(priced)
        payment = _new_payment(link, priced, customer, attempt, recipient_token, now)
        payment.terms_digest = digest
        db.add(payment)
        try:
            db.flush()
        except IntegrityError:
            db.rollback()
            existing = find_by_attempt(link, attempt)
            if existing is not None:
                return Checkout(
                    existing, created=False, started=_ensure_started(existing)
                )
            payment = None  # a reference collision: try another one
            continue
        if not _claim_limits(link, payment, priced, now):
            payment = None  # an abandoned checkout's claim was freed: again
            continue
        db.commit()
        break
    if payment is None:
        raise PaymentNotStarted("Could not store the payment; try again.")

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    signals.send_guarded(signals.checkout_started, app, payment=payment)
    return Checkout(payment, created=True, started=_ensure_started(payment))


def _new_payment(
    link: PaymentLink,
    priced: Quote,
    customer: Customer,
    attempt: str,
    recipient_token: str | None,
    now: datetime,
) -> Payment:
    recipient = _recipient(link, recipient_token)
    recurring = priced.recurring
    return Payment(
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
        holds_link=bool(link.single_use),
        created_at=now,
    )


def _claim_limits(
    link: PaymentLink, payment: Payment, priced: Quote, now: datetime
) -> bool:
    """Claim the single-use link and the coupon for *payment*, or roll back.

    Both are conditional UPDATEs in the payment's own transaction, so the
    claims and the pending payment that holds them commit together or not
    at all. Returns False (rolled back) when a claim was held only by an
    abandoned checkout and has just been freed: the caller tries again.
    Raises :class:`LinkTaken` or :class:`CheckoutRefused` when the limit is
    reached.
    """
    db = session()
    if link.single_use and not claim(PaymentLink.claims, link.id, cap=1):
        db.rollback()
        if abandon_stale(now=now, link_id=link.id):
            return False
        raise LinkTaken(in_progress=_link_in_progress(link))
    coupon = priced.coupon
    if coupon is not None and coupon.id is not None:
        capped = claim(Coupon.times_claimed, coupon.id, cap=Coupon.max_redemptions)
        if not capped:
            db.rollback()
            if abandon_stale(now=now, coupon_id=coupon.id):
                return False
            raise CheckoutRefused([PricingError(COUPON_FIELD, COUPON_REJECTED)])
    return True


def _link_in_progress(link: PaymentLink) -> bool:
    stmt = owned(Payment, link.owner_id).where(
        Payment.link_id == link.id,
        Payment.holds_link.is_(True),
        Payment.state == PaymentState.PENDING,
    )
    return session().scalars(stmt.limit(1)).first() is not None


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
    if not _fail(payment, now=utcnow(), code=code, message=message):
        session().rollback()
        return
    session().commit()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    signals.send_guarded(signals.payment_failed, app, payment=payment)


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
    owed = _owe_followups(payment, changes, now)
    link_id = payment.link_id
    reference, succeeded = payment.reference, PaymentState.SUCCEEDED in changes
    if succeeded:
        db_outage.note_charging(reference)
    db.commit()
    if succeeded:
        # Before anything reads the (now expired) payment again.
        db_outage.note_charged(reference)
    _after_transition(payment, changes, owed, link_id)
    return payment


def _owe_followups(
    payment: Payment, entered: list[PaymentState], now: datetime
) -> list[int]:
    """The follow-ups a success owes, as outbox items in its transaction; their ids."""
    if PaymentState.SUCCEEDED not in entered:
        return []
    items = [
        outbox.add(kind, payment.id, payment.owner_id, now=now)
        for kind in (outbox.PAYMENT_FOLLOWUP, outbox.PAYMENT_RECEIPT)
    ]
    session().flush()
    return [item.id for item in items]


def _move(
    payment: Payment,
    to: PaymentState,
    *,
    only_from: tuple[PaymentState, ...],
    **values: Any,
) -> bool:
    """Move *payment* to state *to* if it is still in one of *only_from*.

    A conditional UPDATE: of two concurrent moves only one finds the row in
    the old state, on SQLite as on PostgreSQL, so what follows a move (a
    claim released, a coupon counted) happens once. Returns whether this
    call moved it; the loaded object is brought up to date either way.
    """
    db = session()
    result: Any = db.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.state.in_(only_from))
        .values(state=to, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.refresh(payment)
        return False
    set_committed_value(payment, "state", str(to))
    for key, value in values.items():
        set_committed_value(payment, key, value)
    return True


def _transition(
    payment: Payment, update: PaymentUpdate, now: datetime
) -> list[PaymentState]:
    """Move the payment's state as *update* says; return the states entered."""
    entered: list[PaymentState] = []
    # A refund can only follow a success; reported first, it implies one.
    implies_success = update.outcome in (Outcome.SUCCEEDED, Outcome.REFUNDED)
    if implies_success:
        # One state at a time, so `was` is what the row held, not what was read.
        for was in (PaymentState.PENDING, PaymentState.FAILED):
            if payment.state == was and _move(
                payment,
                PaymentState.SUCCEEDED,
                only_from=(was,),
                succeeded_at=now,
                failure_code=None,
                failure_message=None,
            ):
                _on_success(payment, was, now)
                entered.append(PaymentState.SUCCEEDED)
                break
    if (
        update.outcome is Outcome.FAILED
        and payment.state == PaymentState.PENDING
        and _fail(
            payment,
            now=now,
            code=update.failure_code or "failed",
            message=update.failure_message or "The payment did not go through.",
        )
    ):
        entered.append(PaymentState.FAILED)
    if (
        update.outcome is Outcome.REFUNDED
        and payment.state == PaymentState.SUCCEEDED
        and _move(
            payment,
            PaymentState.REFUNDED,
            only_from=(PaymentState.SUCCEEDED,),
            refunded_at=now,
        )
    ):
        entered.append(PaymentState.REFUNDED)
    return entered


def _fail(payment: Payment, *, now: datetime, code: str, message: str) -> bool:
    """Move a pending payment to failed and give back the claims it held.

    The claims are released in the same transaction as the conditional move,
    so they are given back once, whoever else tries to fail the payment.
    """
    held_link = payment.holds_link
    moved = _move(
        payment,
        PaymentState.FAILED,
        only_from=(PaymentState.PENDING,),
        failed_at=now,
        failure_code=code[:64],
        failure_message=message[:500],
        holds_link=False,
    )
    if moved:
        if payment.coupon_id is not None:
            release(Coupon.times_claimed, payment.coupon_id)
        if held_link and payment.link_id is not None:
            release(PaymentLink.claims, payment.link_id)
    return moved


def _on_success(payment: Payment, was: PaymentState, now: datetime) -> None:
    """Count the coupon, mark the recipient paid, close a single-use link.

    *was* is the state the payment left: a payment that failed (or was
    abandoned) gave its claims back, so a late success takes them again,
    past any limit: the charge stands.
    """
    db = session()
    if payment.coupon_id is not None:
        if was == PaymentState.FAILED:
            claim(Coupon.times_claimed, payment.coupon_id, cap=None)
        counted = claim(
            Coupon.times_redeemed, payment.coupon_id, cap=Coupon.max_redemptions
        )
        if not counted:
            # Only reachable when a late success follows an abandoned checkout
            # whose claim someone else took: the charge stands, the count stays.
            log.warning(
                "payment %s used coupon %s beyond its redemption limit",
                payment.reference,
                payment.coupon_code,
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
            if was == PaymentState.FAILED:
                claim(PaymentLink.claims, link.id, cap=None)
                payment.holds_link = True
            link.status = LinkStatus.INACTIVE


def _after_transition(
    payment: Payment, entered: list[PaymentState], owed: list[int], link_id: int | None
) -> None:
    """Hand on the follow-ups owed and send the signals; nothing here may raise.

    The payment is committed before this runs: a host receiver's bug or a
    follow-up that fails is logged (and the follow-up retried by the
    outbox), never shown to the customer as an error.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    outbox.dispatch(owed)
    for new_state in entered:
        if new_state is PaymentState.FAILED:
            signals.send_guarded(signals.payment_failed, app, payment=payment)
        elif new_state is PaymentState.REFUNDED:
            signals.send_guarded(signals.payment_refunded, app, payment=payment)
    if PaymentState.SUCCEEDED in entered and link_id is not None:
        try:
            link = session().get(PaymentLink, link_id)
        except Exception:  # the database went away after the commit
            log.exception("could not read link %s after its payment", link_id)
            return
        if link is not None and link.single_use and not link.is_active:
            signals.send_guarded(signals.link_deactivated, app, link=link)


def follow_up_success(payment_id: int) -> bool:
    """Link the paying contact to the payment, then send ``payment_succeeded``.

    The outbox's handler of ``payment.followup``: it works in the caller's
    transaction and does not commit; the outbox commits its work together
    with the item's "done" (:func:`flask_paylinks.jobs.outbox.run`).

    The contact is upserted under the policy in :doc:`/contacts`: an
    anonymous checkout only fills empty fields, and what differs is kept on
    the payment for the merchant; a checkout from a contact's personal link
    updates that contact. One contact per email and owner, even when two
    first payments by one new email are followed up at once
    (:class:`~flask_paylinks.db.models.ContactClaim`).

    Receivers run inside this transaction, in a savepoint, so what they write
    commits with it. A receiver that raises undoes only the receivers'
    writes; the contact link is kept and
    :class:`~flask_paylinks.jobs.outbox.Incomplete` is raised, so the outbox
    commits the contact link and runs the follow-up again later (every
    receiver then hears the signal again). Idempotent: a payment followed up
    already is left alone. Returns whether it sent the signal.
    """
    db = session()
    payment = db.scalars(
        select(Payment).where(Payment.id == payment_id).with_for_update()
    ).first()
    if payment is None or payment.followed_up_at is not None:
        return False
    if payment.state not in (PaymentState.SUCCEEDED, PaymentState.REFUNDED):
        return False
    # A write first: on SQLite it takes the write lock before anything is read.
    payment.followup_attempts = (payment.followup_attempts or 0) + 1
    db.flush()
    contact = _payment_contact(payment)
    db.flush()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    savepoint = db.begin_nested()
    failures = signals.send_guarded(
        signals.payment_succeeded, app, payment=payment, contact=contact
    )
    if not savepoint.is_active:
        # A receiver committed or rolled back the session itself. Its writes
        # are its own now; the signal was heard, so it is not sent again.
        log.warning(
            "a payment_succeeded receiver committed or rolled back the session; "
            "receivers run inside the follow-up's transaction and must not"
        )
        _finish_after_receivers_ended_transaction(payment_id)
        return True
    if failures:
        savepoint.rollback()
        raise outbox.Incomplete(
            f"{len(failures)} payment_succeeded receiver(s) raised; "
            "the follow-up will run again"
        )
    savepoint.commit()
    payment.followed_up_at = utcnow()
    return True


def _finish_after_receivers_ended_transaction(payment_id: int) -> None:
    """Link the contact again if a receiver's rollback undid it; mark it followed up."""
    db = session()
    db.rollback()  # whatever the receiver left: committed, or already undone
    payment = db.scalars(
        select(Payment).where(Payment.id == payment_id).with_for_update()
    ).first()
    if payment is None:
        return
    if payment.contact_id is None:
        _payment_contact(payment)
    payment.followed_up_at = utcnow()


def _payment_contact(payment: Payment) -> Contact:
    """The contact a payment belongs to: linked before, known, or upserted."""
    directory = current_app.extensions["paylinks"].contacts
    address = Address.from_dict(payment.customer_address)
    if payment.contact_id is not None:
        known = directory.get(payment.owner_id, payment.contact_id)
        if known is not None:
            return known  # type: ignore[no-any-return]
    recipient_contact = _recipient_contact_id(payment)
    if recipient_contact is not None:
        # A personal link: the contact is known, and may update its details.
        updated = directory.update(
            payment.owner_id,
            recipient_contact,
            phone=payment.customer_phone,
            address=address or None,
        )
        if updated is not None:
            payment.contact_id = updated.id
            return updated  # type: ignore[no-any-return]
    claim = _claim_email(payment.owner_id, payment.customer_email)
    contact: Contact = directory.upsert(
        payment.owner_id,
        name=payment.customer_name,
        email=payment.customer_email or None,
        phone=payment.customer_phone,
        address=address,
    )
    if claim is not None:
        claim.contact_id = contact.id
    payment.contact_id = contact.id
    payment.contact_changes = (
        differences(
            contact,
            email=payment.customer_email or None,
            phone=payment.customer_phone,
            address=address,
        )
        or None
    )
    return contact


def _claim_email(owner: str, email: str | None) -> ContactClaim | None:
    """Hold (owner, email) for this transaction: one contact per email.

    The row is unique on (owner, lower(email)). A concurrent follow-up of the
    same new email waits on the insert (PostgreSQL) or on the write lock
    (SQLite) until this one commits, then finds the claim, and its upsert
    finds the contact this one made.
    """
    key = (email or "").strip().lower()
    if not key:
        return None
    db = session()
    stmt = (
        select(ContactClaim)
        .where(ContactClaim.owner_id == owner, ContactClaim.email_key == key)
        .with_for_update()
    )
    found = db.scalars(stmt).first()
    if found is not None:
        return found
    try:
        with db.begin_nested():
            claim = ContactClaim(owner_id=owner, email_key=key, created_at=utcnow())
            db.add(claim)
    except IntegrityError:
        return db.scalars(stmt.execution_options(populate_existing=True)).first()
    return claim


def _recipient_contact_id(payment: Payment) -> str | None:
    if payment.recipient_id is None:
        return None
    recipient = (
        session()
        .scalars(
            owned(Recipient, payment.owner_id).where(
                Recipient.id == payment.recipient_id
            )
        )
        .first()
    )
    return None if recipient is None else recipient.contact_id


def apply_contact_changes(owner: str, payment_id: int) -> Payment | None:
    """The merchant applies what a customer typed to the CRM's contact.

    Returns the payment, or ``None`` when *owner* has no such payment. A
    payment without pending changes is returned unchanged.
    """
    if not 0 < payment_id < MAX_ID:
        return None
    db = session()
    payment = db.scalars(
        owned(Payment, owner).where(Payment.id == payment_id).with_for_update()
    ).first()
    if payment is None:
        return None
    changes = payment.contact_changes
    if not changes or payment.contact_id is None:
        db.rollback()
        return payment
    directory = current_app.extensions["paylinks"].contacts
    directory.update(
        owner,
        payment.contact_id,
        email=changes.get("email"),
        phone=changes.get("phone"),
        address=Address.from_dict(changes.get("address")),
    )
    payment.contact_changes = None
    db.commit()
    return payment


def dismiss_contact_changes(owner: str, payment_id: int) -> Payment | None:
    """The merchant keeps the CRM's details; the typed ones are forgotten."""
    payment = get_owned(Payment, owner, payment_id)
    if payment is None:
        return None
    payment.contact_changes = None
    session().commit()
    return payment


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
    *,
    now: datetime | None = None,
    older_than: timedelta | None = None,
    coupon_id: int | None = None,
    link_id: int | None = None,
) -> int:
    """Mark pending payments older than the timeout failed (``abandoned``).

    Gives back the coupon redemption and the single-use link they held; with
    *coupon_id* or *link_id*, only the payments holding that one. A gateway
    that later reports one of them succeeded still moves it to succeeded.
    Commits; returns how many changed.
    """
    now = _now(now)
    cutoff = now - (older_than if older_than is not None else _pending_timeout())
    db = session()
    stmt = select(Payment).where(
        Payment.state == PaymentState.PENDING, Payment.created_at <= cutoff
    )
    if coupon_id is not None:
        stmt = stmt.where(Payment.coupon_id == coupon_id)
    if link_id is not None:
        stmt = stmt.where(Payment.link_id == link_id, Payment.holds_link.is_(True))
    stale = db.scalars(stmt.order_by(Payment.id).limit(500)).all()
    db.commit()
    changed = 0
    for payment in stale:
        # One short transaction each: a late success of one of them (which
        # locks the payment, then the coupon) never waits on this loop.
        if _fail(
            payment,
            now=now,
            code="abandoned",
            message="The customer did not finish paying.",
        ):
            changed += 1
        db.commit()
    return changed
