"""Who opened, started and paid: personal URLs and the funnel of each link.

A personal URL (``<checkout prefix>/p/<token>``) names one recipient. The
first device that opens it is remembered (a hash of a random cookie); the
same device is that recipient from then on, any other device — and any URL
older than ``PAYLINKS_PERSONAL_LINK_DAYS`` — is an anonymous visit, so a
forwarded message never shows one contact's details to someone else.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import case, func, select, update

from flask_paylinks.contacts import Contact
from flask_paylinks.core.errors import NotFound
from flask_paylinks.db.models import (
    Payment,
    PaymentLink,
    PaymentState,
    Recipient,
    RecipientState,
    Send,
    utcnow,
)
from flask_paylinks.db.pagination import Page, page_window
from flask_paylinks.db.scoping import owned
from flask_paylinks.db.session import reset_session, session
from flask_paylinks.state import paylinks_state

log = logging.getLogger(__name__)
_TOKEN_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)
#: Payments that count as paid in the funnel.
PAID = (PaymentState.SUCCEEDED, PaymentState.REFUNDED)


@dataclass(frozen=True, slots=True)
class PersonalVisit:
    """What opening a personal URL found."""

    link: PaymentLink
    #: The recipient, or ``None`` for an anonymous visit.
    recipient: Recipient | None
    contact: Contact | None


def _device_key(cookie: str | None) -> str | None:
    if not cookie or len(cookie) > 100:
        return None
    return hashlib.sha256(cookie.encode()).hexdigest()[:64]


def new_device_cookie() -> str:
    """A random value that names this browser to personal URLs."""
    return secrets.token_urlsafe(24)


def _plausible(token: str) -> bool:
    return 16 <= len(token) <= 64 and set(token) <= _TOKEN_CHARS


def _recipient_by_token(token: str) -> Recipient:
    recipient = (
        session().scalars(select(Recipient).where(Recipient.token == token)).first()
        if _plausible(token)
        else None
    )
    if recipient is None:
        raise NotFound("No such link.")
    return recipient


def check_personal(token: str) -> None:
    """Raise :class:`NotFound` unless *token* names a recipient (it is not forged)."""
    _recipient_by_token(token)
    session().commit()


def open_personal(token: str, device_cookie: str | None) -> PersonalVisit:
    """Record an open of a personal URL and say who it is.

    Raises :class:`NotFound` for a token that names no recipient (forged).
    Without a device cookie the visit is anonymous and not counted: link
    scanners (mail filters, SMS previews) fetch URLs without keeping
    cookies, and must neither count as the contact's open nor take the URL
    for their own device. A known recipient's open is counted (first, last,
    count) and committed.
    """
    db = session()
    recipient = _recipient_by_token(token)
    link = db.get(PaymentLink, recipient.link_id)
    if link is None:
        raise NotFound("No such link.")
    key = _device_key(device_cookie)
    if key is None:
        db.commit()
        return PersonalVisit(link, None, None)
    now = utcnow()
    days = int(current_app.config["PAYLINKS_PERSONAL_LINK_DAYS"])
    if recipient.created_at < now - timedelta(days=days):
        count_anonymous_open(link.id)
        return PersonalVisit(link, None, None)
    if recipient.device_key is None:
        db.execute(
            update(Recipient)
            .where(Recipient.id == recipient.id, Recipient.device_key.is_(None))
            .values(device_key=key)
            .execution_options(synchronize_session=False)
        )
        db.commit()
        db.refresh(recipient)
    if recipient.device_key != key:
        count_anonymous_open(link.id)
        return PersonalVisit(link, None, None)
    db.execute(
        update(Recipient)
        .where(Recipient.id == recipient.id)
        .values(
            opened_at=func.coalesce(Recipient.opened_at, now),
            last_opened_at=now,
            open_count=Recipient.open_count + 1,
        )
        .execution_options(synchronize_session=False)
    )
    db.commit()
    db.refresh(recipient)
    contact = paylinks_state().contacts.get(recipient.owner_id, recipient.contact_id)
    return PersonalVisit(link, recipient, contact)


def verified_recipient(
    link: PaymentLink, token: str | None, device_cookie: str | None
) -> Recipient | None:
    """The recipient a posted checkout may be tied to: same link, same device, fresh."""
    if not token or not _plausible(token):
        return None
    key = _device_key(device_cookie)
    if key is None:
        return None
    days = int(current_app.config["PAYLINKS_PERSONAL_LINK_DAYS"])
    stmt = owned(Recipient, link.owner_id).where(
        Recipient.token == token,
        Recipient.link_id == link.id,
        Recipient.device_key == key,
        Recipient.created_at >= utcnow() - timedelta(days=days),
    )
    return session().scalars(stmt).first()


class _OpenCounts:
    """Anonymous opens counted in this process, written at most once a second.

    A checkout page served from the cache must stay cheap: one ``UPDATE`` and
    commit per visit would cost more than the page. Counts wait here (per
    link) and go out as one ``+n`` per link when a second has passed; a
    process that stops may lose its last second's counts, which only an
    approximate statistic can afford.
    """

    def __init__(self) -> None:
        self.pending: Counter[int] = Counter()
        self.last_flush = float("-inf")
        self.lock = threading.Lock()

    def add(self, link_id: int) -> bool:
        """Count one open; whether a flush is due."""
        every = float(current_app.config["PAYLINKS_OPEN_COUNT_SECONDS"])
        with self.lock:
            self.pending[link_id] += 1
            return time.monotonic() - self.last_flush >= every

    def take(self) -> dict[int, int]:
        """What is waiting, emptied."""
        with self.lock:
            taken, self.pending = dict(self.pending), Counter()
            self.last_flush = time.monotonic()
            return taken


def _open_counts() -> _OpenCounts:
    extras = paylinks_state().extras
    counts = extras.get("tracking.open_counts")
    if not isinstance(counts, _OpenCounts):
        counts = extras["tracking.open_counts"] = _OpenCounts()
    return counts


def count_anonymous_open(link_id: int) -> None:
    """Count a visit without a (usable) personal URL; nothing about it is kept."""
    if _open_counts().add(link_id):
        flush_anonymous_opens()


def flush_anonymous_opens() -> None:
    """Write the anonymous opens this process counted; never raises."""
    taken = _open_counts().take()
    if not taken:
        return
    db = session()
    try:
        for link_id, count in taken.items():
            db.execute(
                update(PaymentLink)
                .where(PaymentLink.id == link_id)
                # Keeping updated_at: a visit is not an edit of the link.
                .values(
                    anonymous_opens=PaymentLink.anonymous_opens + count,
                    updated_at=PaymentLink.updated_at,
                )
                .execution_options(synchronize_session=False)
            )
        db.commit()
    except Exception:
        log.warning(
            "anonymous opens of %s links not counted", len(taken), exc_info=True
        )
        reset_session()


@dataclass(frozen=True, slots=True)
class Funnel:
    """Sent → delivered → opened → checkout started → paid."""

    sent: int = 0
    delivered: int = 0
    opened: int = 0
    started: int = 0
    paid: int = 0
    anonymous_opens: int = 0
    #: Payments made without a personal URL (anonymous visitors).
    anonymous_paid: int = 0

    def rate(self, step: int, base: int | None = None) -> float | None:
        """*step* as a share of *base* (default: sent); ``None`` when base is 0."""
        base = self.sent if base is None else base
        return None if base == 0 else step / base

    @property
    def conversion(self) -> float | None:
        """Paid ÷ opened, personal and anonymous together; ``None`` without opens."""
        opens = self.opened + self.anonymous_opens
        return (
            None if opens == 0 else min(1.0, (self.paid + self.anonymous_paid) / opens)
        )


def _recipient_counts(where: Iterable[Any]) -> dict[str, int]:
    def counted(column: Any) -> Any:
        return func.count(case((column.is_not(None), 1)))

    row = (
        session()
        .execute(
            select(
                counted(Recipient.sent_at),
                counted(Recipient.delivered_at),
                counted(Recipient.opened_at),
                counted(Recipient.started_at),
                counted(Recipient.paid_at),
            ).where(*where)
        )
        .one()
    )
    names = ("sent", "delivered", "opened", "started", "paid")
    return dict(zip(names, map(int, row), strict=True))


def funnel(owner: str, link: PaymentLink, send_id: int | None = None) -> Funnel:
    """The link's funnel, or one send's; anonymous opens count for the link only."""
    if send_id is None:
        flush_anonymous_opens()
        session().refresh(link, ["anonymous_opens"])
    where = [Recipient.owner_id == owner, Recipient.link_id == link.id]
    if send_id is not None:
        where.append(Recipient.send_id == send_id)
    counts = _recipient_counts(where)
    if send_id is not None:
        return Funnel(**counts)
    anonymous_paid = int(
        session().scalar(
            select(func.count())
            .select_from(Payment)
            .where(
                Payment.owner_id == owner,
                Payment.link_id == link.id,
                Payment.recipient_id.is_(None),
                Payment.state.in_([state.value for state in PAID]),
            )
        )
        or 0
    )
    return Funnel(
        **counts, anonymous_opens=link.anonymous_opens, anonymous_paid=anonymous_paid
    )


def conversions(owner: str, links: Iterable[PaymentLink]) -> dict[int, Funnel]:
    """Each link's funnel, in two queries for a whole page of links."""
    by_id = {link.id: link for link in links}
    if not by_id:
        return {}

    def counted(column: Any) -> Any:
        return func.count(case((column.is_not(None), 1)))

    recipients = {
        link_id: (int(opened), int(paid))
        for link_id, opened, paid in session().execute(
            select(
                Recipient.link_id,
                counted(Recipient.opened_at),
                counted(Recipient.paid_at),
            )
            .where(Recipient.owner_id == owner, Recipient.link_id.in_(list(by_id)))
            .group_by(Recipient.link_id)
        )
    }
    anonymous_paid = {
        link_id: int(count)
        for link_id, count in session().execute(
            select(Payment.link_id, func.count())
            .where(
                Payment.owner_id == owner,
                Payment.link_id.in_(list(by_id)),
                Payment.recipient_id.is_(None),
                Payment.state.in_([state.value for state in PAID]),
            )
            .group_by(Payment.link_id)
        )
    }
    result: dict[int, Funnel] = {}
    for link_id, link in by_id.items():
        opened, paid = recipients.get(link_id, (0, 0))
        result[link_id] = Funnel(
            opened=opened,
            paid=paid,
            anonymous_opens=link.anonymous_opens,
            anonymous_paid=anonymous_paid.get(link_id, 0),
        )
    return result


