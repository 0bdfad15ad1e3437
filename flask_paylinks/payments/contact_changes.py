"""What a customer typed that differs from the CRM's contact: the merchant decides."""

from __future__ import annotations

from flask_paylinks.contacts import Address
from flask_paylinks.core.errors import NotFound
from flask_paylinks.db.models import Payment
from flask_paylinks.db.scoping import MAX_ID, owned, require_owned
from flask_paylinks.db.session import session
from flask_paylinks.state import paylinks_state


def apply_contact_changes(owner: str, payment_id: int) -> Payment:
    """The merchant applies what a customer typed to the CRM's contact.

    Returns the payment; a payment without pending changes is returned
    unchanged. Raises :class:`~flask_paylinks.core.errors.NotFound` when
    *owner* has no such payment.
    """
    if not 0 < payment_id < MAX_ID:
        raise NotFound(f"No payment {payment_id} of this owner.")
    db = session()
    payment = db.scalars(
        owned(Payment, owner).where(Payment.id == payment_id).with_for_update()
    ).first()
    if payment is None:
        raise NotFound(f"No payment {payment_id} of this owner.")
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


def dismiss_contact_changes(owner: str, payment_id: int) -> Payment:
    """The merchant keeps the CRM's details; the typed ones are forgotten.

    Raises :class:`~flask_paylinks.core.errors.NotFound` when *owner* has no
    such payment.
    """
    payment = require_owned(Payment, owner, payment_id)
    payment.contact_changes = None
    session().commit()
    return payment
