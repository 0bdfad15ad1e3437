"""Logging in to the example CRM from tests, through its real login form.

Browser tests (Playwright)::

    from tests.example_app.helpers import login

    def test_dashboard(page, example_server):
        login(page, example_server, "alice@acme.test", "paylinks-demo")
        page.goto(example_server.url + "/paylinks/")

Flask test client (CSRF stays on; the token is read from the page)::

    from tests.example_app.helpers import login_client, form_token

    client = example_app.test_client()
    login_client(client, "alice@acme.test")
    html = client.get("/contacts/1").get_data(as_text=True)
    client.post("/contacts/1", data={"csrf_token": form_token(html), ...})
"""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient

#: The password of every demo user the seed makes.
DEMO_PASSWORD = "paylinks-demo"
ALICE = "alice@acme.test"
BOB = "bob@globex.test"

_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def login(page: Any, server: Any, email: str, password: str = DEMO_PASSWORD) -> None:
    """Log in to the example CRM in *page* by filling and submitting its login form.

    *server* is the ``example_server`` fixture (anything with ``.url``). Waits
    until the CRM shows the contacts list, so the page is logged in when this
    returns; fails the test when the login is refused.
    """
    page.goto(f"{server.url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{server.url}/contacts/**")


def form_token(html: str) -> str:
    """The CSRF token of the first form in *html*."""
    match = _TOKEN.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def login_client(
    client: FlaskClient, email: str, password: str = DEMO_PASSWORD
) -> None:
    """Log *client* in through the login form (GET it for the token, then POST)."""
    token = form_token(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"csrf_token": token, "email": email, "password": password}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
