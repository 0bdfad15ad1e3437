"""Fixtures of the dashboard tests: two merchants of host A and row factories.

Merchant A is account 1 (user 1), merchant B account 2 (user 2); the
extension sees them as owners ``"1"`` and ``"2"``.
"""

from __future__ import annotations

import contextvars
import itertools
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from flask_paylinks.db.models import (
    Coupon,
    LinkItem,
    Payment,
    PaymentLink,
    Product,
    utcnow,
)
from flask_paylinks.db.session import session

from ..hosts import crm_a

OWNER_A = "1"
OWNER_B = "2"
_counter = itertools.count(1)


class RequestPerContextClient(FlaskClient):
    """A test client whose every request gets its own app context, as in production.

    The tests hold an app context open for the factories; Flask would reuse
    it for the client's requests, sharing ``g`` (where the request's owner is
    kept) and the database session between requests and merchants. Running
    each request in an empty :class:`contextvars.Context` gives it a fresh
    app context, ``g`` and session, and leaves the test's own untouched.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        # Buffered: a streamed body is read while its context is still there.
        kwargs["buffered"] = True
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def app(host_a: Flask) -> Iterator[Flask]:
    """Host A with two merchants' users, inside an app context."""
    host_a.test_client_class = RequestPerContextClient
    with host_a.app_context():
        crm_a.db.session.add_all(
            [
                crm_a.User(id=1, account_id=1, email="alice@a.test"),
                crm_a.User(id=2, account_id=2, email="bob@b.test"),
            ]
        )
        crm_a.db.session.commit()
        yield host_a


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    """Host A inside a request context, for calling services directly."""
    with app.test_request_context():
        yield app


def _client(app: Flask, user_id: int) -> FlaskClient:
    client = app.test_client()
    assert client.get(f"/login/{user_id}").status_code == 200
    return client


@pytest.fixture
def client_a(app: Flask) -> FlaskClient:
    """A test client logged in as merchant A."""
    return _client(app, 1)


@pytest.fixture
def client_b(app: Flask) -> FlaskClient:
    """A test client logged in as merchant B."""
    return _client(app, 2)


# -- factories -----------------------------------------------------------------


def make_product(owner: str, **fields: Any) -> Product:
    """A product row, committed."""
    n = next(_counter)
    values: dict[str, Any] = {
        "owner_id": owner,
        "name": f"Product {n}",
        "unit_amount": 1000,
        "currency": "USD",
        "kind": "one_time",
        "description": "",
        "active": True,
        "listed": True,
    }
    values.update(fields)
    if values["kind"] == "recurring":
        values.setdefault("interval", "month")
        values.setdefault("interval_count", 1)
    product = Product(**values)
    session().add(product)
    session().commit()
    return product


def make_link(
    owner: str,
    products: list[Product] | None = None,
    *,
    items: list[dict[str, Any]] | None = None,
    commit: bool = True,
    **fields: Any,
) -> PaymentLink:
    """A link row with one item per product (quantity 1), committed."""
    n = next(_counter)
    if products is None:
        products = [make_product(owner)]
    link = PaymentLink(
        owner_id=owner,
        slug=secrets.token_urlsafe(16),
        name=fields.pop("name", f"Link {n}"),
        status=fields.pop("status", "active"),
        source=fields.pop("source", "dashboard"),
        currency=products[0].currency,
        **fields,
    )
    specs = items or [{} for _ in products]
    link.items = [
        LinkItem(owner_id=owner, product=product, position=i, **{"quantity": 1, **spec})
        for i, (product, spec) in enumerate(zip(products, specs, strict=True))
    ]
    session().add(link)
    if commit:
        session().commit()
    return link


def make_payment(owner: str, link: PaymentLink | None, **fields: Any) -> Payment:
    """A payment row (as the checkout would leave it), committed."""
    n = next(_counter)
    values: dict[str, Any] = {
        "owner_id": owner,
        "reference": f"PL-T{n:07d}{secrets.token_hex(2).upper()}",
        "link_id": link.id if link is not None else None,
        "state": "succeeded",
        "currency": "USD",
        "amount_subtotal": 1000,
        "amount_discount": 0,
        "amount_total": 1000,
        "snapshot": {"items": []},
        "customer_name": f"Customer {n}",
        "customer_email": f"customer{n}@example.test",
        "gateway": "sandbox",
        "idempotency_key": secrets.token_hex(16),
    }
    values.update(fields)
    payment = Payment(**values)
    session().add(payment)
    session().commit()
    return payment


def make_coupon(owner: str, **fields: Any) -> Coupon:
    """A coupon row, committed."""
    n = next(_counter)
    code = fields.pop("code", f"SAVE{n}")
    values: dict[str, Any] = {
        "owner_id": owner,
        "code": code,
        "code_key": code.upper(),
        "percent_off_bp": 1000,
        "times_redeemed": 0,
        "applies_to_all": True,
        "duration": "once",
        "active": True,
    }
    values.update(fields)
    coupon = Coupon(**values)
    session().add(coupon)
    session().commit()
    return coupon


def days_ago(days: float) -> datetime:
    """An aware UTC time *days* before now."""
    return utcnow() - timedelta(days=days)


def tall_screenshot(page: Any, name: str) -> None:
    """A full-page screenshot with the whole page in the viewport.

    Chromium does not paint a sandboxed (cross-origin) frame that is off
    screen, so a plain full-page screenshot shows the preview blank.
    """
    size = page.viewport_size
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": height})
    page.wait_for_timeout(300)
    from ..browser import screenshot

    screenshot(page, name)
    page.set_viewport_size(size)


# -- counting queries ----------------------------------------------------------


class QueryCounter:
    """Counts the SQL statements an engine runs while it is active."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement)

    @property
    def count(self) -> int:
        """How many statements ran."""
        return len(self.statements)


@pytest.fixture
def count_queries(app: Flask) -> Iterator[Any]:
    """``with count_queries() as counter:`` counts the statements of the block."""
    import contextlib

    engine = crm_a.db.engine

    @contextlib.contextmanager
    def counting() -> Iterator[QueryCounter]:
        counter = QueryCounter()
        event.listen(engine, "before_cursor_execute", counter)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", counter)

    return counting
