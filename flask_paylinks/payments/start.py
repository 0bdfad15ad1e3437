"""Starting a checkout: price it under the claims, store it pending, start it once.

:func:`start_checkout` prices the customer's choices on the server and
creates a *pending* :class:`~flask_paylinks.db.models.Payment` holding a
snapshot of what is bought. Its ``idempotency_key`` is derived from the
checkout attempt (a token the page carries), and the column is unique, so a
double click or a reload finds the same row instead of making another. The
gateway is asked with that same key.

Limits hold under concurrent checkouts on every database: starting a
checkout claims the coupon redemption and the single-use link with
conditional UPDATEs (:mod:`flask_paylinks.db.limits`) in the pending
payment's transaction; a payment that fails or is abandoned gives them back,
once (:mod:`flask_paylinks.payments.updates`).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy.exc import IntegrityError

from flask_paylinks import signals
from flask_paylinks.contacts import Address
from flask_paylinks.core import errors
from flask_paylinks.core.pricing import (
    COUPON_FIELD,
    COUPON_REJECTED,
    ITEMS_FIELD,
    Choices,
    PricingError,
    PricingRefused,
    Quote,
    terms_digest,
)
from flask_paylinks.db.limits import claim
from flask_paylinks.db.models import Coupon, Payment, PaymentLink, PaymentState, utcnow
from flask_paylinks.db.session import session
from flask_paylinks.gateways.base import (
    ChargeLine,
    DiscountTerms,
    GatewayError,
    GatewayRefused,
    PaymentRequest,
    RecurringTerms,
    StartedPayment,
)
from flask_paylinks.payments.prices import price
from flask_paylinks.payments.repository import (
    find_by_attempt,
    find_recipient,
    idempotency_key,
    link_in_progress,
)
from flask_paylinks.payments.updates import abandon_stale, settle_without_event
from flask_paylinks.sends.tracking import mark_started
from flask_paylinks.state import paylinks_state

log = logging.getLogger(__name__)

#: Letters of a payment reference: no 0/O or 1/I/L to misread on a phone.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_LENGTH = 8
EXPIRED = "This page expired. Check your order and try again."


class PaymentNotStarted(errors.Unavailable):
    """The gateway could not start the payment; nothing was charged.

    :attr:`quote` holds the terms the payment was stored on, to show again.
    """

    def __init__(
        self,
        message: str,
        quote: Quote | None = None,
        *,
        retryable: bool = False,
        expired: bool = False,
    ) -> None:
        super().__init__(message)
        self.quote = quote
        #: The payment's page outlived the gateway's memory of it: start again.
        self.expired = expired
        #: The gateway did not answer (it may have made the payment): the
        #: payment stays pending, and paying again with the same attempt asks
        #: with the same idempotency key, so it gets the same payment back.
        self.retryable = retryable


class NewTerms(errors.Conflict):
    """The terms the server computes now are not those the customer saw.

    :attr:`quote` holds the new terms, to show before asking again.
    """

    def __init__(self, priced: Quote) -> None:
        super().__init__("The order's terms changed since the page was loaded.")
        self.quote = priced


class LinkTaken(errors.Conflict):
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
    #: The terms priced for a new payment; ``None`` for an earlier one.
    quote: Quote | None = None


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
    :class:`NewTerms` is raised and nothing is stored. Raises
    :class:`~flask_paylinks.core.errors.InvalidInput` (the choices cannot be
    priced, the coupon has no redemption left, the attempt is not ours),
    :class:`LinkTaken` when a single-use link is already someone else's, and
    :class:`PaymentNotStarted` when the gateway refuses (the payment is
    stored as failed).
    """
    if not is_attempt(attempt):
        raise errors.InvalidInput({ITEMS_FIELD: EXPIRED})
    existing = find_by_attempt(link, attempt)
    if existing is not None:
        return Checkout(
            existing, created=False, started=_ensure_started(existing, attempt)
        )
    pending = _store_pending(
        link,
        choices=choices,
        customer=customer,
        attempt=attempt,
        agreed_terms=agreed_terms,
        recipient_token=recipient_token,
        now=now if now is not None else utcnow(),
    )
    if isinstance(pending, Payment):
        return Checkout(
            pending, created=False, started=_ensure_started(pending, attempt)
        )
    payment, priced = pending
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    signals.send_guarded(signals.checkout_started, app, payment=payment)
    try:
        started = _ensure_started(payment, attempt)
    except PaymentNotStarted as refused:
        raise PaymentNotStarted(
            str(refused), priced, retryable=refused.retryable
        ) from refused
    return Checkout(payment, created=True, started=started, quote=priced)


