"""The CRM's services: every query of customers, tags and messages, scoped.

Views call these with the logged-in user's ``account_id``; a customer or tag
of another account is treated exactly like a missing one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from flask import abort, current_app
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload

from flask_paylinks.db.scoping import owned
from flask_paylinks.messaging import MessageDeferred, MessageRejected
from flask_paylinks.messaging.base import SenderBlocked
from flask_paylinks.models import Payment

from .extensions import db
from .models import Customer, Direction, Message, MessageChannel, Tag

#: Customers per page of the contacts list.
PAGE_SIZE = 25
_PHONE_LIKE = re.compile(r"[\d\s+().-]+")


class SmsRefused(Exception):
    """The CRM will not text this customer; the message says why, for people."""


def customers_of(account_id: int) -> Select[Customer]:
    """``select(Customer)`` limited to one account."""
    return select(Customer).where(Customer.account_id == account_id)


def get_customer(account_id: int, customer_id: int) -> Customer | None:
    """One customer of the account, or ``None`` (also for another account's)."""
    return db.session.scalars(
        customers_of(account_id).where(Customer.id == customer_id)
    ).first()


def get_customer_or_404(account_id: int, customer_id: int) -> Customer:
    """Like :func:`get_customer`, answering 404 when there is no such customer."""
    customer = get_customer(account_id, customer_id)
    if customer is None:
        abort(404)
    return customer


def account_tags(account_id: int) -> Sequence[Tag]:
    """The account's tags, by name."""
    return db.session.scalars(
        select(Tag).where(Tag.account_id == account_id).order_by(Tag.name)
    ).all()


def get_tag_or_404(account_id: int, tag_id: int) -> Tag:
    """One tag of the account; 404 for another account's or a missing one."""
    tag = db.session.scalars(
        select(Tag).where(Tag.account_id == account_id, Tag.id == tag_id)
    ).first()
    if tag is None:
        abort(404)
    return tag


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_customers(
    account_id: int, *, text: str = "", tag: Tag | None = None, page: int = 1
) -> Pagination:
    """One page of the account's customers, by name.

    *text* matches the name or email (any case), and the phone number when it
    looks like one (``555-0123`` finds ``+12125550123``).
    """
    stmt = customers_of(account_id)
    text = text.strip()
    if text:
        pattern = f"%{_escape_like(text.lower())}%"
        matches: list[Any] = [
            func.lower(Customer.full_name).like(pattern, escape="\\"),
            func.lower(Customer.email).like(pattern, escape="\\"),
        ]
        digits = re.sub(r"\D", "", text)
        if _PHONE_LIKE.fullmatch(text) and len(digits) >= 3:
            matches.append(Customer.mobile.like(f"%{digits}%"))
        stmt = stmt.where(or_(*matches))
    if tag is not None:
        stmt = stmt.where(Customer.tags.any(Tag.id == tag.id))
    stmt = stmt.order_by(Customer.full_name, Customer.id).options(
        selectinload(Customer.tags)
    )
    return db.paginate(
        stmt,
        page=max(page, 1),
        per_page=PAGE_SIZE,
        max_per_page=PAGE_SIZE,
        error_out=False,
        count=True,
    )


def count_customers(account_id: int) -> int:
    """How many customers the account has."""
    return int(
        db.session.scalar(
            select(func.count(Customer.id)).where(Customer.account_id == account_id)
        )
        or 0
    )


def update_customer(customer: Customer, data: dict[str, Any]) -> None:
    """Write a validated :class:`~example_app.forms.ContactForm`'s data and commit.

    Tag ids that are not the customer's account's are ignored.
    """
    for name in (
        "full_name",
        "email",
        "mobile",
        "street",
        "street2",
        "city",
        "state",
        "postal_code",
        "country",
    ):
        setattr(customer, name, data.get(name) or None)
    customer.full_name = data["full_name"]
    customer.do_not_text = bool(data.get("do_not_text"))
    customer.do_not_email = bool(data.get("do_not_email"))
    customer.notes = data.get("notes") or ""
    wanted = set(data.get("tags") or ())
    customer.tags = [t for t in account_tags(customer.account_id) if t.id in wanted]
    db.session.commit()


def conversation(customer: Customer) -> Sequence[Message]:
    """The customer's messages and notes, oldest first."""
    return db.session.scalars(
        select(Message)
        .where(
            Message.account_id == customer.account_id,
            Message.customer_id == customer.id,
        )
        .order_by(Message.created_at, Message.id)
    ).all()


def record_message(
    customer: Customer, *, direction: str, channel: str, body: str
) -> Message:
    """Add an entry to the customer's conversation (flushed, not committed)."""
    message = Message(
        account_id=customer.account_id,
        customer_id=customer.id,
        direction=direction,
        channel=channel,
        body=body,
    )
    db.session.add(message)
    db.session.flush()
    return message


def sms_refusal(customer: Customer) -> str | None:
    """Why the CRM will not text *customer*, or ``None`` when it may."""
    name = customer.full_name or "This contact"
    if customer.do_not_text:
        return f"{name} has opted out of text messages (do not text)."
    if not customer.mobile:
        return f"{name} has no mobile number on file; add one to text them."
    return None


def send_sms(customer: Customer, body: str) -> Message:
    """Text *customer* through the extension's SMS sender and record it.

    Raises :class:`SmsRefused` for a do-not-text customer, a missing number,
    or a message the provider refused or could not take.
    """
    refusal = sms_refusal(customer)
    if refusal:
        raise SmsRefused(refusal)
    assert customer.mobile is not None
    sender = current_app.extensions["paylinks"].sms
    try:
        sender.send_sms(customer.mobile, body)
    except MessageRejected as error:
        raise SmsRefused(f"The SMS provider refused the message: {error}") from error
    except SenderBlocked as error:
        raise SmsRefused(error.reason) from error
    except MessageDeferred as error:
        raise SmsRefused(
            "The SMS provider could not take the message right now; try again "
            "in a minute."
        ) from error
    message = record_message(
        customer, direction=Direction.OUT, channel=MessageChannel.SMS, body=body
    )
    db.session.commit()
    return message


def customer_payments(account_id: int, customer_id: int) -> Sequence[Payment]:
    """The extension's payments made by one customer, newest first."""
    stmt = (
        owned(Payment, str(account_id))
        .where(Payment.contact_id == str(customer_id))
        .order_by(Payment.created_at.desc(), Payment.id.desc())
    )
    return db.session.scalars(stmt).all()
