"""Text-to-Pay: ask one contact for a payment by SMS, with a single-use link.

:func:`request_payment` checks everything once (:func:`request_problems`),
then writes the request's one-off products and its single-use link and sends
the SMS through the sends pipeline (:mod:`flask_paylinks.sends`), so the
message is an outbox row like any other and the contact gets a personal URL:
the request knows when the text was delivered, when it was opened and when
it was paid. :func:`request_status` reads that back; the merchant may
:func:`cancel_request` or :func:`resend_request`.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask import current_app
from sqlalchemy import update

from flask_paylinks import signals
from flask_paylinks.catalog.service import MAX_UNIT_AMOUNT
from flask_paylinks.contacts import Contact
from flask_paylinks.core.errors import Conflict, InvalidInput, NotFound
from flask_paylinks.core.money import Money, is_currency
from flask_paylinks.core.rules import name_problem, text_problem
from flask_paylinks.db.models import (
    Channel,
    LinkItem,
    LinkSource,
    LinkStatus,
    Payment,
    PaymentLink,
    PaymentState,
    Product,
    ProductKind,
    Recipient,
    RecipientState,
    Send,
    SendState,
    utcnow,
)
from flask_paylinks.db.scoping import get_owned, owned
from flask_paylinks.db.session import session
from flask_paylinks.links.service import new_slug
from flask_paylinks.localtime import end_of_day, last_day, today
from flask_paylinks.merchants import merchant_profile
from flask_paylinks.sends import service as sends
from flask_paylinks.sends.audience import SkipReason, address_for, phone_problem
from flask_paylinks.sends.compose import merge_values, personal_url, render_for
from flask_paylinks.state import paylinks_state

#: Most line items one request may hold.
MAX_ITEMS = 50
#: Longest note to the contact: it goes into the SMS, which costs per segment.
MAX_NOTE_LENGTH = 300
#: The SMS a request sends unless the caller writes its own. ``{merchant}``
#: and ``{link}`` are merge fields of the sends pipeline; ``{note}`` and
#: ``{total}`` are filled in here.
DEFAULT_SMS = "{merchant}: {note}Pay {total} securely: {link}"
#: How many requests of one contact :func:`requests_for_contact` lists.
CONTACT_REQUESTS_LIMIT = 50


class RequestState(enum.StrEnum):
    """Where a payment request is, as the merchant sees it."""

    #: The SMS waits its turn (the queue, quiet hours).
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    OPENED = "opened"
    PAID = "paid"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    #: The SMS could not be delivered: :attr:`RequestStatus.reason` says why.
    FAILED = "failed"


#: Each state in words, for badges.
STATE_LABELS = {
    RequestState.QUEUED: "Waiting to send",
    RequestState.SENT: "Sent",
    RequestState.DELIVERED: "Delivered",
    RequestState.OPENED: "Opened",
    RequestState.PAID: "Paid",
    RequestState.EXPIRED: "Expired",
    RequestState.CANCELLED: "Cancelled",
    RequestState.FAILED: "Failed",
}


@dataclass(frozen=True)
class TimelineEvent:
    """One thing that happened to a request."""

    at: datetime
    text: str


@dataclass(frozen=True)
class RequestStatus:
    """A request's state and the moments that led to it."""

    state: RequestState
    #: Why the SMS failed (only for :attr:`RequestState.FAILED`).
    reason: str | None = None
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    opened_at: datetime | None = None
    paid_at: datetime | None = None
    #: The succeeded payment, once paid.
    payment: Payment | None = None
    #: The last day it can be paid, in the merchant's timezone (``None``: no end).
    expires_on: date | None = None
    timeline: tuple[TimelineEvent, ...] = field(default_factory=tuple)

    @property
    def label(self) -> str:
        """The state in words: ``Delivered``, ``Paid``..."""
        return STATE_LABELS[self.state]

    @property
    def is_open(self) -> bool:
        """Whether the request can still be paid, cancelled or sent again."""
        return self.state not in (
            RequestState.PAID,
            RequestState.CANCELLED,
            RequestState.EXPIRED,
        )