def _store_pending(
    link: PaymentLink,
    *,
    choices: Choices,
    customer: Customer,
    attempt: str,
    agreed_terms: str | None,
    recipient_token: str | None,
    now: datetime,
) -> tuple[Payment, Quote] | Payment:
    """Price and commit the pending payment with its claims: it and its terms.

    A concurrent submit of the same attempt that stored its payment first
    gives that payment instead.
    """
    db = session()
    for _ in range(3):
        try:
            priced = price(link, choices, now=now)
        except PricingRefused:
            db.rollback()
            raise
        digest = terms_digest(priced)
        if agreed_terms is not None and agreed_terms != digest:
            db.rollback()
            raise NewTerms(priced)
        payment = _new_payment(link, priced, customer, attempt, recipient_token, now)
        payment.terms_digest = digest
        db.add(payment)
        try:
            db.flush()
        except IntegrityError:
            db.rollback()
            existing = find_by_attempt(link, attempt)
            if existing is not None:
                return existing
            continue  # a reference collision: try another one
        if not _claim_limits(link, payment, priced, now):
            continue  # an abandoned checkout's claim was freed: again
        if payment.recipient_id is not None:
            mark_started(payment.recipient_id)
        db.commit()
        return payment, priced
    raise PaymentNotStarted("Could not store the payment; try again.")


def _snapshot(link: PaymentLink, priced: Quote) -> dict[str, Any]:
    return {"link": {"id": link.id, "slug": link.slug}, **priced.as_dict()}


def _new_payment(
    link: PaymentLink,
    priced: Quote,
    customer: Customer,
    attempt: str,
    recipient_token: str | None,
    now: datetime,
) -> Payment:
    recipient = find_recipient(link, recipient_token)
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
        gateway=paylinks_state().gateway.name,
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
    Raises :class:`LinkTaken` or
    :class:`~flask_paylinks.core.pricing.PricingRefused` when the limit is
    reached.
    """
    db = session()
    if link.single_use and not claim(PaymentLink.claims, link.id, cap=1):
        db.rollback()
        if abandon_stale(now=now, link_id=link.id):
            return False
        raise LinkTaken(in_progress=link_in_progress(link))
    coupon = priced.coupon
    if coupon is not None and coupon.id is not None:
        capped = claim(Coupon.times_claimed, coupon.id, cap=Coupon.max_redemptions)
        if not capped:
            db.rollback()
            if abandon_stale(now=now, coupon_id=coupon.id):
                return False
            raise PricingRefused([PricingError(COUPON_FIELD, COUPON_REJECTED)])
    return True


def attempt_tag(attempt: str) -> str:
    """A short digest naming a checkout attempt, safe to show the gateway.

    The attempt token itself finds the payment (and its client secret), so
    it stays with the customer's page.
    """
    return hashlib.sha256(f"paylinks-attempt:{attempt}".encode()).hexdigest()[:16]


def _payment_request(payment: Payment, attempt: str) -> PaymentRequest:
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
    lines = tuple(
        ChargeLine(
            product_id=int(line["product_id"]),
            name=str(line["name"]),
            unit_amount=int(line["unit_amount"]),
            quantity=int(line["quantity"]),
            interval=line.get("interval"),
            interval_count=line.get("interval_count"),
        )
        for line in snapshot.get("lines", [])
        if line.get("product_id") is not None
    )
    return PaymentRequest(
        lines=lines,
        discount=_discount_terms(payment, snapshot),
        idempotency_key=payment.idempotency_key,
        reference=payment.reference,
        amount=payment.amount_total,
        currency=payment.currency,
        description=f"{payment.reference}: {names}"[:500],
        customer_email=payment.customer_email,
        customer_name=payment.customer_name,
        recurring=recurring,
        metadata={"paylinks_payment": str(payment.id), "reference": payment.reference},
        owner_id=payment.owner_id,
        payment_id=payment.id,
        link_id=payment.link_id,
        attempt=attempt_tag(attempt),
    )


def _discount_terms(payment: Payment, snapshot: dict[str, Any]) -> DiscountTerms | None:
    """The snapshot's coupon, and the products its stored row limits it to."""
    terms = snapshot.get("coupon")
    if not terms:
        return None
    coupon = session().get(Coupon, payment.coupon_id) if payment.coupon_id else None
    limited = None
    if coupon is not None and not coupon.applies_to_all and coupon.product_ids:
        limited = frozenset(coupon.product_ids)
    return DiscountTerms(
        code=str(terms.get("code") or payment.coupon_code or ""),
        percent_off_bp=terms.get("percent_off_bp"),
        amount_off=terms.get("amount_off"),
        currency=terms.get("currency"),
        duration=str(terms.get("duration") or "once"),
        duration_in_months=terms.get("duration_in_months"),
        applies_to=limited,
    )


