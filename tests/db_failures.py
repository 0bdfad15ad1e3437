"""Make the app's database fail from inside SQLAlchemy, as a dropped server does.

Every statement raises the driver's own ``OperationalError`` (sqlite3's or
psycopg's), so SQLAlchemy wraps and classifies it exactly as it would a
real disconnect. Tests use it for failures a real server cannot be made to
produce at a precise moment (right after the commit of a charge).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

DROPPED = "server closed the connection unexpectedly"


class DatabaseFailures:
    """Switches for one engine: down now, or down right after a charge commits."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.down = False
        self.only_tables: tuple[str, ...] = ()
        self._after_charge = False
        self._charge_flushed = False
        self._fail_commit = False
        self.failed_statements: list[str] = []

    def after_next_charge(self) -> None:
        """Fail every statement after the commit that marks a payment succeeded."""
        self._after_charge = True

    def at_next_charge_commit(self) -> None:
        """Drop the connection as the commit of the next charge is sent.

        The commit does not happen; the app cannot tell it from a server
        that committed and then went away before answering.
        """
        self._after_charge = self._fail_commit = True

    def _before(
        self,
        conn: Any,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        if self.down and (
            not self.only_tables or any(t in statement for t in self.only_tables)
        ):
            self.failed_statements.append(statement)
            raise self.engine.dialect.loaded_dbapi.OperationalError(DROPPED)
        if (
            self._after_charge
            and statement.lstrip().upper().startswith("UPDATE PAYLINKS_PAYMENTS")
            and "succeeded" in repr(parameters)
        ):
            self._charge_flushed = True

    def _commit(self, conn: Any) -> None:
        if self._charge_flushed:
            self.down = True
            self._after_charge = self._charge_flushed = False
            if self._fail_commit:
                self._fail_commit = False
                dbapi_error = self.engine.dialect.loaded_dbapi.OperationalError
                raise OperationalError("COMMIT", {}, dbapi_error(DROPPED))


@contextlib.contextmanager
def database_failures(engine: Engine) -> Iterator[DatabaseFailures]:
    """Listen on *engine* for the block; the database is up until told otherwise."""
    failures = DatabaseFailures(engine)
    event.listen(engine, "before_cursor_execute", failures._before)
    event.listen(engine, "commit", failures._commit)
    try:
        yield failures
    finally:
        event.remove(engine, "before_cursor_execute", failures._before)
        event.remove(engine, "commit", failures._commit)
