"""Handing a send's messages to the SMS and email providers, each exactly once.

Each :class:`~flask_paylinks.db.models.Recipient` row is the outbox record of
its message. The queue carries jobs that name a *range* of recipient ids
(:func:`deliver_range`); a job re-reads the rows and sends those still
queued. A message is *claimed* (a conditional UPDATE with a lease) and
committed before the provider is called, and its provider message id is
stored with its new state after, so:

- a job run twice, or two workers on one range, send each message once;
- a queue lost with Redis loses nothing: the sweeper (:func:`settle`)
  hands out again what is due and not done;
- a worker killed after the claim and before the answer leaves the message
  *in doubt*: it may have gone out, so it is marked failed with that reason
  and never sent again (no contact is texted twice); the merchant can send
  again to it.

Transient provider failures go back to the queue with back-off
(``run_after``), bad numbers fail for good, and an account-level refusal
(out of credit, bad credentials) pauses the whole send with the reason.
The rate holds across workers (:mod:`flask_paylinks.sends.rate`); SMS wait
out quiet hours (:mod:`flask_paylinks.sends.quiet`).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import and_, case, or_, select, update

from flask_paylinks import signals
from flask_paylinks.contacts import Contact
from flask_paylinks.db.models import (
    Channel,
    PaymentLink,
    Recipient,
    RecipientState,
    Send,
    SendState,
    utcnow,
)
from flask_paylinks.db.session import reset_session, session
from flask_paylinks.jobs import outbox
from flask_paylinks.merchants import merchant_profile
from flask_paylinks.messaging.base import (
    MessageDeferred,
    MessageInDoubt,
    MessageRejected,
    SenderBlocked,
    SentMessage,
)
from flask_paylinks.messaging.email import branded_html, unsubscribe_headers
from flask_paylinks.sends.audience import SkipReason, address_for, phone_problem
from flask_paylinks.sends.compose import merge_values, personal_url, render_for
from flask_paylinks.sends.optouts import opted_out
from flask_paylinks.sends.quiet import parse_window, quiet_until
from flask_paylinks.sends.rate import (
    LocalTokenBucket,
    RateLimiter,
    RateUnavailable,
    RedisTokenBucket,
)
from flask_paylinks.state import paylinks_state

log = logging.getLogger(__name__)

#: Why a send waits for the queue; it resumes by itself when Redis is back.
QUEUE_DOWN = (
    "The job queue (Redis) cannot be reached. Nothing is lost: the send goes on "
    "by itself when the queue is back."
)
IN_DOUBT = (
    "Interrupted while being handed to the provider: it may have gone out, so "
    "it is not sent again automatically."
)


def _config(key: str) -> Any:
    return current_app.config[key]


# -- handing out --------------------------------------------------------------


_JOB_PREFIX = "paylinks-send-"


def _job_id(send_id: int, first: int, last: int) -> str:
    return f"{_JOB_PREFIX}{send_id}-{first}-{last}"


def dispatch(send_id: int, ranges: Sequence[tuple[int, int]]) -> None:
    """Queue the ranges of a committed send, or send them now when jobs are inline.

    Never raises: when Redis cannot take them the send is paused until it
    can (the sweeper resumes it).
    """
    jobs = paylinks_state().jobs
    if jobs.is_inline:
        for first, last in ranges:
            _run_inline(send_id, first, last)
        return
    try:
        jobs.enqueue_many(
            deliver_range,
            [
                ((send_id, first, last), _job_id(send_id, first, last))
                for first, last in ranges
            ],
        )
    except Exception as error:
        log.error("send %s could not be queued: %s", send_id, error)
        pause_for(send_id, QUEUE_DOWN, clears_itself=True)


def _run_inline(send_id: int, first: int, last: int) -> None:
    try:
        deliver_range(send_id, first, last)
    except Exception:
        log.exception(
            "send %s: messages %s-%s failed; retried later", send_id, first, last
        )
        reset_session()


def redispatch(send_id: int) -> int:
    """Hand out again the send's due messages; how many ranges were queued."""
    return _redispatch_due(utcnow(), send_id=send_id, force=True)


