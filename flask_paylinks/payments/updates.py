"""What a gateway reports, applied once: the payment's state moves and what follows.

Whatever the gateway says (its :meth:`~flask_paylinks.gateways.base.Gateway.confirm`
step, a Stripe webhook) comes in as a
:class:`~flask_paylinks.gateways.PaymentUpdate` and goes through
:func:`apply_update`, the one function every gateway uses. Each event is
applied once (``GatewayEvent`` is unique on gateway and event id), and
pending -> succeeded | failed happens once whatever the order or number of
reports; a succeeded payment never goes back to failed. On success the
coupon's redemption is counted and, in the same transaction, the follow-ups
are owed as outbox rows (:mod:`flask_paylinks.payments.followups`).

A payment that fails or is abandoned gives back the coupon redemption and
the single-use link it held, once (:func:`abandon_stale`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from flask_paylinks import signals
from flask_paylinks.db.limits import claim, release
from flask_paylinks.db.models import (
    Coupon,
    GatewayEvent,
    LinkStatus,
    Payment,
    PaymentLink,
    PaymentState,
    Recipient,
    utcnow,
)
from flask_paylinks.db.scoping import owned
from flask_paylinks.db.session import session
from flask_paylinks.gateways.base import Outcome, PaymentUpdate
from flask_paylinks.jobs import outbox
from flask_paylinks.payments.followups import FOLLOWUP_KINDS
from flask_paylinks.state import paylinks_state

log = logging.getLogger(__name__)

#: Told ``(reference, committed)`` right before (``False``) and right after
#: (``True``) a success is committed: the web layer's database-outage page
#: then says truthfully whether the customer was charged.
ChargeWatcher = Callable[[str, bool], None]
_charge_watchers: list[ChargeWatcher] = []


def watch_charges(watcher: ChargeWatcher) -> None:
    """Call *watcher* around every commit of a payment's success (once per watcher)."""
    if watcher not in _charge_watchers:
        _charge_watchers.append(watcher)


def _tell_watchers(reference: str, *, committed: bool) -> None:
    for watcher in _charge_watchers:
        watcher(reference, committed)


@dataclass(frozen=True, slots=True)
class Applied:
    """What :func:`apply_event` did: the payment (if known), the states it entered."""

    payment: Payment | None
    entered: list[PaymentState] = field(default_factory=list)
    #: The reference, read before the commit (``""`` without a payment).
    reference: str = ""
    #: True when the event was applied before: nothing was done this time.
    duplicate: bool = False


def apply_update(gateway_name: str, update: PaymentUpdate) -> Payment | None:
    """Apply one gateway event to its payment, once; return the payment.

    Every gateway's reports go through here. The payment row is locked
    first, so concurrent copies of an event queue up and the later ones find
    it recorded. An event for a payment we do not know yet is stored
    unprocessed and applied when it is delivered again.
    """
    return apply_event(gateway_name, update).payment


def apply_event(gateway_name: str, update: PaymentUpdate) -> Applied:
    """:func:`apply_update`, also saying which states the payment entered."""
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
    event = _new_event(gateway_name, update, now)
    if event is None:
        return Applied(payment, duplicate=True)
    if payment is None:
        db.commit()
        log.info("gateway event %s is for an unknown payment", update.event_id)
        return Applied(None)

    event.owner_id = payment.owner_id
    event.payment_id = payment.id
    event.processed_at = now
    changes = _transition(payment, update, now)
    owed = _owe_followups(payment, changes, now)
    link_id = payment.link_id
    reference, succeeded = payment.reference, PaymentState.SUCCEEDED in changes
    if succeeded:
        _tell_watchers(reference, committed=False)
    db.commit()
    if succeeded:
        # Before anything reads the (now expired) payment again.
        _tell_watchers(reference, committed=True)
    _after_transition(payment, changes, owed, link_id)
    return Applied(payment, changes, reference)


def _new_event(
    gateway_name: str, update: PaymentUpdate, now: datetime
) -> GatewayEvent | None:
    """The event's row to process now; ``None`` (rolled back) when it was applied."""
    db = session()
    event = db.scalars(
        select(GatewayEvent).where(
            GatewayEvent.gateway == gateway_name,
            GatewayEvent.event_id == update.event_id,
        )
    ).first()
    if event is not None and event.processed_at is not None:
        db.rollback()
        return None
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
            return None
    return event


def _owe_followups(
    payment: Payment, entered: list[PaymentState], now: datetime
) -> list[int]:
    """The follow-ups a success owes, as outbox items in its transaction; their ids."""
    if PaymentState.SUCCEEDED not in entered:
        return []
    items = [
        outbox.add(kind, payment.id, payment.owner_id, now=now)
        for kind in FOLLOWUP_KINDS
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
    implies_success = update.outcome in (
        Outcome.SUCCEEDED,
        Outcome.REFUNDED,
        Outcome.PARTLY_REFUNDED,
    )
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
    if update.amount_refunded is not None:
        _raise_refunded(payment, update.amount_refunded)
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


def _raise_refunded(payment: Payment, figure: int) -> None:
    """Raise the payment's refunded amount to the gateway's *figure*, never lower it.

    Ours may be higher while a refund of ours is still on its way to the
    gateway; a figure past the total is not the payment's and changes nothing.
    """
    result: Any = session().execute(
        update(Payment)
        .where(
            Payment.id == payment.id,
            Payment.amount_refunded < figure,
            Payment.amount_total >= figure,
        )
        .values(amount_refunded=figure)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:
        set_committed_value(payment, "amount_refunded", figure)


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


def settle_without_event(payment: Payment, code: str, message: str) -> None:
    """Fail a pending payment no gateway event will settle (the gateway refused it)."""
    if not _fail(payment, now=utcnow(), code=code, message=message):
        session().rollback()
        return
    session().commit()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    signals.send_guarded(signals.payment_failed, app, payment=payment)


def _pending_timeout() -> timedelta:
    return timedelta(seconds=int(current_app.config["PAYLINKS_PENDING_TIMEOUT"]))


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
    now = now if now is not None else utcnow()
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


def settle_stale(now: datetime) -> int:
    """The sweeper's part: abandon payments the gateway can no longer complete."""
    return abandon_stale(now=now, older_than=_settle_after())


def _settle_after() -> timedelta:
    """How old a pending payment is when the gateway can no longer complete it."""
    gateway = paylinks_state().gateway
    timeout = int(current_app.config["PAYLINKS_PENDING_TIMEOUT"])
    settle = getattr(gateway, "abandon_after", None)
    return timedelta(seconds=min(timeout, int(settle)) if settle else timeout)
