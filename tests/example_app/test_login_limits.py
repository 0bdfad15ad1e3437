"""The demo login's rate limit: per client address and per email address."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ..conftest import ExampleDemo
from .helpers import ALICE, BOB, DEMO_PASSWORD, form_token


@pytest.fixture
def strict_app(make_example_demo: Callable[..., ExampleDemo]) -> Flask:
    """The example CRM allowing 3 failed logins a minute."""
    return make_example_demo(LOGIN_RATELIMIT="3 per minute").app


def _attempt(
    client: FlaskClient, email: str, password: str, address: str = "192.0.2.1"
) -> Any:
    environ = {"REMOTE_ADDR": address}
    page = client.get("/login", environ_base=environ).get_data(as_text=True)
    return client.post(
        "/login",
        data={"csrf_token": form_token(page), "email": email, "password": password},
        environ_base=environ,
    )


def test_past_the_limit_the_form_comes_back_with_a_429(strict_app: Flask) -> None:
    client = strict_app.test_client()
    for _ in range(3):
        assert _attempt(client, ALICE, "guess").status_code == 422
    # Even the right password is refused now: guessing has to stop.
    response = _attempt(client, ALICE, DEMO_PASSWORD)
    assert response.status_code == 429
    html = response.get_data(as_text=True)
    assert "Too many failed attempts to log in. Wait a minute and try again." in html
    assert 'role="alert"' in html
    assert f'value="{ALICE}"' in html  # what they typed is kept
    assert f'value="{DEMO_PASSWORD}"' not in html
    assert 'name="csrf_token"' in html  # the form, to try again later
    assert 'type="password"' in html
    assert 1 <= int(response.headers["Retry-After"]) <= 61
    assert client.get("/contacts/").status_code == 302  # not logged in


def test_the_limit_is_per_email_across_addresses(strict_app: Flask) -> None:
    client = strict_app.test_client()
    for n in range(3):
        assert _attempt(client, ALICE, "guess", f"198.51.100.{n}").status_code == 422
    assert _attempt(client, ALICE, "guess", "203.0.113.9").status_code == 429
    # The email is matched as the login matches it: any case, spaces around.
    assert _attempt(client, " Alice@ACME.test ", "x", "203.0.113.8").status_code == 429
    # Another account from that address is not held up.
    response = _attempt(strict_app.test_client(), BOB, DEMO_PASSWORD, "203.0.113.9")
    assert response.status_code == 302


def test_the_limit_is_per_address_across_emails(strict_app: Flask) -> None:
    client = strict_app.test_client()
    for n in range(3):
        assert _attempt(client, f"nobody{n}@x.test", "guess").status_code == 422
    assert _attempt(client, "someone@x.test", "guess").status_code == 429
    other = strict_app.test_client()
    assert _attempt(other, ALICE, DEMO_PASSWORD, "192.0.2.200").status_code == 302


def test_successful_logins_do_not_count(strict_app: Flask) -> None:
    for _ in range(5):
        client = strict_app.test_client()
        assert _attempt(client, ALICE, DEMO_PASSWORD).status_code == 302


def test_the_default_is_ten_failed_attempts_a_minute(example_app: Flask) -> None:
    client = example_app.test_client()
    for _ in range(10):
        assert _attempt(client, ALICE, "guess").status_code == 422
    assert _attempt(client, ALICE, "guess").status_code == 429


def test_other_pages_are_not_limited(example_app: Flask) -> None:
    client = example_app.test_client()
    for _ in range(15):
        assert client.get("/login").status_code == 200