@dataclass(frozen=True)
class RequestSummary:
    """One request in a contact's list."""

    link: PaymentLink
    total: Money
    status: RequestStatus


# -- the rules -------------------------------------------------------------------


def contact_problem(contact: Contact) -> str | None:
    """Why *contact* cannot be texted, in words the merchant can act on.

    The same checks the sends pipeline makes before it texts anyone
    (:func:`~flask_paylinks.sends.audience.address_for`), so a request it
    accepts is never skipped.
    """
    name = contact.name.strip() or "This contact"
    region = current_app.config["PAYLINKS_PHONE_REGION"]
    address, reason = address_for(contact, Channel.SMS, region=region)
    if address is not None:
        reason = phone_problem(address)
    if reason is SkipReason.OPTED_OUT:
        return f"{name} opted out of texts, so they cannot be sent a payment request."
    if reason is SkipReason.NO_PHONE:
        return f"{name} has no mobile number. Add one to their record first."
    if reason is not None:
        return (
            f"{name}'s mobile number ({contact.phone}) is not a valid phone number. "
            "Correct it on their record first."
        )
    return None


def find_contact(owner: str, contact_id: str) -> Contact:
    """*owner*'s contact *contact_id*; :class:`NotFound` for another's or none."""
    contact_id = str(contact_id or "").strip()
    contact = None
    if contact_id and len(contact_id) <= 64:
        contact = paylinks_state().contacts.get(owner, contact_id)
    if contact is None:
        raise NotFound(f"No contact {contact_id!r} of this owner.")
    return contact


def expiry_moment(owner: str, expires: date | datetime | None) -> datetime | None:
    """When a request expiring on *expires* stops taking payments, in UTC.

    A date is a day in the merchant's timezone, valid to the end of that day.
    """
    if expires is None or isinstance(expires, datetime):
        return expires
    return end_of_day(expires, merchant_profile(owner).zone)


def request_problems(
    owner: str,
    contact: Contact,
    items: Sequence[tuple[str, int]],
    *,
    currency: str,
    expires_at: date | datetime | None = None,
    note: str = "",
) -> dict[str, str]:
    """What breaks the rules of a request, by form field (empty when nothing)."""
    errors: dict[str, str] = {}
    cap: int = current_app.config["PAYLINKS_TEXT_TO_PAY_MAX_AMOUNT"]
    currency_ok = is_currency(currency)
    if not currency_ok:
        errors["currency"] = "Choose a currency."
    if not items:
        errors["items"] = "Add at least one item."
    elif len(items) > MAX_ITEMS:
        errors["items"] = f"A request can hold {MAX_ITEMS} items at most."
    total = 0
    for index, (name, amount) in enumerate(items[: MAX_ITEMS + 1]):
        prefix = f"items-{index}-"
        if problem := name_problem((name or "").strip()):
            errors[prefix + "name"] = problem
        if isinstance(amount, bool) or not isinstance(amount, int):
            errors[prefix + "amount"] = "Enter an amount such as 35.00"
        elif amount <= 0:
            errors[prefix + "amount"] = "Enter an amount above zero."
        elif amount > MAX_UNIT_AMOUNT:
            errors[prefix + "amount"] = "This amount is too high."
        else:
            total += amount
    if total > cap and "items" not in errors:
        most = Money(cap, currency).format() if currency_ok else f"{cap:,}"
        errors["items"] = (
            f"A request can ask for {most} at most; these items add up to "
            f"{Money(total, currency).format() if currency_ok else f'{total:,}'}."
        )
    if problem := _expiry_problem(owner, expires_at):
        errors["expires_on"] = problem
    if len(note) > MAX_NOTE_LENGTH:
        errors["note"] = f"A note can be {MAX_NOTE_LENGTH} characters at most."
    elif problem := text_problem(note):
        errors["note"] = problem
    elif "{" in note or "}" in note:
        errors["note"] = "A note cannot contain { or }."
    if problem := contact_problem(contact):
        errors["contact"] = problem
    if problem := paylinks_state().gateway.charges_problem(owner):
        errors["gateway"] = problem
    return errors


