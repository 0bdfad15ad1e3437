"""Logging in and out of the example CRM, and what anonymous visitors get."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask

from example_app.auth import safe_next

from .helpers import ALICE, DEMO_PASSWORD, form_token, login_client


def _post_login(client: Any, email: str, password: str, query: str = "") -> Any:
    token = form_token(client.get(f"/login{query}").get_data(as_text=True))
    return client.post(
        f"/login{query}",
        data={"csrf_token": token, "email": email, "password": password},
    )


def test_login_with_the_demo_password_opens_the_contacts(example_app: Flask) -> None:
    client = example_app.test_client()
    response = _post_login(client, ALICE, DEMO_PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/contacts/"
    page = client.get("/contacts/").get_data(as_text=True)
    assert "Acme Fitness" in page
    assert "Alice Moreno" in page


def test_email_is_matched_without_regard_to_case(example_app: Flask) -> None:
    client = example_app.test_client()
    assert _post_login(client, "  Alice@ACME.test ", DEMO_PASSWORD).status_code == 302


def test_bad_password_reshows_the_form_with_an_error(example_app: Flask) -> None:
    client = example_app.test_client()
    response = _post_login(client, ALICE, "not-the-password")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "do not match an account" in html
    assert 'aria-describedby="login-error"' in html
    assert f'value="{ALICE}"' in html  # what they typed is kept
    assert "not-the-password" not in html  # but never the password
    assert client.get("/contacts/").status_code == 302  # still logged out


def test_unknown_email_gets_the_same_error(example_app: Flask) -> None:
    response = _post_login(example_app.test_client(), "eve@nowhere.test", "x")
    assert response.status_code == 422
    assert "do not match an account" in response.get_data(as_text=True)


def test_login_without_csrf_token_is_refused(example_app: Flask) -> None:
    client = example_app.test_client()
    response = client.post("/login", data={"email": ALICE, "password": DEMO_PASSWORD})
    assert response.status_code == 400
    assert "form expired" in response.get_data(as_text=True)
    assert client.get("/contacts/").status_code == 302


@pytest.mark.parametrize(
    "path",
    ["/", "/contacts/", "/contacts/1", "/contacts/1/conversation", "/segments"],
)
def test_anonymous_crm_pages_go_to_login(example_app: Flask, path: str) -> None:
    response = example_app.test_client().get(path)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == [path]


def test_anonymous_dashboard_goes_to_the_crm_login(example_app: Flask) -> None:
    response = example_app.test_client().get("/paylinks/")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == ["/paylinks/"]


def test_login_follows_a_relative_next(example_app: Flask) -> None:
    client = example_app.test_client()
    response = _post_login(client, ALICE, DEMO_PASSWORD, "?next=/segments")
    assert response.headers["Location"] == "/segments"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "evil.example",
    ],
)
def test_login_never_redirects_off_site(example_app: Flask, target: str) -> None:
    client = example_app.test_client()
    token = form_token(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"csrf_token": token, "email": ALICE, "password": DEMO_PASSWORD},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/contacts/"
    assert safe_next(target) is None


def test_logout_is_a_post_and_logs_out(example_app: Flask) -> None:
    client = example_app.test_client()
    login_client(client, ALICE)
    html = client.get("/contacts/").get_data(as_text=True)
    assert client.get("/logout").status_code == 405
    response = client.post("/logout", data={"csrf_token": form_token(html)})
    assert response.status_code == 302
    assert client.get("/contacts/").status_code == 302
