"""The dashboard answers a database outage with a 503 in its layout, not a 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_paylinks.web.db_outage import DASHBOARD_MESSAGE, RETRY_AFTER_SECONDS

from ..db_failures import DatabaseFailures, database_failures
from ..hosts import crm_a


@pytest.fixture
def failures(app: Flask) -> Iterator[DatabaseFailures]:
    with database_failures(crm_a.db.engine) as switch:
        yield switch


def test_a_query_failing_in_a_page_shows_503_in_the_layout(
    client_a: FlaskClient, failures: DatabaseFailures
) -> None:
    failures.only_tables = ("paylinks_",)  # the merchant's login still loads
    failures.down = True

    response = client_a.get("/paylinks/")

    assert response.status_code == 503
    assert DASHBOARD_MESSAGE in response.text
    assert 'aria-label="Payments"' in response.text  # the dashboard's tabs
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    failures.down = False
    assert client_a.get("/paylinks/").status_code == 200


def test_login_lookup_failing_still_answers_a_readable_503(
    client_a: FlaskClient, failures: DatabaseFailures
) -> None:
    failures.down = True  # the host's user loader cannot read its users

    response = client_a.get("/paylinks/products")

    assert response.status_code == 503
    assert DASHBOARD_MESSAGE in response.text


def test_a_failing_save_answers_503_and_the_next_save_works(
    client_a: FlaskClient, failures: DatabaseFailures
) -> None:
    product = {
        "name": "Pilates",
        "price": "12.00",
        "currency": "USD",
        "kind": "one_time",
    }
    failures.only_tables = ("paylinks_",)
    failures.down = True
    response = client_a.post("/paylinks/products/new", data=product)
    assert response.status_code == 503
    assert "Back to payment links" in response.text
    failures.down = False
    saved = client_a.post("/paylinks/products/new", data=product)
    assert saved.status_code in (302, 303), saved.text


def test_json_clients_get_json(
    client_a: FlaskClient, failures: DatabaseFailures
) -> None:
    failures.only_tables = ("paylinks_",)
    failures.down = True
    response = client_a.get("/paylinks/", headers={"Accept": "application/json"})
    assert response.status_code == 503
    assert response.json is not None
    assert response.json["error"] == DASHBOARD_MESSAGE
    assert response.json["status"] == 503