def _expiry_problem(owner: str, expires: date | datetime | None) -> str | None:
    if expires is None:
        return None
    if isinstance(expires, datetime):
        if expires.tzinfo is None:
            raise ValueError("naive datetimes are refused; use an aware UTC time")
        if expires <= utcnow():
            return "The expiry cannot be in the past."
        return None
    if expires < today(merchant_profile(owner).zone):
        return "The expiry date cannot be in the past."
    return None


# -- writing ---------------------------------------------------------------------


def default_sms(total: Money, note: str = "", locale: str = "en_US") -> str:
    """The request's SMS; ``{merchant}`` and ``{link}`` are left to the sends."""
    note = " ".join(note.split())
    if note and note[-1] not in ".!?":
        note += "."
    return DEFAULT_SMS.format(
        merchant="{merchant}",
        note=f"{note} " if note else "",
        total=total.format(locale),
        link="{link}",
    )


def _link_name(items: Sequence[tuple[str, int]]) -> str:
    """``Haircut + 1 more``: short, as the contact's payments list shows it."""
    first = items[0][0].strip()
    more = f" + {len(items) - 1} more" if len(items) > 1 else ""
    return f"{first[: 200 - len(more)]}{more}"


def request_payment(
    owner: str,
    contact_id: str,
    items: Sequence[tuple[str, int]],
    *,
    currency: str,
    expires_at: date | datetime | None = None,
    note: str = "",
    message: sends.Message | None = None,
    base_url: str | None = None,
    idempotency_key: str | None = None,
) -> PaymentLink:
    """Text *contact_id* a single-use link to pay for *items* (name, minor units).

    *expires_at* is a day in the merchant's timezone (the link works to its
    end) or an aware moment. *message* replaces the default SMS (it must
    hold ``{link}``). *base_url* is where the contact reaches the checkout
    (``PAYLINKS_PUBLIC_URL`` wins; a view passes its request's host).
    :class:`NotFound` for a contact that is not *owner*'s;
    :class:`InvalidInput` keyed by the request form's fields (``items-0-amount``,
    ``expires_on``, ``note``, ``contact``, ``gateway``) otherwise, and
    nothing is written or sent then. With *idempotency_key* (the form's
    attempt), the same request submitted again returns the first one's link
    and texts nothing.
    """
    if idempotency_key:
        earlier = sends.send_of_attempt(owner, idempotency_key)
        if earlier is not None:
            return get_request(owner, earlier.link_id)
    contact = find_contact(owner, contact_id)
    note = (note or "").strip()
    errors = request_problems(
        owner, contact, items, currency=currency, expires_at=expires_at, note=note
    )
    if errors:
        raise InvalidInput(errors)
    db = session()
    link = PaymentLink(
        owner_id=owner,
        slug=new_slug(),
        name=_link_name(items),
        status=LinkStatus.ACTIVE,
        source=LinkSource.TEXT_TO_PAY,
        currency=currency,
        contact_id=contact.id,
        single_use=True,
        expires_at=expiry_moment(owner, expires_at),
        note=note or None,
    )
    link.items = [
        LinkItem(
            owner_id=owner,
            position=position,
            quantity=1,
            product=Product(
                owner_id=owner,
                name=name.strip(),
                kind=ProductKind.ONE_TIME,
                unit_amount=amount,
                currency=currency,
                active=True,
                listed=False,
            ),
        )
        for position, (name, amount) in enumerate(items)
    ]
    total = Money(sum(amount for _, amount in items), currency)
    locale = current_app.config["PAYLINKS_LOCALE"]
    message = message or sends.Message(sms_body=default_sms(total, note, locale))
    db.add(link)
    try:
        db.flush()
        # The send commits the link, its products and the message together.
        send = _text(owner, link, contact, message, base_url, idempotency_key)
    except Exception:
        db.rollback()
        raise
    if send.link_id != link.id:
        # The same attempt, sent twice at once: the other one was first, and
        # this one's link was rolled back with its send.
        return get_request(owner, send.link_id)
    if db.new or db.dirty:
        db.commit()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    signals.send_guarded(signals.link_created, app, link=link)
    return link