def opened_not_paid(
    owner: str, link: PaymentLink, send_id: int | None = None, *, limit: int = 500
) -> list[Recipient]:
    """Recipients who opened their personal URL and have not paid, latest first."""
    stmt = owned(Recipient, owner).where(
        Recipient.link_id == link.id,
        Recipient.opened_at.is_not(None),
        Recipient.paid_at.is_(None),
    )
    if send_id is not None:
        stmt = stmt.where(Recipient.send_id == send_id)
    stmt = stmt.order_by(Recipient.last_opened_at.desc(), Recipient.id).limit(limit)
    return list(session().scalars(stmt))


def mark_started(recipient_id: int) -> None:
    """Note, in the caller's transaction, that the recipient started paying."""
    session().execute(
        update(Recipient)
        .where(Recipient.id == recipient_id, Recipient.started_at.is_(None))
        .values(started_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def skip_counts(owner: str, send_id: int) -> list[tuple[str, int]]:
    """How many of the send's recipients were skipped, per reason, most first."""
    rows = session().execute(
        select(Recipient.reason, func.count())
        .where(
            Recipient.owner_id == owner,
            Recipient.send_id == send_id,
            Recipient.state == RecipientState.SKIPPED,
        )
        .group_by(Recipient.reason)
    )
    counts = [(str(reason or ""), int(count)) for reason, count in rows]
    return sorted(counts, key=lambda item: (-item[1], item[0]))


def recipient_page(
    owner: str,
    send_id: int,
    *,
    state: str | None = None,
    page: int = 1,
    per_page: int = 25,
) -> Page[Recipient]:
    """One numbered page of the send's recipients (maybe of one state), by name."""
    stmt = owned(Recipient, owner).where(Recipient.send_id == send_id)
    if state is not None:
        stmt = stmt.where(Recipient.state == state)
    total = session().scalar(select(func.count()).select_from(stmt.subquery())) or 0
    number, offset = page_window(page, per_page, total)
    rows = session().scalars(
        stmt.order_by(Recipient.name, Recipient.id).offset(offset).limit(per_page)
    )
    return Page(items=list(rows), total=total, number=number, per_page=per_page)


def sends_of_link(owner: str, link_id: int, *, limit: int = 10) -> list[Send]:
    """The link's latest sends, newest first."""
    return list(
        session().scalars(
            owned(Send, owner)
            .where(Send.link_id == link_id)
            .order_by(Send.created_at.desc(), Send.id.desc())
            .limit(limit)
        )
    )


__all__ = [
    "Funnel",
    "PersonalVisit",
    "check_personal",
    "conversions",
    "count_anonymous_open",
    "flush_anonymous_opens",
    "funnel",
    "mark_started",
    "open_personal",
    "opened_not_paid",
    "recipient_page",
    "sends_of_link",
    "skip_counts",
    "verified_recipient",
]
