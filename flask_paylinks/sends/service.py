"""Sending a link to contacts: preview, start, follow, pause, resume, send again.

A send is one :class:`~flask_paylinks.db.models.Send` row and one
:class:`~flask_paylinks.db.models.Recipient` row per contact and channel,
written in one transaction with set-based inserts (unique on send, contact
and channel, so nothing is sent twice). Each recipient row is the durable
record of its message; the queue only carries ranges of their ids
(:mod:`flask_paylinks.sends.delivery`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from flask_paylinks.contacts import Contact
from flask_paylinks.core.errors import Conflict, InvalidInput, NotFound
from flask_paylinks.core.message_text import SmsSegments, sms_segments
from flask_paylinks.db.models import (
    Channel,
    PaymentLink,
    Recipient,
    RecipientState,
    Send,
    SendState,
    utcnow,
)
from flask_paylinks.db.scoping import require_owned
from flask_paylinks.db.session import session
from flask_paylinks.merchants import merchant_profile
from flask_paylinks.sends import delivery
from flask_paylinks.sends.audience import (
    Audience,
    Selection,
    SkipReason,
    address_for,
    phone_problem,
    resolve,
)
from flask_paylinks.sends.compose import (
    Message,
    merge_values,
    message_problems,
    new_token,
    parse_channels,
    personal_url,
    public_base_url,
    render_for,
)
from flask_paylinks.sends.optouts import opted_out_phones
from flask_paylinks.state import paylinks_state

__all__ = [
    "Message",
    "Preview",
    "Progress",
    "Selection",
    "SkipReason",
    "cancel",
    "pause",
    "preview",
    "progress",
    "resume",
    "send_again",
    "send_link",
    "start_send",
]

#: Rows a send inserts per statement.
_INSERT_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class Sample:
    """The message as one real recipient would get it."""

    contact_name: str
    sms: str = ""
    email_subject: str = ""
    email_body: str = ""


@dataclass(frozen=True, slots=True)
class Preview:
    """Who a send would reach, who it skips and why, and what it says."""

    #: Messages per channel value (``"sms"``, ``"email"``).
    receiving: dict[str, int]
    #: Skipped contacts per (channel value, reason).
    skipped: dict[tuple[str, str], int]
    duplicates: int
    contacts: int
    sample: Sample | None
    sms_segments: SmsSegments | None

    @property
    def total_receiving(self) -> int:
        """Messages the send would queue, all channels."""
        return sum(self.receiving.values())

    @property
    def total_skipped(self) -> int:
        """Messages the send would skip, all channels (duplicates apart)."""
        return sum(self.skipped.values())

    @property
    def sms_cost_segments(self) -> int:
        """SMS segments the send costs at most (each SMS times its segments)."""
        segments = self.sms_segments.segments if self.sms_segments else 0
        return self.receiving.get(Channel.SMS.value, 0) * segments


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a send is: its state and its messages by state."""

    state: str
    paused_reason: str | None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def queued(self) -> int:
        """Messages waiting to go."""
        return self.counts.get(RecipientState.QUEUED.value, 0)

    @property
    def sent(self) -> int:
        """Messages the provider took and has not yet confirmed."""
        return self.counts.get(RecipientState.SENT.value, 0)

    @property
    def delivered(self) -> int:
        """Messages the provider says arrived."""
        return self.counts.get(RecipientState.DELIVERED.value, 0)

    @property
    def failed(self) -> int:
        """Messages that failed for good."""
        return self.counts.get(RecipientState.FAILED.value, 0)

    @property
    def skipped(self) -> int:
        """Contacts skipped (no address, opted out, invalid)."""
        return self.counts.get(RecipientState.SKIPPED.value, 0)

    @property
    def total(self) -> int:
        """Every recipient row of the send."""
        return sum(self.counts.values())

    @property
    def done_fraction(self) -> float:
        """The share of messages no longer waiting, 0 to 1."""
        return 1.0 if self.total == 0 else (self.total - self.queued) / self.total

    def as_dict(self) -> dict[str, Any]:
        """For the progress JSON."""
        return {
            "state": self.state,
            "paused_reason": self.paused_reason,
            "queued": self.queued,
            "sent": self.sent,
            "delivered": self.delivered,
            "failed": self.failed,
            "skipped": self.skipped,
            "total": self.total,
            "done_fraction": round(self.done_fraction, 4),
        }