def pause_for(send_id: int, reason: str, *, clears_itself: bool) -> None:
    """Pause a sending send with *reason*; never raises."""
    db = session()
    try:
        db.rollback()
        db.execute(
            update(Send)
            .where(Send.id == send_id, Send.state == SendState.SENDING)
            .values(
                state=SendState.PAUSED,
                paused_reason=reason[:300],
                pause_clears_itself=clears_itself,
                updated_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )
        db.commit()
    except Exception:
        log.exception("could not pause send %s", send_id)
        reset_session()


# -- sending ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Outgoing:
    """One claimed message, ready for the provider."""

    recipient_id: int
    claim: str
    attempts: int
    channel: Channel
    to: str
    contact_id: str
    body: str
    subject: str = ""
    html: str | None = None
    from_name: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


def deliver_range(send_id: int, first_id: int, last_id: int) -> int:
    """The job: send the due, queued messages of one range of a send.

    Returns how many the providers took. Safe to run any number of times.
    """
    db = session()
    send = db.get(Send, send_id, populate_existing=True)
    if send is None or send.state != SendState.SENDING:
        return 0
    now = utcnow()
    ids = list(
        db.scalars(
            select(Recipient.id)
            .where(
                Recipient.send_id == send_id,
                Recipient.id.between(first_id, last_id),
                _due(now),
            )
            .order_by(Recipient.id)
        )
    )
    db.commit()
    sent = _deliver(send_id, ids) if ids else 0
    finish_if_done(send_id)
    return sent


def _due(now: datetime) -> Any:
    return and_(
        Recipient.state == RecipientState.QUEUED,
        Recipient.claim.is_(None),
        or_(Recipient.run_after.is_(None), Recipient.run_after <= now),
    )


def _limiter() -> RateLimiter:
    state = paylinks_state()
    rate = float(_config("PAYLINKS_SEND_RATE"))
    if state.jobs.is_inline:
        limiter = state.extras.get("sends.limiter")
        if not isinstance(limiter, LocalTokenBucket) or limiter.rate != rate:
            limiter = state.extras["sends.limiter"] = LocalTokenBucket(rate)
        return limiter
    key = f"{_config('PAYLINKS_QUEUE_NAME')}:send-rate"
    return RedisTokenBucket(state.jobs.connection(), key, rate)


def _deliver(send_id: int, recipient_ids: Sequence[int]) -> int:
    """Claim, send and record each message, a few in flight at once."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    limiter = _limiter()
    concurrency = max(1, int(_config("PAYLINKS_SEND_CONCURRENCY")))
    sent = 0
    in_flight: dict[Future[SentMessage], _Outgoing] = {}
    stop = False
    with ThreadPoolExecutor(concurrency, thread_name_prefix="paylinks-send") as pool:
        try:
            for recipient_id in recipient_ids:
                if stop or _send_stopped(send_id):
                    break
                try:
                    limiter.take()
                except RateUnavailable as error:
                    log.error("send %s: the rate limiter is away: %s", send_id, error)
                    pause_for(send_id, QUEUE_DOWN, clears_itself=True)
                    break
                try:
                    outgoing = _prepare(send_id, recipient_id)
                except Exception:
                    # One recipient (a host directory error…) must not stall
                    # the range: it stays queued, unclaimed, for the sweeper.
                    log.exception("message %s could not be prepared", recipient_id)
                    reset_session()
                    continue
                if outgoing is None:
                    continue
                in_flight[pool.submit(_call_provider, app, outgoing)] = outgoing
                while len(in_flight) >= concurrency:
                    done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                    for future in done:
                        result = _record(send_id, in_flight.pop(future), future)
                        sent += result == "sent"
                        stop = stop or result == "blocked"
        finally:
            # Whatever stopped the loop, what the provider answered is kept.
            for future in list(in_flight):
                result = _record(send_id, in_flight.pop(future), future)
                sent += result == "sent"
    return sent


def _send_stopped(send_id: int) -> bool:
    db = session()
    state = db.scalar(select(Send.state).where(Send.id == send_id))
    db.commit()
    return state != SendState.SENDING


def _prepare(send_id: int, recipient_id: int) -> _Outgoing | None:
    """Check the contact now, then claim the message; ``None``: nothing to send."""
    db = session()
    now = utcnow()
    recipient = db.get(Recipient, recipient_id, populate_existing=True)
    if recipient is None or recipient.state != RecipientState.QUEUED:
        db.commit()
        return None
    if recipient.claim is not None:
        db.commit()
        return None
    send = db.get(Send, send_id)
    link = db.get(PaymentLink, recipient.link_id)
    assert send is not None
    assert link is not None
    channel = Channel(recipient.channel)
    contact = paylinks_state().contacts.get(recipient.owner_id, recipient.contact_id)
    reason = _skip_reason(recipient.owner_id, contact, channel, recipient.address)
    if reason is not None:
        _mark(recipient_id, None, state=RecipientState.SKIPPED, reason=reason)
        return None
    assert contact is not None
    assert recipient.address is not None
    merchant = merchant_profile(recipient.owner_id)
    if channel is Channel.SMS:
        wake = quiet_until(
            recipient.address,
            merchant.zone,
            parse_window(_config("PAYLINKS_QUIET_HOURS")),
            now,
        )
        if wake is not None:
            _mark(recipient_id, None, state=RecipientState.QUEUED, run_after=wake)
            return None
    # Everything read before the claim commits: the commit expires the rows.
    claim = secrets.token_hex(8)
    attempts = recipient.attempts + 1
    url = personal_url(
        send.base_url, str(_config("PAYLINKS_CHECKOUT_PREFIX")), recipient.token
    )
    values = merge_values(
        contact,
        name=recipient.name,
        link_url=url,
        merchant=merchant.name,
        link_name=link.name,
    )
    if channel is Channel.SMS:
        outgoing = _Outgoing(
            recipient_id,
            claim,
            attempts,
            channel,
            recipient.address,
            recipient.contact_id,
            render_for(send.sms_body, values),
        )
    else:
        body = render_for(send.email_body, values)
        outgoing = _Outgoing(
            recipient_id,
            claim,
            attempts,
            channel,
            recipient.address,
            recipient.contact_id,
            body,
            subject=render_for(send.email_subject, values),
            html=branded_html(
                body,
                merchant=merchant.name,
                brand_color=link.brand_color,
                button_url=url,
            ),
            from_name=merchant.name,
            headers=tuple(
                unsubscribe_headers(
                    mailto=merchant.support_email or _config("PAYLINKS_EMAIL_FROM")
                ).items()
            ),
        )
    lease = timedelta(seconds=int(_config("PAYLINKS_MESSAGE_LEASE_SECONDS")))
    claimed: Any = db.execute(
        update(Recipient)
        .where(Recipient.id == recipient_id, _due(now))
        .values(claim=claim, lease_until=now + lease, attempts=attempts)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        db.rollback()
        return None
    db.commit()
    return outgoing


def _skip_reason(
    owner: str, contact: Contact | None, channel: Channel, address: str | None
) -> str | None:
    """Why the message must not go now: opted out since the send began, the
    contact gone, or its address changed (the message is the old one's)."""
    if contact is None:
        return SkipReason.CONTACT_GONE.value
    now_address, reason = address_for(
        contact, channel, region=_config("PAYLINKS_PHONE_REGION")
    )
    if reason is not None:
        return reason.value
    if now_address != address:
        return "address changed"
    if channel is Channel.SMS and now_address is not None:
        if opted_out(owner, now_address):
            return SkipReason.OPTED_OUT.value
        problem = phone_problem(now_address)
        return problem.value if problem else None
    return None


def _call_provider(app: Flask, outgoing: _Outgoing) -> SentMessage:
    """Runs in a sending thread: only the provider call, no database."""
    with app.app_context():
        state = paylinks_state()
        if outgoing.channel is Channel.SMS:
            return state.sms.send_sms(
                outgoing.to, outgoing.body, client_ref=str(outgoing.recipient_id)
            )
        return state.email.send_email(
            outgoing.to,
            outgoing.subject,
            outgoing.body,
            outgoing.html,
            from_name=outgoing.from_name,
            headers=dict(outgoing.headers),
        )


def _record(send_id: int, outgoing: _Outgoing, future: Future[SentMessage]) -> str:
    """Store what the provider said: ``sent``, ``retry``, ``failed`` or ``blocked``."""
    try:
        message = future.result()
    except SenderBlocked as error:
        log.error("send %s paused: %s", send_id, error.reason)
        _release(outgoing)
        pause_for(send_id, error.reason, clears_itself=False)
        return "blocked"
    except MessageInDoubt as error:
        _mark(
            outgoing.recipient_id,
            outgoing.claim,
            state=RecipientState.FAILED,
            reason=IN_DOUBT[:200],
            last_error=error.reason[:500],
            failed_at=utcnow(),
        )
        _signal_failed(outgoing, error.reason)
        return "failed"
    except MessageRejected as error:
        _mark(
            outgoing.recipient_id,
            outgoing.claim,
            state=RecipientState.FAILED,
            reason=str(error)[:200] or "refused by the provider",
            failed_at=utcnow(),
        )
        _signal_failed(outgoing, str(error))
        return "failed"
    except Exception as error:  # deferred, or a host's sender failing
        if not isinstance(error, MessageDeferred):
            log.exception("message %s: the sender failed", outgoing.recipient_id)
        return _retry_later(outgoing, error)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    db = session()
    try:
        marked: Any = db.execute(
            update(Recipient)
            .where(
                Recipient.id == outgoing.recipient_id,
                Recipient.claim == outgoing.claim,
            )
            .values(
                # A delivery receipt that came first (found by client-ref)
                # already moved the state on: keep it.
                state=case(
                    (Recipient.state == RecipientState.QUEUED, RecipientState.SENT),
                    else_=Recipient.state,
                ),
                provider_message_id=message.provider_message_id[:100],
                sent_at=utcnow(),
                claim=None,
                lease_until=None,
                last_error=None,
            )
            .execution_options(synchronize_session=False)
        )
        if marked.rowcount == 1:
            _announce_sent(app, outgoing)
        db.commit()
    except Exception:
        log.exception(
            "message %s went out but could not be recorded", outgoing.recipient_id
        )
        reset_session()
    return "sent"


def _announce_sent(app: Flask, outgoing: _Outgoing) -> None:
    """Send ``message_sent`` in a savepoint of the transaction recording the message.

    What receivers write commits with the "sent"; a receiver that raises has
    its writes rolled back to the savepoint, and the message is still
    recorded: a host's bug never turns a message that went out into one in
    doubt.
    """
    db = session()
    try:
        with db.begin_nested():
            failures = signals.send_guarded(
                signals.message_sent,
                app,
                contact_id=outgoing.contact_id,
                channel=outgoing.channel.value,
                to=outgoing.to,
                body=outgoing.body,
            )
            if failures:
                raise _ReceiverFailed()
    except Exception:
        log.warning(
            "a message_sent receiver failed for message %s", outgoing.recipient_id
        )


class _ReceiverFailed(Exception):
    """A receiver raised: roll its writes back to the savepoint."""


def _signal_failed(outgoing: _Outgoing, reason: str) -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    signals.send_guarded(
        signals.message_failed,
        app,
        contact_id=outgoing.contact_id,
        channel=outgoing.channel.value,
        to=outgoing.to,
        reason=reason,
    )


def _retry_later(outgoing: _Outgoing, error: BaseException) -> str:
    if outgoing.attempts >= int(_config("PAYLINKS_MESSAGE_MAX_ATTEMPTS")):
        _mark(
            outgoing.recipient_id,
            outgoing.claim,
            state=RecipientState.FAILED,
            reason=f"gave up after {outgoing.attempts} attempts: {error}"[:200],
            failed_at=utcnow(),
        )
        _signal_failed(outgoing, str(error))
        return "failed"
    _mark(
        outgoing.recipient_id,
        outgoing.claim,
        state=RecipientState.QUEUED,
        run_after=utcnow() + outbox.backoff(outgoing.attempts),
        last_error=str(error)[:500],
        dispatched_at=None,
    )
    return "retry"


def _release(outgoing: _Outgoing) -> None:
    """Give a claim back unsent, and the attempt with it."""
    _mark(
        outgoing.recipient_id,
        outgoing.claim,
        state=RecipientState.QUEUED,
        attempts=max(0, outgoing.attempts - 1),
        dispatched_at=None,
    )


def _mark(recipient_id: int, claim: str | None, **values: Any) -> None:
    """Update one recipient (held by *claim*, or unclaimed) and commit."""
    db = session()
    # Unclaimed, the row may only be moved while it still waits: another
    # worker may have sent it since it was read.
    condition = (
        Recipient.claim == claim
        if claim is not None
        else and_(Recipient.claim.is_(None), Recipient.state == RecipientState.QUEUED)
    )
    try:
        db.execute(
            update(Recipient)
            .where(Recipient.id == recipient_id, condition)
            .values(claim=None, lease_until=None, **values)
            .execution_options(synchronize_session=False)
        )
        db.commit()
    except Exception:
        log.exception("could not record message %s", recipient_id)
        reset_session()


# -- finishing and sweeping ---------------------------------------------------


def finish_if_done(send_id: int) -> bool:
    """Mark a sending send finished once no message waits; signal it once."""
    db = session()
    waiting = select(Recipient.id).where(
        Recipient.send_id == send_id, Recipient.state == RecipientState.QUEUED
    )
    finished: Any = db.execute(
        update(Send)
        .where(Send.id == send_id, Send.state == SendState.SENDING, ~waiting.exists())
        .values(state=SendState.FINISHED, finished_at=utcnow(), updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if finished.rowcount != 1:
        db.commit()
        return False
    send = db.get(Send, send_id, populate_existing=True)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if send is not None:
        signals.send_guarded(signals.send_finished, app, send=send)
    db.commit()
    return True


def settle(now: datetime) -> int:
    """The sweeper's part for sends (registered with the outbox); returns 0.

    - a message whose claim outlived its lease is in doubt: failed, not resent;
    - a send paused because the queue was away resumes once it answers;
    - due messages not handed out lately are queued again;
    - sends with nothing left waiting are finished.
    """
    db = session()
    doubtful: Any = db.execute(
        update(Recipient)
        .where(
            Recipient.state == RecipientState.QUEUED,
            Recipient.claim.is_not(None),
            Recipient.lease_until < now,
        )
        .values(
            state=RecipientState.FAILED,
            reason=IN_DOUBT[:200],
            failed_at=now,
            claim=None,
            lease_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    if doubtful.rowcount:
        log.warning("%s messages were in doubt after a lost worker", doubtful.rowcount)
    db.execute(
        update(Recipient)
        .where(
            Recipient.state == RecipientState.QUEUED,
            Recipient.claim.is_(None),
            Recipient.send_id.in_(
                select(Send.id).where(Send.state == SendState.CANCELLED)
            ),
        )
        .values(state=RecipientState.SKIPPED, reason="send cancelled")
        .execution_options(synchronize_session=False)
    )
    db.commit()
    _resume_when_queue_back()
    _redispatch_due(now)
    for send_id in list(
        db.scalars(select(Send.id).where(Send.state == SendState.SENDING).limit(200))
    ):
        finish_if_done(send_id)
    db.commit()
    return 0


def _resume_when_queue_back() -> None:
    db = session()
    waiting = list(
        db.scalars(
            select(Send.id).where(
                Send.state == SendState.PAUSED, Send.pause_clears_itself.is_(True)
            )
        )
    )
    db.commit()
    if not waiting or not paylinks_state().jobs.answers():
        return
    db.execute(
        update(Send)
        .where(Send.id.in_(waiting), Send.state == SendState.PAUSED)
        .values(state=SendState.SENDING, paused_reason=None, pause_clears_itself=False)
        .execution_options(synchronize_session=False)
    )
    db.commit()
    log.warning("the queue is back: %s paused sends go on", len(waiting))


def _redispatch_due(
    now: datetime, *, send_id: int | None = None, force: bool = False, limit: int = 5000
) -> int:
    """Queue again due messages of sending sends not handed out lately."""
    db = session()
    stale = now - timedelta(seconds=int(_config("PAYLINKS_OUTBOX_REDISPATCH_SECONDS")))
    busy: set[int] = set()
    if not force:
        # A long send's ranges wait in the queue for a while: hand out again
        # only the sends the queue holds no job of (it lost them). Left out
        # before the limit, so one big send never hides the others.
        try:
            waiting = paylinks_state().jobs.waiting_job_ids()
        except Exception:
            waiting = set()
        busy = {
            int(job.split("-")[2]) for job in waiting if job.startswith(_JOB_PREFIX)
        }
    stmt = (
        select(Recipient.send_id, Recipient.id)
        .join(Send, Send.id == Recipient.send_id)
        .where(Send.state == SendState.SENDING, _due(now))
        .order_by(Recipient.send_id, Recipient.id)
        .limit(limit)
    )
    if send_id is not None:
        stmt = stmt.where(Recipient.send_id == send_id)
    if not force:
        stmt = stmt.where(
            or_(Recipient.dispatched_at.is_(None), Recipient.dispatched_at < stale)
        )
    if busy:
        stmt = stmt.where(Recipient.send_id.not_in(busy))
    rows = list(db.execute(stmt))
    db.commit()
    if not rows:
        return 0
    batch = int(_config("PAYLINKS_SEND_BATCH_SIZE"))
    ids_by_send: dict[int, list[int]] = {}
    for row_send, recipient_id in rows:
        ids_by_send.setdefault(row_send, []).append(recipient_id)
    by_send = {
        each: [
            (ids[start], ids[min(start + batch, len(ids)) - 1])
            for start in range(0, len(ids), batch)
        ]
        for each, ids in ids_by_send.items()
    }
    ids = [recipient_id for _, recipient_id in rows]
    for start in range(0, len(ids), 1000):
        db.execute(
            update(Recipient)
            .where(Recipient.id.in_(ids[start : start + 1000]))
            .values(dispatched_at=now)
            .execution_options(synchronize_session=False)
        )
    db.commit()
    queued = 0
    for each_send, ranges in by_send.items():
        dispatch(each_send, ranges)
        queued += len(ranges)
    return queued


def register() -> None:
    """Have the outbox's sweeper settle sends too."""
    outbox.register_settler(settle)
