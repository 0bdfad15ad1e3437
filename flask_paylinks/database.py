"""Access to the host's database session from services, jobs and the CLI."""

from __future__ import annotations

from flask import current_app
from sqlalchemy.orm import Session, scoped_session


def session() -> scoped_session[Session]:
    """The session of the ``db`` the host gave :class:`~flask_paylinks.PayLinks`."""
    db_session: scoped_session[Session] = current_app.extensions["paylinks"].db.session
    return db_session
