"""The outbox: every follow-up of a change is a row written with the change.

A payment that succeeds owes follow-ups: link its contact and send
``payment_succeeded``, email the receipt. Each is an
:class:`~flask_paylinks.db.models.OutboxItem` added in the *same transaction*
as the state change that owes it, so it exists exactly when the change
does. After the commit the items are *dispatched*: to RQ when
``PAYLINKS_REDIS_URL`` is set (the queue only carries an item's id), or run
inline in the request when it is not (or when Redis cannot be reached).

Running an item (:func:`run`) first *claims* it with a conditional UPDATE
(pending and due, or running with a lease that ran out) and then runs its
handler and marks it done in one transaction, so its effect and its "done"
commit together: a worker killed half-way leaves the item to be run again,
and an item run twice changes nothing the second time. A failure rolls the
handler's work back and reschedules the item with back-off; after
``PAYLINKS_OUTBOX_MAX_ATTEMPTS`` it is *parked* and logged for a person.

The :func:`sweep` hands out again what is due and not done (a queue wiped
by a Redis restart, a worker killed mid-job, a failure whose back-off
passed) and settles payments left pending by a crash. The worker runs it
every few seconds; ``flask paylinks reconcile`` runs it once.

The outbox knows no payment: the handler of each kind of item is registered
by its owner (:func:`register`), and so is what the sweeper settles
(:func:`register_settler`); :mod:`flask_paylinks.payments` registers both.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, func, or_, select, update

from flask_paylinks.core.errors import PayLinksError
from flask_paylinks.db.models import OutboxItem, OutboxState, utcnow
from flask_paylinks.db.session import reset_session, session
from flask_paylinks.state import paylinks_state

log = logging.getLogger(__name__)

#: Runs the follow-up of one subject (by id) in the caller's transaction.
Handler = Callable[[int], Any]
#: Settles what was left unfinished older than the sweep's ``now``; how many.
Settler = Callable[[datetime], int]

_handlers: dict[str, Handler] = {}
_settlers: list[Settler] = []


class Incomplete(PayLinksError):
    """Raised by a handler whose work so far is to be kept, but that is not done.

    The work the handler did commits with the item rescheduled; the item
    runs again after its back-off.
    """


def register(kind: str, handler: Handler) -> None:
    """Run items of *kind* with *handler* (which must not commit)."""
    _handlers[kind] = handler


def register_settler(settler: Settler) -> None:
    """Have every :func:`sweep` call *settler* too; its count is ``abandoned``."""
    if settler not in _settlers:
        _settlers.append(settler)


def _config(key: str) -> int:
    return int(current_app.config[key])


def add(kind: str, subject_id: int, owner_id: str, *, now: datetime) -> OutboxItem:
    """Owe a follow-up: an item in the caller's transaction, dispatched after it.

    The caller commits, then passes the item's id to :func:`dispatch`. The
    item counts as dispatched from now on, so the sweeper leaves it alone
    unless it is still not done once ``PAYLINKS_OUTBOX_REDISPATCH_SECONDS``
    have passed (the process died before it was handed on).
    """
    item = OutboxItem(
        owner_id=owner_id,
        kind=kind,
        subject_id=subject_id,
        state=OutboxState.PENDING,
        attempts=0,
        run_after=now,
        dispatched_at=now,
        created_at=now,
    )
    session().add(item)
    return item


def dispatch(item_ids: Iterable[int]) -> None:
    """Hand committed items to the queue, or run them now when jobs are inline.

    Never raises: what could not be handed on or failed is picked up by
    the sweeper.
    """
    _hand_out(item_ids)
    if paylinks_state().jobs.is_inline:
        _sweep_now_and_then()


def _hand_out(item_ids: Iterable[int]) -> None:
    from flask_paylinks.jobs.queue import run_outbox_item

    jobs = paylinks_state().jobs
    for item_id in item_ids:
        jobs.enqueue(run_outbox_item, item_id, job_id=f"paylinks-outbox-{item_id}")


def _sweep_now_and_then() -> None:
    """Without a worker, sweep from the requests that owe follow-ups.

    At most once per ``PAYLINKS_SWEEP_SECONDS`` per process, so follow-ups
    that failed earlier are retried without a cron job.
    """
    extras = paylinks_state().extras
    last = extras.get("outbox.last_sweep", float("-inf"))
    if time.monotonic() - last < _config("PAYLINKS_SWEEP_SECONDS"):
        return
    try:
        sweep()
    except Exception:
        log.exception("the sweeper failed; it runs again later")
        reset_session()


def run(item_id: int) -> bool:
    """Claim one item, run its handler, and mark it done with the handler's work.

    Returns whether this call completed it. Failures are logged, rolled back
    and rescheduled (or parked); they are not raised.
    """
    db = session()
    now = utcnow()
    token = secrets.token_hex(8)
    lease = timedelta(seconds=_config("PAYLINKS_OUTBOX_LEASE_SECONDS"))
    claimed: Any = db.execute(
        update(OutboxItem)
        .where(OutboxItem.id == item_id, _due(now))
        .values(
            state=OutboxState.RUNNING,
            claim=token,
            lease_until=now + lease,
            attempts=OutboxItem.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        db.rollback()
        return False
    db.commit()
    item = db.get(OutboxItem, item_id, populate_existing=True)
    if item is None:  # deleted meanwhile
        return False
    kind, subject_id, attempts = item.kind, item.subject_id, item.attempts
    handler = _handlers.get(kind)
    try:
        if handler is None:
            raise PayLinksError(f"no handler for outbox item kind {kind!r}")
        handler(subject_id)
    except Incomplete as unfinished:
        log.warning(
            "follow-up %s of %s is not finished: %s", kind, subject_id, unfinished
        )
        _reschedule(item_id, token, attempts, str(unfinished))
        return False
    except Exception as error:
        log.exception(
            "follow-up %s of %s failed (attempt %s)", kind, subject_id, attempts
        )
        reset_session()
        _reschedule(item_id, token, attempts, f"{type(error).__name__}: {error}")
        return False
    finished: Any = db.execute(
        update(OutboxItem)
        .where(
            OutboxItem.id == item_id,
            OutboxItem.claim == token,
            OutboxItem.state == OutboxState.RUNNING,
        )
        .values(state=OutboxState.DONE, done_at=utcnow(), lease_until=None)
        .execution_options(synchronize_session=False)
    )
    if finished.rowcount != 1:
        # Our lease ran out and another run took the item over: ours is void.
        db.rollback()
        return False
    db.commit()
    return True


def _due(now: datetime) -> Any:
    """Pending and due, or running with a lease that ran out (a dead runner)."""
    return or_(
        and_(OutboxItem.state == OutboxState.PENDING, OutboxItem.run_after <= now),
        and_(OutboxItem.state == OutboxState.RUNNING, OutboxItem.lease_until < now),
    )


def backoff(attempts: int) -> timedelta:
    """How long to wait after the *attempts*-th failure: 5 s, 10 s, 20 s … 10 min."""
    return timedelta(seconds=min(600, 5 * 2 ** max(0, attempts - 1)))


def _reschedule(item_id: int, token: str, attempts: int, error: str) -> None:
    """Put a failed run back (or park it), keeping what the session holds."""
    db = session()
    parked = attempts >= _config("PAYLINKS_OUTBOX_MAX_ATTEMPTS")
    try:
        db.execute(
            update(OutboxItem)
            .where(OutboxItem.id == item_id, OutboxItem.claim == token)
            .values(
                state=OutboxState.PARKED if parked else OutboxState.PENDING,
                run_after=utcnow() + backoff(attempts),
                dispatched_at=None,
                lease_until=None,
                claim=None,
                last_error=error[:1000],
            )
            .execution_options(synchronize_session=False)
        )
        db.commit()
    except Exception:
        # The database is away: the lease runs out and the sweeper retries.
        log.exception("could not reschedule follow-up %s", item_id)
        reset_session()
        return
    if parked:
        log.error(
            "follow-up %s failed %s times and is parked: %s", item_id, attempts, error
        )


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What one :func:`sweep` did."""

    dispatched: int
    abandoned: int
    parked: int