def _config(key: str) -> Any:
    return current_app.config[key]


def _checkout_prefix() -> str:
    return str(_config("PAYLINKS_CHECKOUT_PREFIX"))


def _base(base_url: str | None) -> str:
    """Where personal URLs point: ``PAYLINKS_PUBLIC_URL``, else the request's host."""
    configured = _config("PAYLINKS_PUBLIC_URL")
    chosen = configured or base_url or public_base_url(current_app.config)
    return str(chosen).rstrip("/")


def _url_length(base_url: str) -> int:
    return len(personal_url(base_url, _checkout_prefix(), "x" * 22))


def _check(
    owner: str,
    link: PaymentLink,
    selection: Selection,
    channels: Sequence[str],
    message: Message,
    base_url: str,
) -> tuple[tuple[Channel, ...], Audience]:
    """Validate everything once; every problem raised together, keyed by field."""
    if link.owner_id != owner:
        raise NotFound("No such link.")
    problems: dict[str, str] = {}
    try:
        chosen = parse_channels(channels)
    except InvalidInput as error:
        problems.update(error.errors)
        chosen = ()
    problems.update(
        message_problems(chosen, message, link_length=_url_length(base_url))
    )
    if not link.is_active:
        problems["link"] = "This link does not take payments now; activate it first."
    try:
        audience = resolve(owner, selection)
    except InvalidInput as error:
        problems.update(error.errors)
        raise InvalidInput(problems) from None
    if problems:
        raise InvalidInput(problems)
    return chosen, audience


def _values(
    contact: Contact | None, name: str, link: PaymentLink, url: str
) -> dict[str, str]:
    merchant = merchant_profile(link.owner_id).name
    return merge_values(
        contact, name=name, link_url=url, merchant=merchant, link_name=link.name
    )


def preview(
    owner: str,
    link: PaymentLink,
    selection: Selection,
    channels: Sequence[str],
    message: Message,
    *,
    base_url: str | None = None,
) -> Preview:
    """Count who *message* would reach on *channels*, who is skipped and why.

    Reads every contact once (segments streamed); nothing is written.
    Raises :class:`InvalidInput` keyed ``sms_body``, ``email_subject``,
    ``email_body``, ``channels``, ``contacts`` or ``link``, and
    :class:`NotFound` for a contact or segment that is not the owner's.
    """
    base = _base(base_url)
    chosen, audience = _check(owner, link, selection, channels, message, base)
    receiving = {channel.value: 0 for channel in chosen}
    skipped: dict[tuple[str, str], int] = {}
    seen_contacts: set[int] = set()
    seen_addresses: set[tuple[str, int]] = set()
    duplicates = contacts = 0
    first: Contact | None = None
    region = _config("PAYLINKS_PHONE_REGION")
    stopped = opted_out_phones(owner)
    members = audience.members()
    try:
        for contact in members:
            key = hash(contact.id)
            if key in seen_contacts:
                duplicates += 1
                continue
            seen_contacts.add(key)
            contacts += 1
            for channel in chosen:
                address, reason = address_for(contact, channel, region=region)
                if address is not None and channel is Channel.SMS:
                    reason = (
                        SkipReason.OPTED_OUT
                        if address in stopped
                        else phone_problem(address)
                    )
                if address is not None and reason is None:
                    slot = (channel.value, hash(address))
                    if slot in seen_addresses:
                        reason = SkipReason.DUPLICATE
                    else:
                        seen_addresses.add(slot)
                if reason is None:
                    receiving[channel.value] += 1
                    first = first or contact
                else:
                    skipped[(channel.value, reason.value)] = (
                        skipped.get((channel.value, reason.value), 0) + 1
                    )
    finally:
        # Stopped early or not, the directory's cursor is closed.
        members.close()
    sample = None
    if first is not None:
        values = _values(
            first, first.name, link, personal_url(base, _checkout_prefix(), new_token())
        )
        sample = Sample(
            contact_name=first.name or first.id,
            sms=render_for(message.sms_body, values) if Channel.SMS in chosen else "",
            email_subject=render_for(message.email_subject, values)
            if Channel.EMAIL in chosen
            else "",
            email_body=render_for(message.email_body, values)
            if Channel.EMAIL in chosen
            else "",
        )
    segments = None
    if Channel.SMS in chosen:
        longest = render_for(
            message.sms_body,
            _values(None, "", link, personal_url(base, _checkout_prefix(), "x" * 22)),
        )
        segments = sms_segments(sample.sms if sample and sample.sms else longest)
    return Preview(receiving, skipped, duplicates, contacts, sample, segments)