def _ensure_started(payment: Payment, attempt: str) -> StartedPayment | None:
    """Ask the gateway for the payment (same key, same answer); store its ids."""
    if payment.state != PaymentState.PENDING:
        return None
    gateway = paylinks_state().gateway
    try:
        started: StartedPayment = gateway.start_payment(
            _payment_request(payment, attempt)
        )
    except GatewayRefused as error:
        log.warning("gateway refused payment %s: %s", payment.reference, error)
        settle_without_event(payment, "gateway_error", str(error)[:500])
        raise PaymentNotStarted(str(error)) from error
    except GatewayError as error:
        # No answer: the gateway may have made it. Kept pending, so paying
        # again (the same attempt, the same key) gets that payment back; the
        # sweeper abandons it if nobody does.
        log.warning("no answer from the gateway for %s: %s", payment.reference, error)
        raise PaymentNotStarted(str(error), retryable=True) from error
    if payment.gateway_payment_id != started.gateway_payment_id:
        payment.gateway_payment_id = started.gateway_payment_id
        payment.gateway_customer_id = started.gateway_customer_id
        payment.gateway_subscription_id = started.gateway_subscription_id
        session().commit()
    return started


#: Said when a payment step is opened after the gateway forgot the payment.
STEP_EXPIRED = "This payment page expired. Start again; you have not been charged."


def resume_started(
    link: PaymentLink, reference: str, attempt: str
) -> tuple[Payment, StartedPayment | None]:
    """The payment of *attempt* on *link* and, while pending, the gateway's handle.

    For the browser's payment step, opened or reloaded: the gateway is asked
    again with the payment's own idempotency key and request, so it answers
    with the payment it made first, never a second one. Nothing is stored
    and nothing settled here. Raises
    :class:`~flask_paylinks.core.errors.NotFound` when *reference* is not
    the attempt's payment, and :class:`PaymentNotStarted` when the gateway
    cannot be reached or answers with another payment.
    """
    payment = find_by_attempt(link, attempt) if is_attempt(attempt) else None
    if payment is None or payment.reference != reference:
        raise errors.NotFound("No such payment.")
    if payment.state != PaymentState.PENDING:
        return payment, None
    gateway = paylinks_state().gateway
    try:
        started = gateway.start_payment(_payment_request(payment, attempt))
    except GatewayRefused as error:
        raise PaymentNotStarted(str(error)) from error
    except GatewayError as error:
        raise PaymentNotStarted(str(error), retryable=True) from error
    if payment.gateway_payment_id not in (None, started.gateway_payment_id):
        log.warning("gateway answered payment %s with another id", reference)
        raise PaymentNotStarted(STEP_EXPIRED, expired=True)
    return payment, started
