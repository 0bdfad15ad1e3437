"""Test host B: no Flask-Login; contacts in ``people`` keyed by ``org_id``.

It splits names into ``first_name``/``last_name``, calls email
``email_address`` and phone ``phone_number``, keeps segments as saved
searches answered by a callable, and tells the extension who is logged in
through its own ``owner_loader`` (a signed session value).
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask, session
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Select, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from flask_paylinks import PayLinks, Segment, SQLAlchemyContactDirectory


class HostBase(DeclarativeBase):
    """Host B's own declarative base."""


db = SQLAlchemy(model_class=HostBase)


class Person(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "people"
    pk: Mapped[str] = mapped_column(
        String(36), primary_key=True, default=lambda: str(uuid.uuid4())
    )
    org_id: Mapped[str] = mapped_column(String(36), index=True)
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    email_address: Mapped[str | None] = mapped_column(String(200))
    phone_number: Mapped[str | None] = mapped_column(String(32))
    city: Mapped[str | None] = mapped_column(String(100))
    vip: Mapped[bool] = mapped_column(default=False)


#: Saved searches: segment id -> (name, where-clause builder).
SAVED_SEARCHES = {"vip": "VIP customers", "london": "In London"}


def _segments(owner: str) -> list[Segment]:
    return [Segment(id=key, name=name) for key, name in SAVED_SEARCHES.items()]


def _segment_members(owner: str, segment_id: str) -> Select[Any]:
    stmt = select(Person).where(Person.org_id == owner)
    if segment_id == "vip":
        return stmt.where(Person.vip.is_(True))
    if segment_id == "london":
        return stmt.where(Person.city == "London")
    return stmt.where(Person.pk.is_(None))


def contact_directory() -> SQLAlchemyContactDirectory:
    """Host B's mapping, with a split name and callable segments."""
    return SQLAlchemyContactDirectory(
        Person,
        owner="org_id",
        id_field="pk",
        fields={
            "name": ("first_name", "last_name"),
            "email": "email_address",
            "phone": "phone_number",
        },
        address_fields={"city": "city"},
        segments=_segments,
        segment_members=_segment_members,
    )


def create_app(database_url: str, **config: Any) -> Flask:
    """Host B: its own login (a session key), its own owner_loader."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="test-b",
        TESTING=True,
        SQLALCHEMY_DATABASE_URI=database_url,
        WTF_CSRF_ENABLED=False,
        PAYLINKS_RATELIMIT_ENABLED=False,
        PAYLINKS_DASHBOARD_PREFIX="/billing",
        PAYLINKS_CHECKOUT_PREFIX="/checkout",
        **config,
    )
    db.init_app(app)
    PayLinks(
        app,
        db=db,
        contacts=contact_directory(),
        owner_loader=lambda: session.get("org"),
    )

    @app.get("/signin/<org>")
    def signin(org: str) -> str:
        session["org"] = org
        return "ok"

    return app