def start_send(
    owner: str,
    link: PaymentLink,
    selection: Selection,
    channels: Sequence[str],
    message: Message,
    *,
    base_url: str | None = None,
    segment_id: str | None = None,
    idempotency_key: str | None = None,
) -> Send:
    """Create the send and its recipients in one transaction, then queue the work.

    Same errors as :func:`preview`. Without a queue (no Redis), a send to
    more than ``PAYLINKS_INLINE_SEND_LIMIT`` contacts is refused; a smaller
    one goes out from this call. With *idempotency_key* (the composer's
    attempt), a second call with the same key returns the first send and
    sends nothing.
    """
    key = (idempotency_key or "")[:64] or None
    if key is not None:
        earlier = send_of_attempt(owner, key)
        if earlier is not None:
            return earlier
    base = _base(base_url)
    chosen, audience = _check(owner, link, selection, channels, message, base)
    jobs = paylinks_state().jobs
    limit = int(_config("PAYLINKS_INLINE_SEND_LIMIT"))
    if jobs.is_inline and audience.size_hint > limit:
        raise InvalidInput({"contacts": _needs_worker(audience.size_hint, limit)})
    db = session()
    now = utcnow()
    send = Send(
        owner_id=owner,
        link_id=link.id,
        channels=",".join(channel.value for channel in chosen),
        sms_body=message.sms_body if Channel.SMS in chosen else "",
        email_subject=message.email_subject if Channel.EMAIL in chosen else "",
        email_body=message.email_body if Channel.EMAIL in chosen else "",
        segment_id=segment_id
        or (audience.segment_ids[0] if len(audience.segment_ids) == 1 else None),
        state=SendState.QUEUED,
        inline=jobs.is_inline,
        base_url=base,
        idempotency_key=key,
        created_at=now,
        updated_at=now,
    )
    db.add(send)
    try:
        db.flush()
    except IntegrityError:
        # The same attempt, submitted twice at once: the other one sends.
        db.rollback()
        earlier = send_of_attempt(owner, key) if key else None
        if earlier is None:
            raise
        return earlier
    try:
        # Inline, the limit is counted too: a directory may not know a
        # segment's size, and it counts messages, not contacts.
        ranges, duplicates = _insert_recipients(
            send, audience, chosen, now, limit=limit if jobs.is_inline else None
        )
    except Exception:
        db.rollback()
        raise
    send.duplicates = duplicates
    send.state = SendState.SENDING
    db.commit()
    delivery.dispatch(send.id, ranges)
    return send


def send_of_attempt(owner: str, key: str) -> Send | None:
    return (
        session()
        .scalars(
            select(Send).where(Send.owner_id == owner, Send.idempotency_key == key)
        )
        .first()
    )


def _needs_worker(size: int | None, limit: int) -> str:
    reach = f"about {size:,}" if size is not None else f"more than {limit:,}"
    return (
        f"This send reaches {reach} messages. Without a background worker "
        f"a send may reach at most {limit:,}: ask your administrator to set "
        "PAYLINKS_REDIS_URL and run 'flask paylinks worker'."
    )


