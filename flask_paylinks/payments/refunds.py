"""Refunds of a paid payment, full or partial, each asked of the gateway once.

:func:`refund` checks what the merchant asked, then **claims** the amount on
the payment with one conditional ``UPDATE`` (``amount_refunded + :amount <=
amount_total``, while it is succeeded), in the transaction that stores the
:class:`~flask_paylinks.db.models.Refund` row. Of two concurrent refunds only
as many get through as the total allows, on SQLite as on PostgreSQL (see
:mod:`flask_paylinks.db.limits`). The row is unique on its idempotency key
(one per rendered refund form): the same key again finds the first refund and
the gateway is not called a second time.

The gateway is called after that commit, with the same key. On success the
refund is marked succeeded; a payment refunded in full moves to *refunded*
through :func:`~flask_paylinks.payments.updates.apply_event`, so
``payment_refunded`` is sent once. On a gateway error the claim is given back
and the refund marked failed with what the gateway said. Should the gateway
have made the refund anyway (an answer lost on the way), its
``charge.refunded`` webhook raises the payment's figure to the gateway's.

A refund left *pending* (the gateway did not answer, or the process died
between the claim and the gateway's answer) is asked again, with its own
key, by the reconciler (:func:`settle_pending`, from
:mod:`flask_paylinks.payments.reconcile`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from flask_paylinks.core.errors import InvalidInput, NotFound
from flask_paylinks.core.money import Money
from flask_paylinks.db.models import (
    Payment,
    PaymentState,
    Refund,
    RefundReason,
    RefundState,
)
from flask_paylinks.db.scoping import get_owned, owned
from flask_paylinks.db.session import session
from flask_paylinks.gateways.base import (
    GatewayError,
    GatewayRefused,
    Outcome,
    PaymentUpdate,
    RefundRequest,
    RefundResult,
)
from flask_paylinks.payments.updates import apply_event
from flask_paylinks.state import paylinks_state

#: What the refund form offers, in its order, with the words shown.
REASONS: dict[str, str] = {
    RefundReason.REQUESTED_BY_CUSTOMER: "Requested by the customer",
    RefundReason.DUPLICATE: "Duplicate payment",
    RefundReason.FRAUDULENT: "Fraudulent payment",
}


def refund(
    owner: str,
    payment_id: Any,
    amount: int | None,
    reason: str,
    note: str,
    idempotency_key: str,
) -> Refund:
    """Refund *amount* (minor units) of *owner*'s payment *payment_id*, once per key.

    Returns the refund: succeeded, failed with the gateway's refusal (the
    amount is then refundable again), or pending when the gateway did not
    answer (the reconciler asks again with the same key). The same
    *idempotency_key* again returns the first refund. Raises
    :class:`NotFound` for a payment that is not *owner*'s,
    :class:`InvalidInput` keyed ``amount`` or ``reason``.
    """
    key = (idempotency_key or "").strip()
    if not 16 <= len(key) <= 64:
        raise InvalidInput({"amount": "The form has expired; reload the page."})
    earlier = _by_key(owner, key)
    if earlier is not None:
        return earlier
    payment = get_owned(Payment, owner, payment_id)
    if payment is None:
        raise NotFound("No such payment.")
    _check(payment, amount, reason)
    assert amount is not None
    row, made = _claim(payment, amount, reason, (note or "").strip()[:500], key)
    if not made:  # a concurrent request with this key stored it: it asks
        return row
    return _ask_gateway(payment, row)


def refunds_of(owner: str, payment_id: int) -> list[Refund]:
    """The refunds of *owner*'s payment, oldest first."""
    return list(
        session()
        .scalars(
            owned(Refund, owner)
            .where(Refund.payment_id == payment_id)
            .order_by(Refund.created_at, Refund.id)
        )
        .all()
    )


def _by_key(owner: str, key: str) -> Refund | None:
    row = session().scalars(select(Refund).where(Refund.idempotency_key == key)).first()
    if row is None:
        return None
    if row.owner_id != owner:
        raise NotFound("No such payment.")
    return row


def _check(payment: Payment, amount: int | None, reason: str) -> None:
    """The merchant's request, as errors keyed by field (raises InvalidInput)."""
    errors: dict[str, str] = {}
    if reason not in REASONS:
        errors["reason"] = "Choose a reason."
    left = payment.refundable.amount
    if not payment.can_be_refunded:
        errors["amount"] = "Only a paid payment with something left can be refunded."
    elif amount is None or amount <= 0:
        errors["amount"] = "Enter an amount above zero."
    elif amount > left:
        errors["amount"] = (
            f"At most {Money(left, payment.currency).format()} is left to refund."
        )
    if errors:
        raise InvalidInput(errors)


