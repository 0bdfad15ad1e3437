"""The customer's receipt by email, sent once per payment by a job.

It is an outbox follow-up (``payment.receipt``) owed in the transaction in
which the payment succeeds, run by the worker (or inline without Redis) and
run again by the sweeper until it is done. A receipt is claimed with a
conditional ``UPDATE ... WHERE receipt_sent_at IS NULL`` before it is handed
to the email sender, so two runs never send it twice; when the sender says
"try later" the claim is given back and the job fails, to be retried.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import current_app, render_template
from sqlalchemy import update

from flask_paylinks import signals
from flask_paylinks.db.models import Payment, PaymentState, utcnow
from flask_paylinks.db.session import session
from flask_paylinks.merchants import MerchantProfile, merchant_profile
from flask_paylinks.messaging.base import MessageInDoubt, MessageRejected
from flask_paylinks.payments.presenters import next_charge
from flask_paylinks.state import paylinks_state

log = logging.getLogger(__name__)

PAID_STATES = (PaymentState.SUCCEEDED, PaymentState.REFUNDED)


@dataclass(frozen=True, slots=True)
class ReceiptEmail:
    """One receipt, ready for an :class:`~flask_paylinks.messaging.EmailSender`."""

    to: str
    subject: str
    text: str
    html: str


def build_receipt(payment: Payment, merchant: MerchantProfile) -> ReceiptEmail:
    """The receipt of *payment*: its lines, discount, total, merchant, next charge.

    Rendered from ``paylinks/email/receipt.txt`` and ``receipt.html``, which a
    host may override like any other template.
    """
    context: dict[str, Any] = {
        "payment": payment,
        "merchant": merchant,
        "lines": (payment.snapshot or {}).get("lines", []),
        "upcoming": next_charge(payment, merchant),
    }
    name = merchant.name or "your payment"
    return ReceiptEmail(
        to=payment.customer_email,
        subject=f"Your receipt from {name} ({payment.reference})",
        text=render_template("paylinks/email/receipt.txt", **context),
        html=render_template("paylinks/email/receipt.html", **context),
    )


def send_receipt(payment_id: int) -> bool:
    """Email the customer the receipt of a succeeded payment, once.

    Returns whether this call sent it. Raises
    :class:`~flask_paylinks.messaging.MessageDeferred` (after giving the
    claim back) when the email sender cannot take the message now, so the
    job is retried.
    """
    db = session()
    payment = db.get(Payment, payment_id)
    if payment is None or not payment.customer_email:
        return False
    if payment.state not in PAID_STATES or payment.receipt_sent_at is not None:
        return False
    # Built before the claim: a template that fails costs no receipt.
    email = build_receipt(payment, merchant_profile(payment.owner_id))
    claimed: Any = db.execute(
        update(Payment)
        .where(Payment.id == payment_id, Payment.receipt_sent_at.is_(None))
        .values(receipt_sent_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        db.rollback()
        return False
    db.commit()
    sender = paylinks_state().email
    try:
        sender.send_email(email.to, email.subject, email.text, email.html)
    except MessageRejected as error:
        # The address is refused for good: trying again would not help.
        log.warning("receipt of %s refused: %s", email.subject, error)
        return False
    except MessageInDoubt as error:
        # It may have arrived: a second receipt is worse than none missing.
        log.warning("receipt of %s may not have gone out: %s", email.subject, error)
        return False
    except Exception:
        # Deferred, or any failure of a host's sender: give the claim back so
        # the outbox tries again.
        db.rollback()
        db.execute(
            update(Payment)
            .where(Payment.id == payment_id)
            .values(receipt_sent_at=None)
            .execution_options(synchronize_session=False)
        )
        db.commit()
        raise
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    signals.send_guarded(
        signals.message_sent,
        app,
        contact_id=payment.contact_id,
        channel="email",
        to=email.to,
        body=email.text,
    )
    return True