def sweep(*, now: datetime | None = None, limit: int = 500) -> SweepResult:
    """Hand out again every item that is due and not done; settle stale payments.

    Due: pending and past its back-off, and not handed out in the last
    ``PAYLINKS_OUTBOX_REDISPATCH_SECONDS`` (a queue that lost it), or running
    with a lease that ran out (a killed worker). Each item is re-marked with
    a conditional UPDATE first, so two sweepers never hand out one item
    twice.
    """
    paylinks_state().extras["outbox.last_sweep"] = time.monotonic()
    now = now or utcnow()
    db = session()
    redispatch = now - timedelta(seconds=_config("PAYLINKS_OUTBOX_REDISPATCH_SECONDS"))
    not_recent = or_(
        OutboxItem.dispatched_at.is_(None), OutboxItem.dispatched_at < redispatch
    )
    due = and_(_due(now), not_recent)
    candidates = list(
        db.scalars(
            select(OutboxItem.id).where(due).order_by(OutboxItem.id).limit(limit)
        )
    )
    mine = [item_id for item_id in candidates if _mark_dispatched(item_id, due, now)]
    db.commit()
    _hand_out(mine)
    abandoned = sum(settle(now) for settle in _settlers)
    parked = int(
        db.scalar(
            select(func.count())
            .select_from(OutboxItem)
            .where(OutboxItem.state == OutboxState.PARKED)
        )
        or 0
    )
    db.commit()
    return SweepResult(dispatched=len(mine), abandoned=abandoned, parked=parked)


def _mark_dispatched(item_id: int, due: Any, now: datetime) -> bool:
    marked: Any = session().execute(
        update(OutboxItem)
        .where(OutboxItem.id == item_id, due)
        .values(dispatched_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(marked.rowcount == 1)