def get_request(owner: str, link_id: object) -> PaymentLink:
    """One of *owner*'s Text-to-Pay requests; :class:`NotFound` otherwise."""
    link = get_owned(PaymentLink, owner, link_id)
    if (
        link is None
        or link.deleted_at is not None
        or link.source != LinkSource.TEXT_TO_PAY
    ):
        raise NotFound(f"No payment request {link_id!r} of this owner.")
    return link


def cancel_request(owner: str, link_id: object) -> PaymentLink:
    """Stop a request taking payments (and its SMS, if still waiting).

    :class:`Conflict` when it was paid, or a payment on it is under way.
    Cancelling a cancelled or expired request changes nothing.
    """
    link = get_request(owner, link_id)
    status = request_status(link)
    if status.state is RequestState.PAID:
        raise Conflict("This request has been paid, so it cannot be cancelled.")
    if _paying_now(link):
        raise Conflict(
            "The contact is paying this request right now; it cannot be cancelled."
        )
    if link.status == LinkStatus.INACTIVE:
        return link
    # One conditional UPDATE takes the single-use claim as it deactivates:
    # a customer whose Pay lands a moment later finds the link taken, so a
    # cancelled request is never charged.
    db = session()
    taken: Any = db.execute(
        update(PaymentLink)
        .where(
            PaymentLink.id == link.id,
            PaymentLink.status == LinkStatus.ACTIVE,
            PaymentLink.claims < 1,
        )
        .values(status=LinkStatus.INACTIVE, claims=PaymentLink.claims + 1)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        db.rollback()
        db.refresh(link)
        if link.status == LinkStatus.INACTIVE:
            return link
        raise Conflict(
            "The contact is paying this request right now; it cannot be cancelled."
        )
    db.commit()
    db.refresh(link)
    for send in _sends_of(link):
        if send.state in (SendState.QUEUED, SendState.SENDING, SendState.PAUSED):
            # A send that finished meanwhile has nothing left to stop.
            with contextlib.suppress(Conflict):
                sends.cancel(owner, send.id)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    signals.send_guarded(signals.link_deactivated, app, link=link)
    return link


def _text(
    owner: str,
    link: PaymentLink,
    contact: Contact,
    message: sends.Message,
    base_url: str | None,
    idempotency_key: str | None = None,
) -> Send:
    """One send of *link* to *contact* by SMS (``send_link`` with a base URL)."""
    return sends.start_send(
        owner,
        link,
        sends.Selection(contact_ids=(contact.id,)),
        [Channel.SMS.value],
        message,
        base_url=base_url,
        idempotency_key=idempotency_key,
    )


def resend_request(owner: str, link_id: object, *, base_url: str | None = None) -> Send:
    """Text the request's contact the same link again, as a new send.

    :class:`Conflict` when the request was paid, cancelled or has expired;
    :class:`InvalidInput` on ``contact`` when the contact can no longer be
    texted (opted out, number removed); :class:`NotFound` when the contact
    is gone.
    """
    link = get_request(owner, link_id)
    status = request_status(link)
    if not status.is_open:
        raise Conflict(
            f"This request was {status.label.lower()}, so it cannot be sent again."
        )
    assert link.contact_id is not None
    contact = find_contact(owner, link.contact_id)
    if problem := contact_problem(contact):
        raise InvalidInput({"contact": problem})
    previous = _sends_of(link)
    body = previous[-1].sms_body if previous else ""
    if not body:
        locale = current_app.config["PAYLINKS_LOCALE"]
        body = default_sms(request_total(link), link.note or "", locale)
    return _text(owner, link, contact, sends.Message(sms_body=body), base_url)


# -- reading -------------------------------------------------------------------


def request_total(link: PaymentLink) -> Money:
    """What a request asks for: its items added up."""
    total = Money.zero(link.currency)
    for item in link.items:
        total += Money(item.product.unit_amount * item.quantity, link.currency)
    return total


def _sends_of(link: PaymentLink) -> list[Send]:
    stmt = (
        owned(Send, link.owner_id)
        .where(Send.link_id == link.id)
        .order_by(Send.created_at, Send.id)
    )
    return list(session().scalars(stmt))


@dataclass(frozen=True)
class SentMessage:
    """One SMS of a request, as the dashboard shows it."""

    body: str
    to: str | None
    state: str
    at: datetime | None
    #: The recipient's own URL in the message.
    url: str


def messages_sent(link: PaymentLink) -> list[SentMessage]:
    """Each SMS the request sent (the first, then each resend), oldest first,
    as the contact got it: merge fields filled in, their own URL."""
    sent = {send.id: send for send in _sends_of(link)}
    stmt = (
        owned(Recipient, link.owner_id)
        .where(Recipient.link_id == link.id, Recipient.channel == Channel.SMS.value)
        .order_by(Recipient.created_at, Recipient.id)
    )
    merchant = merchant_profile(link.owner_id).name
    prefix = current_app.config["PAYLINKS_CHECKOUT_PREFIX"]
    messages = []
    for recipient in session().scalars(stmt):
        send = sent.get(recipient.send_id)
        if send is None:
            continue
        url = personal_url(send.base_url, prefix, recipient.token)
        values = merge_values(
            None,
            name=recipient.name,
            link_url=url,
            merchant=merchant,
            link_name=link.name,
        )
        messages.append(
            SentMessage(
                body=render_for(send.sms_body, values),
                to=recipient.address,
                state=recipient.state,
                at=recipient.sent_at or recipient.created_at,
                url=url,
            )
        )
    return messages


def _paying_now(link: PaymentLink) -> bool:
    stmt = owned(Payment, link.owner_id).where(
        Payment.link_id == link.id,
        Payment.state == PaymentState.PENDING,
        Payment.holds_link.is_(True),
    )
    return session().scalars(stmt.limit(1)).first() is not None


def statuses(links: Sequence[PaymentLink]) -> dict[int, RequestStatus]:
    """The status of each request, by link id, in two queries whatever their number."""
    if not links:
        return {}
    owner = links[0].owner_id
    ids = [link.id for link in links]
    recipients: dict[int, list[Recipient]] = {i: [] for i in ids}
    stmt = (
        owned(Recipient, owner)
        .where(Recipient.link_id.in_(ids), Recipient.channel == Channel.SMS.value)
        .order_by(Recipient.created_at, Recipient.id)
    )
    for recipient in session().scalars(stmt):
        recipients[recipient.link_id].append(recipient)
    paid: dict[int, Payment] = {}
    stmt_paid = (
        owned(Payment, owner)
        .where(
            Payment.link_id.in_(ids),
            Payment.state.in_((PaymentState.SUCCEEDED, PaymentState.REFUNDED)),
        )
        .order_by(Payment.succeeded_at)
    )
    for payment in session().scalars(stmt_paid):
        assert payment.link_id is not None
        paid.setdefault(payment.link_id, payment)
    return {
        link.id: _status(link, recipients[link.id], paid.get(link.id)) for link in links
    }


def request_status(link: PaymentLink) -> RequestStatus:
    """Where *link*'s request is: sent, delivered, opened, paid, expired, cancelled,
    or failed with the reason the SMS could not be delivered."""
    return statuses([link])[link.id]


def _first(values: Iterable[datetime | None]) -> datetime | None:
    present = [value for value in values if value is not None]
    return min(present) if present else None


def _status(
    link: PaymentLink, recipients: list[Recipient], payment: Payment | None
) -> RequestStatus:
    now = utcnow()
    opened_at = _first(r.opened_at for r in recipients)
    state, reason = _state(link, recipients, payment, opened_at, now)
    return RequestStatus(
        state,
        reason=reason,
        sent_at=_first(r.sent_at for r in recipients),
        delivered_at=_first(r.delivered_at for r in recipients),
        opened_at=opened_at,
        paid_at=(payment.succeeded_at or payment.updated_at) if payment else None,
        payment=payment,
        expires_on=(
            last_day(link.expires_at, merchant_profile(link.owner_id).zone)
            if link.expires_at is not None
            else None
        ),
        timeline=_timeline(link, recipients, payment, now),
    )


def _state(
    link: PaymentLink,
    recipients: list[Recipient],
    payment: Payment | None,
    opened_at: datetime | None,
    now: datetime,
) -> tuple[RequestState, str | None]:
    """The one state that says most, and the reason of a failure."""
    if payment is not None:
        return RequestState.PAID, None
    if link.status != LinkStatus.ACTIVE or link.deleted_at is not None:
        return RequestState.CANCELLED, None
    if link.expires_at is not None and link.expires_at <= now:
        return RequestState.EXPIRED, None
    if opened_at is not None:
        return RequestState.OPENED, None
    latest = recipients[-1] if recipients else None
    if latest is None:
        return RequestState.QUEUED, None
    reached = [
        r
        for r in recipients
        if r.state in (RecipientState.SENT, RecipientState.DELIVERED)
    ]
    if latest.state in (RecipientState.FAILED, RecipientState.SKIPPED) and not reached:
        return RequestState.FAILED, (
            latest.reason or latest.last_error or "The SMS could not be sent."
        )
    if any(r.delivered_at is not None for r in recipients):
        return RequestState.DELIVERED, None
    if reached or any(r.sent_at is not None for r in recipients):
        return RequestState.SENT, None
    return RequestState.QUEUED, None


def _timeline(
    link: PaymentLink,
    recipients: list[Recipient],
    payment: Payment | None,
    now: datetime,
) -> tuple[TimelineEvent, ...]:
    events = [TimelineEvent(link.created_at, "Request created")]
    for number, recipient in enumerate(recipients):
        again = " again" if number else ""
        if recipient.sent_at:
            events.append(TimelineEvent(recipient.sent_at, f"SMS sent{again}"))
        if recipient.delivered_at:
            events.append(TimelineEvent(recipient.delivered_at, "SMS delivered"))
        if recipient.failed_at:
            why = recipient.reason or recipient.last_error or "no reason given"
            events.append(TimelineEvent(recipient.failed_at, f"SMS failed: {why}"))
        if recipient.opened_at:
            count = recipient.open_count
            times = f" ({count} times)" if count > 1 else ""
            events.append(TimelineEvent(recipient.opened_at, f"Link opened{times}"))
        if recipient.started_at:
            events.append(TimelineEvent(recipient.started_at, "Checkout started"))
    if payment is not None and payment.succeeded_at is not None:
        events.append(
            TimelineEvent(
                payment.succeeded_at,
                f"Paid {payment.total.format()} (ref. {payment.reference})",
            )
        )
    if payment is None and link.status != LinkStatus.ACTIVE:
        events.append(TimelineEvent(link.updated_at, "Cancelled"))
    if link.expires_at is not None and link.expires_at <= now and payment is None:
        events.append(TimelineEvent(link.expires_at, "Expired"))
    return tuple(sorted(events, key=lambda event: event.at))


def requests_for_contact(owner: str, contact_id: str) -> list[RequestSummary]:
    """*owner*'s requests to one contact, newest first, each with its status."""
    stmt = (
        owned(PaymentLink, owner)
        .where(
            PaymentLink.source == LinkSource.TEXT_TO_PAY,
            PaymentLink.contact_id == str(contact_id),
            PaymentLink.deleted_at.is_(None),
        )
        .order_by(PaymentLink.created_at.desc(), PaymentLink.id.desc())
        .limit(CONTACT_REQUESTS_LIMIT)
    )
    links = list(session().scalars(stmt).unique())
    found = statuses(links)
    return [
        RequestSummary(link=link, total=request_total(link), status=found[link.id])
        for link in links
    ]


def closed_request(link: PaymentLink) -> RequestStatus | None:
    """The status of a Text-to-Pay *link* that takes no more payments, else ``None``."""
    if link.source != LinkSource.TEXT_TO_PAY or link.id is None:
        return None
    status = request_status(link)
    return None if status.is_open else status
