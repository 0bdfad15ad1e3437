"""The follow-ups a successful payment owes, run by the outbox.

A success owes two follow-ups, each an outbox item written with the success
(:mod:`flask_paylinks.jobs.outbox`): :func:`follow_up_success` upserts the
contact, links the payment to it and sends ``payment_succeeded``; the receipt
is emailed (:mod:`flask_paylinks.payments.receipts`). :func:`register` tells
the outbox which function runs each kind.
"""

from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from flask_paylinks import signals
from flask_paylinks.contacts import Address, Contact, differences
from flask_paylinks.db.models import (
    ContactClaim,
    Payment,
    PaymentState,
    Recipient,
    utcnow,
)
from flask_paylinks.db.scoping import owned
from flask_paylinks.db.session import session
from flask_paylinks.jobs import outbox
from flask_paylinks.payments.repository import lock_payment
from flask_paylinks.state import paylinks_state

log = logging.getLogger(__name__)

#: The outbox kinds of a success's follow-ups.
PAYMENT_FOLLOWUP = "payment.followup"
PAYMENT_RECEIPT = "payment.receipt"
FOLLOWUP_KINDS = (PAYMENT_FOLLOWUP, PAYMENT_RECEIPT)


def register() -> None:
    """Tell the outbox how to run a success's follow-ups and settle stale payments."""
    from flask_paylinks.payments.updates import settle_stale

    outbox.register(PAYMENT_FOLLOWUP, follow_up_success)
    outbox.register(PAYMENT_RECEIPT, send_receipt)
    outbox.register_settler(settle_stale)


def send_receipt(payment_id: int) -> bool:
    """Email the receipt of *payment_id* (:mod:`flask_paylinks.payments.receipts`)."""
    # Imported when run: the receipt email is drawn with the checkout's
    # rendering helpers, which import this package.
    from flask_paylinks.payments.receipts import send_receipt as send

    return send(payment_id)


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
    payment = lock_payment(payment_id)
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
    payment = lock_payment(payment_id)
    if payment is None:
        return
    if payment.contact_id is None:
        _payment_contact(payment)
    payment.followed_up_at = utcnow()


def _payment_contact(payment: Payment) -> Contact:
    """The contact a payment belongs to: linked before, known, or upserted."""
    directory = paylinks_state().contacts
    address = Address.from_dict(payment.customer_address)
    if payment.contact_id is not None:
        known = directory.get(payment.owner_id, payment.contact_id)
        if known is not None:
            return known
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
            return updated
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