def _claim(
    payment: Payment, amount: int, reason: str, note: str, key: str
) -> tuple[Refund, bool]:
    """Take *amount* on the payment and store the pending refund, in one commit.

    Returns the refund and whether this call made it (``False``: a concurrent
    request with the same key made it first, and this claim was rolled back).
    """
    db = session()
    result: Any = db.execute(
        update(Payment)
        .where(
            Payment.id == payment.id,
            Payment.state == PaymentState.SUCCEEDED,
            Payment.amount_refunded + amount <= Payment.amount_total,
        )
        .values(amount_refunded=Payment.amount_refunded + amount)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.rollback()
        db.refresh(payment)
        _check(payment, amount, reason)  # says what is left now
        raise InvalidInput({"amount": "Nothing is left to refund."})
    row = Refund(
        owner_id=payment.owner_id,
        payment_id=payment.id,
        amount=amount,
        currency=payment.currency,
        reason=reason,
        note=note,
        state=RefundState.PENDING,
        idempotency_key=key,
    )
    db.add(row)
    try:
        db.commit()
    except IntegrityError:
        # The same key was stored by a concurrent request: the claim goes too.
        db.rollback()
        earlier = _by_key(payment.owner_id, key)
        if earlier is None:
            raise
        return earlier, False
    return row, True


def _ask_gateway(payment: Payment, row: Refund) -> Refund:
    """Call the gateway for *row*; settle the refund and the payment by its answer."""
    gateway = paylinks_state().gateway
    request = _request(payment, row)
    try:
        result = gateway.refund(request)
    except GatewayRefused as refused:
        return _give_back(row, str(refused))
    except GatewayError:
        # Unanswered: the gateway may have refunded. The claim is kept and the
        # refund stays pending, asked again with its key by the reconciler;
        # giving it back would let another form refund the money twice.
        session().refresh(row)
        return row
    return _settle(payment, row, result)


def _request(payment: Payment, row: Refund) -> RefundRequest:
    return RefundRequest(
        gateway_payment_id=payment.gateway_payment_id or "",
        amount=row.amount,
        currency=row.currency,
        reason=row.reason,
        idempotency_key=row.idempotency_key,
        owner_id=payment.owner_id,
    )


def settle_pending(row: Refund) -> Refund:
    """Ask the gateway again for a refund left *pending* (a crash before its answer).

    The same idempotency key, so the gateway makes one refund whatever it did
    the first time; the row and the payment are then settled by its answer.
    When the gateway cannot be reached the row stays pending, to be asked
    again later; when it refuses, the refund fails and its amount is given
    back. Returns the refund as it is now.
    """
    db = session()
    payment = db.get(Payment, row.payment_id)
    if payment is None or row.state != RefundState.PENDING:
        return row
    try:
        result = paylinks_state().gateway.refund(_request(payment, row))
    except GatewayRefused as refused:
        return _give_back(row, str(refused))
    except GatewayError:
        db.rollback()
        raise
    return _settle(payment, row, result)


def pending_refunds(older_than: datetime, gateway: str, limit: int) -> list[Refund]:
    """Refunds of *gateway*'s payments still *pending* since before *older_than*."""
    return list(
        session()
        .scalars(
            select(Refund)
            .join(Payment, Payment.id == Refund.payment_id)
            .where(
                Refund.state == RefundState.PENDING,
                Refund.created_at < older_than,
                Payment.gateway == gateway,
            )
            .order_by(Refund.id)
            .limit(limit)
        )
        .all()
    )


def _settle(payment: Payment, row: Refund, result: RefundResult) -> Refund:
    """Record the gateway's answer on *row*; a full refund moves the payment."""
    db = session()
    if not result.succeeded:
        row.gateway_refund_id = result.gateway_refund_id
        return _give_back(row, result.failure_message or "The refund failed.")
    row.state = RefundState.SUCCEEDED
    row.gateway_refund_id = result.gateway_refund_id
    db.commit()
    db.refresh(payment)
    if payment.amount_refunded >= payment.amount_total:
        apply_event(
            payment.gateway,
            PaymentUpdate(
                event_id=f"paylinks_refund_{row.id}",
                type="paylinks.refund.succeeded",
                gateway_payment_id=payment.gateway_payment_id or "",
                outcome=Outcome.REFUNDED,
                payload={"refund": row.id, "gateway_refund_id": row.gateway_refund_id},
            ),
        )
    db.refresh(row)
    return row


def _give_back(row: Refund, message: str) -> Refund:
    """Mark *row* failed and give its amount back to the payment, once."""
    db = session()
    moved: Any = db.execute(
        update(Refund)
        .where(Refund.id == row.id, Refund.state == RefundState.PENDING)
        .values(state=RefundState.FAILED, failure_message=message[:500])
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount == 1:
        db.execute(
            update(Payment)
            .where(Payment.id == row.payment_id, Payment.amount_refunded >= row.amount)
            .values(amount_refunded=Payment.amount_refunded - row.amount)
            .execution_options(synchronize_session=False)
        )
    db.commit()
    db.refresh(row)
    return row
