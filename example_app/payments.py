"""How the CRM mounts flask_paylinks, and what it does with its signals.

Everything here uses the extension's public contract only: ``init_app``
with a :class:`~flask_paylinks.SQLAlchemyContactDirectory` over the CRM's
``Customer`` model, an ``owner_loader``, a ``contact_url``, a
``merchant_profile`` (each account's name, support email and timezone), and the
:mod:`flask_paylinks.signals`.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, url_for
from flask_login import current_user

from flask_paylinks import (
    Contact,
    MerchantProfile,
    ModelSegments,
    Money,
    SQLAlchemyContactDirectory,
)
from flask_paylinks.models import Payment
from flask_paylinks.signals import message_sent, payment_succeeded

from . import crm
from .extensions import db, paylinks
from .models import Account, Customer, Direction, MessageChannel, Tag


def contact_directory() -> SQLAlchemyContactDirectory:
    """The CRM's ``customers`` table, as the extension sees contacts."""
    return SQLAlchemyContactDirectory(
        Customer,
        owner="account_id",
        fields={
            "name": "full_name",
            "email": "email",
            "phone": "mobile",
            "sms_ok": "!do_not_text",
            "email_ok": "!do_not_email",
        },
        address_fields={
            "line1": "street",
            "line2": "street2",
            "city": "city",
            "region": "state",
            "postal_code": "postal_code",
            "country": "country",
        },
        segments=ModelSegments(Tag, owner="account_id", members="customers"),
    )


def current_account_id() -> int | None:
    """The merchant the request acts for: the logged-in user's account."""
    return current_user.account_id if current_user.is_authenticated else None


def merchant_profile(owner: str) -> MerchantProfile | None:
    """The account a link belongs to, as its customers see it."""
    try:
        account = db.session.get(Account, int(owner))
    except ValueError:
        return None
    if account is None:
        return None
    return MerchantProfile(
        name=account.name,
        support_email=account.support_email,
        support_phone=account.support_phone,
        timezone=account.timezone,
    )


def contact_url(contact_id: str) -> str:
    """Where the dashboard links a contact to: its record page in the CRM."""
    return url_for("contacts.show", contact_id=contact_id)


def mount_paylinks(app: Flask) -> None:
    """Mount the extension on *app* and connect the CRM to its signals."""
    paylinks.init_app(
        app,
        db=db,
        contacts=contact_directory(),
        owner_loader=current_account_id,
        contact_url=contact_url,
        merchant_profile=merchant_profile,
    )
    message_sent.connect(record_sent_message, app)
    payment_succeeded.connect(note_payment, app)


def _customer(contact_id: object) -> Customer | None:
    try:
        key = int(str(contact_id))
    except ValueError:
        return None
    return db.session.get(Customer, key)


def record_sent_message(
    sender: Flask, *, contact_id: str, channel: str, to: str, body: str, **extra: Any
) -> None:
    """Every SMS or email the extension sends joins the contact's conversation.

    The entry is added to the session the extension is working in and
    committed with the extension's own changes.
    """
    customer = _customer(contact_id)
    if customer is None:
        return
    kind = MessageChannel.EMAIL if channel == "email" else MessageChannel.SMS
    crm.record_message(customer, direction=Direction.OUT, channel=kind, body=body)


def _what_was_bought(payment: Payment) -> str:
    items = (payment.snapshot or {}).get("lines") or []
    names = []
    for item in items:
        if not isinstance(item, dict) or not item.get("name"):
            continue
        quantity = item.get("quantity") or 1
        names.append(
            f"{item['name']} \u00d7 {quantity}" if quantity != 1 else str(item["name"])
        )
    if names:
        return ", ".join(names)
    if payment.link is not None:
        return payment.link.name
    return f"payment {payment.reference}"


def note_payment(
    sender: Flask, *, payment: Payment, contact: Contact | None = None, **extra: Any
) -> None:
    """Put "Paid $X for …" on the paying customer's timeline."""
    customer = _customer(contact.id if contact else payment.contact_id)
    if customer is None or str(customer.account_id) != payment.owner_id:
        return
    amount = Money(payment.amount_total, payment.currency).format(
        sender.config["PAYLINKS_LOCALE"]
    )
    crm.record_message(
        customer,
        direction=Direction.IN,
        channel=MessageChannel.NOTE,
        body=f"Paid {amount} for {_what_was_bought(payment)} "
        f"(ref. {payment.reference}).",
    )
