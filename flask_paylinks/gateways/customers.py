"""The gateway's customer of each contact email, remembered per owner and account.

A gateway that keeps customers (Stripe) asks :func:`remembered_customer`
before it creates one, and :func:`remember_customer` after, so a returning
payer is one customer at the gateway, not one per payment.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from flask_paylinks.db.models import GatewayCustomer, utcnow
from flask_paylinks.db.session import session


def email_key(email: str) -> str:
    """The form an email is remembered under: stripped and lower-cased."""
    return email.strip().lower()


def remembered_customer(
    gateway: str, account: str, owner_id: str, email: str
) -> str | None:
    """The customer id stored for this email, owner and account, or ``None``."""
    stmt = select(GatewayCustomer.customer_id).where(
        GatewayCustomer.gateway == gateway,
        GatewayCustomer.account == account,
        GatewayCustomer.owner_id == owner_id,
        GatewayCustomer.email_key == email_key(email),
    )
    return session().scalars(stmt).first()


def remember_customer(
    gateway: str, account: str, owner_id: str, email: str, customer_id: str
) -> str:
    """Store *customer_id* for the email and commit; the id that is stored.

    When a concurrent payment stored one first, that one wins and is
    returned. The caller's session must hold nothing uncommitted.
    """
    db = session()
    try:
        with db.begin_nested():
            db.add(
                GatewayCustomer(
                    gateway=gateway,
                    account=account,
                    owner_id=owner_id,
                    email_key=email_key(email),
                    customer_id=customer_id,
                    created_at=utcnow(),
                )
            )
    except IntegrityError:
        found = remembered_customer(gateway, account, owner_id, email)
        db.commit()
        if found is None:  # pragma: no cover - the winner's row cannot vanish
            raise
        return found
    db.commit()
    return customer_id
