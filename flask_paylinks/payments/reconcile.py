"""The reconciler: ask the gateway about payments whose webhook never came.

:func:`reconcile` takes the payments still *pending* longer than
``PAYLINKS_RECONCILE_AFTER_MINUTES`` (a bounded batch, oldest first), asks the
gateway what became of each (:meth:`~flask_paylinks.gateways.base.Gateway.look_up`)
and applies the answer **through the path webhooks take**: the amount and
currency are checked against the payment's snapshot
(:func:`~flask_paylinks.payments.webhooks.mismatch`; a mismatch is parked for
review, never applied), then :func:`~flask_paylinks.payments.updates.apply_event`
moves the payment under the same state machine. The look-up's event id is
stable per state (``lookup:<pi>:<status>``), so a second run, or a webhook
arriving after it, changes nothing: one success, one set of follow-ups.

Two leftovers of a crash are settled too:

- **A pending payment without a gateway id**: the gateway made the
  PaymentIntent but our database failed before its id was stored. The
  customer's browser never got its client secret (it is handed out only after
  that commit), so no money can have moved on it. The reconciler finds it by
  its metadata (:meth:`~flask_paylinks.gateways.base.Gateway.find_started`:
  Stripe's Search on ``metadata['reference']``, our random reference; the
  owner checked) and stores its id, so the payment is looked up like any
  other. Re-creating it with the row's idempotency key is not an option: the
  request also names the checkout attempt, which is not stored, and Stripe
  answers a key reused with other parameters with an error.
- **A refund left pending** (claimed, the gateway's answer never recorded):
  asked again with its own idempotency key, so the gateway makes one refund
  (:func:`~flask_paylinks.payments.refunds.settle_pending`).

Each payment and each refund runs in its own transactions, and no
transaction is held open while the gateway is asked; one that fails is
logged and counted, and the rest go on.

The receipt page calls :func:`check_pending` when it would show a pending
payment: one look-up, at most every :data:`RECEIPT_CHECK_SECONDS` per
payment, so a customer back from Stripe sees what is true, whatever the query
string says. The worker runs :func:`reconcile_due` from its sweep loop.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from flask_paylinks.db.models import GatewayEvent, Payment, PaymentState, utcnow
from flask_paylinks.db.session import reset_session, session
from flask_paylinks.gateways.base import GatewayError, PaymentUpdate
from flask_paylinks.payments import refunds
from flask_paylinks.payments.updates import apply_event
from flask_paylinks.payments.webhooks import REVIEW_KEY, mismatch
from flask_paylinks.state import paylinks_state

log = logging.getLogger(__name__)

#: Payments (and refunds) looked at in one run, at most.
BATCH = 100
#: The receipt page asks the gateway about one payment at most this often.
RECEIPT_CHECK_SECONDS = 5.0

_CHECKED = "reconcile.receipt_checks"
_LAST_RUN = "reconcile.last_run"


@dataclass
class Reconciled:
    """What one :func:`reconcile` run did, in counts."""

    looked_up: int = 0
    succeeded: int = 0
    failed: int = 0
    #: The gateway says they are still unsettled (waiting for the customer).
    still_pending: int = 0
    #: Flagged for a person (the gateway's amount or currency differs).
    parked: int = 0
    #: Payments without a gateway id whose PaymentIntent was found.
    found: int = 0
    refunds_succeeded: int = 0
    refunds_failed: int = 0
    #: Payments and refunds that could not be settled now (logged; next run).
    errors: int = 0


def _after() -> timedelta:
    minutes = int(current_app.config["PAYLINKS_RECONCILE_AFTER_MINUTES"])
    return timedelta(minutes=minutes)


def reconcile(
    *,
    older_than: timedelta | None = None,
    now: datetime | None = None,
    limit: int = BATCH,
) -> Reconciled:
    """Settle payments pending longer than *older_than*, and refunds left pending.

    *older_than* defaults to ``PAYLINKS_RECONCILE_AFTER_MINUTES``. Returns the
    counts; never raises for one payment's failure.
    """
    cutoff = (now or utcnow()) - (older_than if older_than is not None else _after())
    gateway = paylinks_state().gateway
    db = session()
    ids = list(
        db.scalars(
            select(Payment.id)
            .where(
                Payment.state == PaymentState.PENDING,
                Payment.gateway == gateway.name,
                Payment.created_at <= cutoff,
            )
            .order_by(Payment.id)
            .limit(limit)
        )
    )
    db.commit()
    done = Reconciled()
    for payment_id in ids:
        try:
            said = reconcile_payment(payment_id)
        except Exception as error:
            _failed("payment", payment_id, error)
            done.errors += 1
            continue
        done.found += said.endswith("+found")
        said = said.removesuffix("+found")
        done.looked_up += said != "skipped"
        if said in ("succeeded", "failed", "parked"):
            setattr(done, said, getattr(done, said) + 1)
        elif said == "pending":
            done.still_pending += 1
    for row in refunds.pending_refunds(cutoff, gateway.name, limit):
        try:
            settled = refunds.settle_pending(row)
        except Exception as error:
            _failed("refund", row.id, error)
            done.errors += 1
            continue
        if settled.state == "succeeded":
            done.refunds_succeeded += 1
        elif settled.state == "failed":
            done.refunds_failed += 1
    return done


def _failed(kind: str, row_id: int, error: Exception) -> None:
    reset_session()
    if isinstance(error, GatewayError):
        log.warning("reconciler: %s %s not settled now: %s", kind, row_id, error)
    else:
        log.exception("reconciler: %s %s failed", kind, row_id)


def reconcile_payment(payment_id: int) -> str:
    """Look *payment_id* up at the gateway and apply the answer; say what happened.

    Returns ``"succeeded"``, ``"failed"``, ``"parked"``, ``"pending"`` (the
    gateway has nothing final), ``"unchanged"`` (applied before) or
    ``"skipped"`` (not pending, another gateway's, or no PaymentIntent found),
    with ``"+found"`` when its missing gateway id was found first. Raises
    :class:`~flask_paylinks.gateways.base.GatewayError` when the gateway
    cannot be asked.
    """
    db = session()
    gateway = paylinks_state().gateway
    payment = db.get(Payment, payment_id)
    if (
        payment is None
        or payment.state != PaymentState.PENDING
        or payment.gateway != gateway.name
    ):
        db.commit()
        return "skipped"
    intent, owner, reference = (
        payment.gateway_payment_id,
        payment.owner_id,
        payment.reference,
    )
    db.commit()  # no transaction stays open while the gateway is asked
    found = ""
    if not intent:
        intent = gateway.find_started(reference, owner)
        if intent is None:
            return "skipped"
        _store_intent(payment_id, intent)
        found = "+found"
    reported: PaymentUpdate | None = gateway.look_up(intent, owner)
    if reported is None:
        return "pending" + found
    return _apply(payment_id, reported) + found


def _store_intent(payment_id: int, intent: str) -> None:
    """Record the found gateway id on the payment, unless one was stored meanwhile."""
    db = session()
    db.execute(
        update(Payment)
        .where(Payment.id == payment_id, Payment.gateway_payment_id.is_(None))
        .values(gateway_payment_id=intent)
        .execution_options(synchronize_session=False)
    )
    db.commit()


def _apply(payment_id: int, reported: PaymentUpdate) -> str:
    """Check *reported* against the payment's snapshot, then apply it once."""
    db = session()
    payment = db.get(Payment, payment_id)
    if payment is None:
        return "skipped"
    if reported.amount is not None or reported.currency is not None:
        problem = mismatch(reported.amount, reported.currency, payment)
        if problem is not None:
            _park(payment, reported, problem)
            return "parked"
    applied = apply_event(payment.gateway, reported)
    if PaymentState.SUCCEEDED in applied.entered:
        return "succeeded"
    if PaymentState.FAILED in applied.entered:
        return "failed"
    return "unchanged"


def _park(payment: Payment, reported: PaymentUpdate, problem: str) -> None:
    """Store the look-up unapplied, flagged for review (once per look-up id)."""
    db = session()
    known = db.scalars(
        select(GatewayEvent.id).where(
            GatewayEvent.gateway == payment.gateway,
            GatewayEvent.event_id == reported.event_id,
        )
    ).first()
    if known is not None:
        db.commit()
        return
    db.add(
        GatewayEvent(
            gateway=payment.gateway,
            event_id=reported.event_id,
            type=reported.type[:100],
            owner_id=payment.owner_id,
            payment_id=payment.id,
            payload={
                **reported.payload,
                REVIEW_KEY: {"reason": "amount_mismatch", "detail": problem},
            },
            received_at=utcnow(),
            processed_at=None,
        )
    )
    try:
        db.commit()
    except IntegrityError:
        db.rollback()  # a concurrent run parked it first
        return
    log.warning(
        "look-up %s of payment %s parked for review: %s",
        reported.event_id,
        payment.reference,
        problem,
    )


def check_pending(payment: Payment) -> None:
    """Before showing *payment* pending, ask the gateway once (rate-limited).

    At most once per :data:`RECEIPT_CHECK_SECONDS` per payment in this
    process; what the gateway says is applied as :func:`reconcile_payment`
    applies it. A gateway that cannot be reached leaves the payment as it is
    (the page says it is being confirmed). The caller reads *payment* again.
    """
    if payment.state != PaymentState.PENDING:
        return
    checks: dict[int, float] = paylinks_state().extras.setdefault(_CHECKED, {})
    now = time.monotonic()
    if now - checks.get(payment.id, -math.inf) < RECEIPT_CHECK_SECONDS:
        return
    if len(checks) > 10_000:  # forget the old ones; the window is seconds long
        for key in [k for k, at in checks.items() if now - at >= 60]:
            checks.pop(key, None)
    checks[payment.id] = now
    try:
        reconcile_payment(payment.id)
    except GatewayError as error:
        reset_session()
        log.warning("receipt: payment %s not looked up: %s", payment.id, error)


def reconcile_due() -> Reconciled | None:
    """The worker's part: :func:`reconcile` when ``PAYLINKS_RECONCILE_SECONDS`` passed.

    Called after every sweep; runs at most that often per process. ``None``
    when it was not due.
    """
    extras: dict[str, Any] = paylinks_state().extras
    every = int(current_app.config["PAYLINKS_RECONCILE_SECONDS"])
    now = time.monotonic()
    if now - extras.get(_LAST_RUN, -math.inf) < every:
        return None
    extras[_LAST_RUN] = now
    done = reconcile()
    if done.looked_up or done.errors or done.refunds_succeeded or done.refunds_failed:
        log.info("reconciler: %s", done)
    return done


def register() -> None:
    """Have the worker's sweep loop run :func:`reconcile_due`."""
    from flask_paylinks.jobs.queue import register_periodic

    register_periodic(reconcile_due)
