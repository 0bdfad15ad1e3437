"""What a customer typed that differs from the CRM's contact: the merchant decides."""

from __future__ import annotations

from flask_paylinks.contacts import Address
from flask_paylinks.db.models import Payment
from flask_paylinks.db.scoping import MAX_ID, get_owned, owned
from flask_paylinks.db.session import session
from flask_paylinks.state import paylinks_state


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
    directory = paylinks_state().contacts
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
