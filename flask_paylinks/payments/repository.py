"""Look-ups of payments and what they refer to, scoped to their owner."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from flask_paylinks.core.errors import NotFound
from flask_paylinks.core.rules import normalise_code
from flask_paylinks.db.models import (
    Coupon,
    Payment,
    PaymentLink,
    PaymentState,
    Recipient,
)
from flask_paylinks.db.scoping import owned
from flask_paylinks.db.session import session


def idempotency_key(link: PaymentLink, attempt: str) -> str:
    """The key of one checkout attempt on one link: the same inputs, the same key."""
    return hashlib.sha256(f"paylinks:{link.id}:{attempt}".encode()).hexdigest()


def find_coupon(owner: str, code: str) -> Coupon | None:
    """The owner's coupon a typed *code* names (any case), or ``None``."""
    key = normalise_code(code)
    if key is None:
        return None
    stmt = owned(Coupon, owner).where(Coupon.code_key == key)
    return session().scalars(stmt).first()


def find_by_attempt(link: PaymentLink, attempt: str) -> Payment | None:
    """The payment an earlier submit of this attempt made, if any."""
    key = idempotency_key(link, attempt)
    stmt = owned(Payment, link.owner_id).where(Payment.idempotency_key == key)
    return session().scalars(stmt).first()


def find_recipient(link: PaymentLink, token: str | None) -> Recipient | None:
    """The recipient of *link* a personal URL's *token* names, or ``None``."""
    if not token or len(token) > 64:
        return None
    stmt = owned(Recipient, link.owner_id).where(
        Recipient.token == token, Recipient.link_id == link.id
    )
    return session().scalars(stmt).first()


def link_in_progress(link: PaymentLink) -> bool:
    """Whether a pending payment holds the single-use *link* now."""
    stmt = owned(Payment, link.owner_id).where(
        Payment.link_id == link.id,
        Payment.holds_link.is_(True),
        Payment.state == PaymentState.PENDING,
    )
    return session().scalars(stmt.limit(1)).first() is not None


def get_by_reference(link: PaymentLink, reference: str) -> Payment:
    """The payment of *link* with this receipt reference; :class:`NotFound` if none."""
    found = None
    if reference and len(reference) <= 32:
        stmt = owned(Payment, link.owner_id).where(
            Payment.reference == reference, Payment.link_id == link.id
        )
        found = session().scalars(stmt).first()
    if found is None:
        raise NotFound(f"no payment {reference!r} on link {link.id}")
    return found


def lock_payment(payment_id: int) -> Payment | None:
    """The payment *payment_id*, locked for this transaction (any owner: jobs)."""
    stmt = select(Payment).where(Payment.id == payment_id).with_for_update()
    return session().scalars(stmt).first()
