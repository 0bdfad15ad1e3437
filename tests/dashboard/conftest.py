"""Fixtures of the dashboard tests: two merchants of host A.

Merchant A is account 1 (user 1), merchant B account 2 (user 2); the
extension sees them as owners ``"1"`` and ``"2"``. Rows come from
:mod:`tests.factories`.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from ..hosts import crm_a

OWNER_A = "1"
OWNER_B = "2"


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


# -- screenshots ----------------------------------------------------------------


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
