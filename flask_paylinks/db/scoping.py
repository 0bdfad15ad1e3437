"""Owner scoping: the one place every query learns whose rows it may see.

Services take the owner id as an argument and build their queries with
:func:`owned`; views get the owner of the request from :func:`current_owner`.
A row of another owner is indistinguishable from a missing one: 404.
"""

from __future__ import annotations

from typing import Any, TypeVar

from flask import abort, current_app, g
from sqlalchemy import Select, select

from flask_paylinks.core.errors import NotFound
from flask_paylinks.db.models import Base
from flask_paylinks.db.session import session

ModelT = TypeVar("ModelT", bound=Base)
#: Ids at or above this do not fit a BIGINT: no row can have them.
MAX_ID = 2**63


def owned(model: type[ModelT], owner: str) -> Select[ModelT]:
    """``select(model)`` limited to *owner*'s rows."""
    column: Any = model.owner_id  # type: ignore[attr-defined]
    return select(model).where(column == owner)


def get_owned(model: type[ModelT], owner: str, object_id: Any) -> ModelT | None:
    """The *owner*'s row of *model* with primary key *object_id*, or ``None``."""
    try:
        key = int(object_id)
    except (TypeError, ValueError):
        return None
    if not 0 < key < MAX_ID:
        return None
    column: Any = model.id  # type: ignore[attr-defined]
    row: ModelT | None = (
        session().scalars(owned(model, owner).where(column == key)).first()
    )
    return row


def require_owned(model: type[ModelT], owner: str, object_id: Any) -> ModelT:
    """Like :func:`get_owned`, raising :class:`NotFound` when there is no such row."""
    row = get_owned(model, owner, object_id)
    if row is None:
        raise NotFound(f"No {model.__name__} {object_id!r} of this owner.")
    return row


def current_owner() -> str:
    """The owner of the current request, as the host's ``owner_loader`` says.

    An anonymous request gets the host's login flow (Flask-Login's
    ``unauthorized()``), or 401 when the host has no login manager.
    """
    cached: str | None = g.get("paylinks_owner")
    if cached is not None:
        return cached
    owner = current_app.extensions["paylinks"].owner_loader()
    if owner is None or owner == "":
        login_manager = getattr(current_app, "login_manager", None)
        if login_manager is not None:
            abort(login_manager.unauthorized())
        abort(401)
    g.paylinks_owner = str(owner)
    return g.paylinks_owner  # type: ignore[no-any-return]


def default_owner_loader() -> str | None:
    """The id of Flask-Login's ``current_user``, or ``None`` when anonymous."""
    from flask_login import current_user

    if not current_user or not current_user.is_authenticated:
        return None
    user_id: str | None = current_user.get_id()
    return user_id
