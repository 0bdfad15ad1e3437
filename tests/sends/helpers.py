"""Contacts, segments and sends on test host A, for the sends tests."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import insert, select

from flask_paylinks.db.models import PaymentLink, Recipient, Send
from flask_paylinks.db.session import session

from ..factories import make_link, make_product
from ..hosts import crm_a
from ..hosts.crm_a import Customer, Tag, customer_tags

OWNER = "1"
OTHER_OWNER = "2"


def host(database_url: str, **config: Any) -> Flask:
    """Host A with its tables; quiet hours off unless a test turns them on."""
    app = crm_a.create_app(
        database_url,
        PAYLINKS_QUIET_HOURS=None,
        PAYLINKS_PUBLIC_URL="https://crm.example.test",
        **config,
    )
    with app.app_context():
        crm_a.db.create_all()
    return app


@contextmanager
def hosted(database_url: str, **config: Any) -> Iterator[Flask]:
    """:func:`host`, with its connections closed after the block."""
    app = host(database_url, **config)
    try:
        yield app
    finally:
        with app.app_context():
            crm_a.db.session.remove()
            crm_a.db.engine.dispose()


@dataclass
class People:
    """Contacts of host A made for a test, and the tag (segment) holding them."""

    tag_id: int
    ids: list[int]


def add_people(
    app: Flask,
    rows: Iterable[dict[str, Any]],
    *,
    owner: str = OWNER,
    tag: str = "Members",
) -> People:
    """Insert customers set-based and tag them all; returns their ids."""
    with app.app_context():
        db = crm_a.db.session
        tag_row = Tag(account_id=int(owner), name=tag)
        db.add(tag_row)
        db.flush()
        values = [
            {"account_id": int(owner), "full_name": "", "do_not_text": False, **row}
            for row in rows
        ]
        ids = list(db.scalars(insert(Customer).returning(Customer.id), values))
        db.execute(
            insert(customer_tags),
            [{"customer_id": cid, "tag_id": tag_row.id} for cid in ids],
        )
        db.commit()
        return People(tag_row.id, sorted(ids))


def a_link(app: Flask, owner: str = OWNER, **values: Any) -> int:
    """An active one-product link of *owner*; its id."""
    with app.app_context():
        product = make_product(owner, name="Yoga class", unit_amount=2500)
        return make_link(owner, [product], name="Yoga", **values).id


def link_of(link_id: int) -> PaymentLink:
    """The link, in the current app context."""
    link = session().get(PaymentLink, link_id)
    assert link is not None
    return link


def recipients(app: Flask, send_id: int | None = None) -> list[Recipient]:
    """Every recipient row (of one send), detached, in id order."""
    with app.app_context():
        stmt = select(Recipient).order_by(Recipient.id)
        if send_id is not None:
            stmt = stmt.where(Recipient.send_id == send_id)
        rows = list(session().scalars(stmt))
        for row in rows:
            session().expunge(row)
        return rows


def send_row(app: Flask, send_id: int) -> Send:
    """The send, detached and fresh."""
    with app.app_context():
        row = session().get(Send, send_id)
        assert row is not None
        session().expunge(row)
        return row