def _insert_recipients(
    send: Send,
    audience: Audience,
    channels: Sequence[Channel],
    now: datetime,
    *,
    limit: int | None = None,
) -> tuple[list[tuple[int, int]], int]:
    """Insert the recipient rows in chunks; the id ranges to queue, and duplicates.

    Memory stays flat however large the segment: contacts are streamed, rows
    go out a chunk at a time, and only hashes of what was seen are kept.
    """
    db = session()
    region = _config("PAYLINKS_PHONE_REGION")
    stopped = opted_out_phones(send.owner_id)
    queued = 0
    # One set of int hashes per kind: a tuple per address would cost 56
    # bytes more per recipient (about 6 MB for 100,000).
    seen_contacts: set[int] = set()
    seen_addresses: dict[Channel, set[int]] = {channel: set() for channel in channels}
    duplicates = 0
    rows: list[dict[str, Any]] = []
    # No RETURNING: a plain executemany lets the driver send one short
    # statement many times (psycopg pipelines it) instead of a statement of
    # thousands of placeholders it must parse each time; the ids are read
    # back as ranges once everything is in.
    statement = insert(Recipient)

    members = audience.members()
    try:
        for contact in members:
            key = hash(contact.id)
            if key in seen_contacts:
                duplicates += 1
                continue
            seen_contacts.add(key)
            for channel in channels:
                address, reason = address_for(contact, channel, region=region)
                if channel is Channel.SMS and address in stopped:
                    address, reason = None, SkipReason.OPTED_OUT
                if address is not None:
                    slot = hash(address)
                    if slot in seen_addresses[channel]:
                        duplicates += 1
                        continue
                    seen_addresses[channel].add(slot)
                rows.append(
                    {
                        "owner_id": send.owner_id,
                        "send_id": send.id,
                        "link_id": send.link_id,
                        "contact_id": contact.id,
                        "name": (contact.name or "")[:200],
                        "channel": channel.value,
                        "address": address,
                        "token": new_token(),
                        "state": RecipientState.SKIPPED
                        if reason
                        else RecipientState.QUEUED,
                        "reason": reason.value if reason else None,
                        "created_at": now,
                        "dispatched_at": None if reason else now,
                    }
                )
                if reason is None:
                    queued += 1
                    if limit is not None and queued > limit:
                        raise InvalidInput({"contacts": _needs_worker(None, limit)})
            if len(rows) >= _INSERT_CHUNK:
                db.execute(statement, rows)
                rows.clear()
    finally:
        # Stopped early or not, the directory's cursor is closed.
        members.close()
    if rows:
        db.execute(statement, rows)
        rows.clear()
    return _queued_ranges(send.id), duplicates


def _queued_ranges(send_id: int) -> list[tuple[int, int]]:
    """The send's queued recipient ids, in order, cut into jobs of a batch each.

    Counted in the database (a window over the ids), so no id list is held.
    """
    batch = int(_config("PAYLINKS_SEND_BATCH_SIZE"))
    # Integer division on PostgreSQL and SQLite alike (both operands integers).
    position = func.row_number().over(order_by=Recipient.id) - 1
    numbered = (
        select(
            Recipient.id.label("id"), position.self_group().op("/")(batch).label("grp")
        )
        .where(Recipient.send_id == send_id, Recipient.state == RecipientState.QUEUED)
        .subquery()
    )
    return [
        (int(first), int(last))
        for first, last in session().execute(
            select(func.min(numbered.c.id), func.max(numbered.c.id))
            .group_by(numbered.c.grp)
            .order_by(numbered.c.grp)
        )
    ]


