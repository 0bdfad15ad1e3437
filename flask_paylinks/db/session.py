"""Access to the host's database session from services, jobs and the CLI."""

from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy.orm import Session, scoped_session

log = logging.getLogger(__name__)


def session() -> scoped_session[Session]:
    """The session of the ``db`` the host gave :class:`~flask_paylinks.PayLinks`."""
    db_session: scoped_session[Session] = current_app.extensions["paylinks"].db.session
    return db_session


def reset_session() -> None:
    """Roll the session back after a failure; never raises.

    A job or request that failed half-way must leave a working session for
    what runs next. When even the rollback fails (the database is away, the
    connection died), the session is closed, and the next use takes a fresh
    connection from the pool.
    """
    db_session = session()
    try:
        db_session.rollback()
    except Exception:
        log.debug("rollback after a failure failed; closing the session")
        try:
            db_session.close()
        except Exception:
            log.debug("closing the session after a failure failed", exc_info=True)
