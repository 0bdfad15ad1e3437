"""Claiming a limited resource so the limit holds under concurrency, on any database.

A coupon's redemptions, a single-use link, and later a Text-to-Pay request are
each a counter with a cap. Reading the counter and then writing it lets two
concurrent checkouts both see "one left"; ``SELECT ... FOR UPDATE`` would stop
that on PostgreSQL but does nothing on SQLite. A conditional ``UPDATE``
closes the gap everywhere: the database checks the cap and bumps the counter
in one statement, and the row count says whether this caller got it::

    UPDATE paylinks_coupons SET times_claimed = times_claimed + 1
     WHERE id = :id AND (max_redemptions IS NULL OR times_claimed < max_redemptions)

PostgreSQL re-evaluates the ``WHERE`` after a concurrent update of the row
commits; SQLite runs one writer at a time. Both statements run in the
caller's transaction, so a claim that is rolled back was never taken.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_, update
from sqlalchemy.orm import InstrumentedAttribute

from flask_paylinks.db.session import session

Cap = int | InstrumentedAttribute[Any] | InstrumentedAttribute[int | None] | None


def claim(counter: InstrumentedAttribute[int], row_id: int, *, cap: Cap) -> bool:
    """Add one to *counter* of row *row_id* unless it reached *cap*; True if added.

    *cap* is a number, or a (nullable) column of the same table whose NULL
    means "no limit", or ``None`` for no limit at all.
    """
    model: Any = counter.class_
    conditions: list[ColumnElement[bool]] = [model.id == row_id]
    if isinstance(cap, int):
        conditions.append(counter < cap)
    elif cap is not None:
        conditions.append(or_(cap.is_(None), counter < cap))
    stmt = (
        update(model)
        .where(*conditions)
        .values({counter.key: counter + 1})
        .execution_options(synchronize_session=False)
    )
    claimed = _rowcount(session().execute(stmt)) == 1
    _expire(model, row_id, counter.key)
    return claimed


def release(counter: InstrumentedAttribute[int], row_id: int) -> bool:
    """Give one claim back (never below zero); True if one was given back."""
    model: Any = counter.class_
    stmt = (
        update(model)
        .where(model.id == row_id, counter > 0)
        .values({counter.key: counter - 1})
        .execution_options(synchronize_session=False)
    )
    released = _rowcount(session().execute(stmt)) == 1
    _expire(model, row_id, counter.key)
    return released


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


def _expire(model: Any, row_id: int, key: str) -> None:
    """Make a loaded copy of the row read the new count on next access."""
    db = session()
    loaded = db.identity_map.get(db.identity_key(model, row_id))
    if loaded is not None:
        db.expire(loaded, [key])