def send_link(
    owner: str,
    link: PaymentLink,
    recipients: Iterable[str] | str,
    channels: Sequence[str],
    message: Message | str,
    *,
    email_subject: str = "",
) -> Send:
    """Send *link* to contacts from a host's own code (an automation, a script).

    *recipients* is a list of contact ids, or one segment id as a string.
    *message* is a :class:`Message`, or the text of the SMS and email body.
    Raises as :func:`start_send` does. Outside a request, the personal URLs
    use ``PAYLINKS_PUBLIC_URL``.
    """
    if isinstance(recipients, str):
        selection = Selection(segment_ids=(recipients,))
    else:
        selection = Selection(contact_ids=tuple(str(cid) for cid in recipients))
    if isinstance(message, str):
        message = Message(
            sms_body=message,
            email_subject=email_subject or link.name,
            email_body=message,
        )
    return start_send(owner, link, selection, channels, message)


def progress(send: Send) -> Progress:
    """The send's state and its messages counted by state (one query)."""
    counts = {
        str(state): int(count)
        for state, count in session().execute(
            select(Recipient.state, func.count())
            .where(Recipient.send_id == send.id)
            .group_by(Recipient.state)
        )
    }
    return Progress(send.state, send.paused_reason, counts)


def get_send(owner: str, send_id: Any) -> Send:
    """The owner's send; a foreign or unknown id is :class:`NotFound`."""
    return require_owned(Send, owner, send_id)


def pause(owner: str, send_id: Any) -> Send:
    """Stop handing out the send's messages until it is resumed."""
    send = get_send(owner, send_id)
    _set_state(send, {SendState.SENDING}, SendState.PAUSED, "Paused by you.")
    return send


def resume(owner: str, send_id: Any) -> Send:
    """Hand out a paused send's waiting messages again."""
    send = get_send(owner, send_id)
    _set_state(send, {SendState.PAUSED}, SendState.SENDING, None)
    delivery.redispatch(send.id)
    return send


def cancel(owner: str, send_id: Any) -> Send:
    """Stop the send for good: its waiting messages are skipped."""
    send = get_send(owner, send_id)
    _set_state(
        send,
        {SendState.QUEUED, SendState.SENDING, SendState.PAUSED},
        SendState.CANCELLED,
        None,
    )
    session().execute(
        update(Recipient)
        .where(
            Recipient.send_id == send.id,
            Recipient.state == RecipientState.QUEUED,
            Recipient.claim.is_(None),
        )
        .values(state=RecipientState.SKIPPED, reason="send cancelled")
        .execution_options(synchronize_session=False)
    )
    session().commit()
    return send


def _set_state(
    send: Send, before: set[SendState], after: SendState, reason: str | None
) -> None:
    db = session()
    changed: Any = db.execute(
        update(Send)
        .where(Send.id == send.id, Send.state.in_([s.value for s in before]))
        .values(
            state=after,
            paused_reason=reason,
            pause_clears_itself=False,
            finished_at=utcnow() if after is SendState.CANCELLED else None,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:
        db.rollback()
        raise Conflict(f"This send is {send.state}; it cannot become {after}.")
    db.commit()
    db.refresh(send)


def send_again(owner: str, send_id: Any, recipient_ids: Sequence[Any]) -> Send:
    """A new send of the same link and message to some recipients of a send.

    Used for "send again to these": the contacts who opened and did not pay.
    """
    send = get_send(owner, send_id)
    ids: list[int] = []
    for value in recipient_ids:
        try:
            number = int(value)
            if not 0 < number < 2**63:
                raise ValueError(value)
            ids.append(number)
        except (TypeError, ValueError):
            raise InvalidInput(
                {"recipients": "Pick recipients from the list."}
            ) from None
    if not ids:
        raise InvalidInput({"recipients": "Pick at least one recipient."})
    contact_ids = list(
        session().scalars(
            select(Recipient.contact_id)
            .where(
                Recipient.owner_id == owner,
                Recipient.send_id == send.id,
                Recipient.id.in_(ids),
            )
            .distinct()
        )
    )
    if not contact_ids:
        raise NotFound("None of those recipients belong to this send.")
    link = require_owned(PaymentLink, owner, send.link_id)
    message = Message(send.sms_body, send.email_subject, send.email_body)
    return start_send(
        owner,
        link,
        Selection(contact_ids=tuple(contact_ids)),
        send.channels.split(","),
        message,
        base_url=send.base_url,
    )
