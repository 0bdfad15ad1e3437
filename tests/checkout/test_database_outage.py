"""A database that is away answers a readable 503 that says whether money moved.

The failures come from inside SQLAlchemy (``tests/db_failures.py``), on
SQLite and, with ``--db=postgresql``, on PostgreSQL; the last test drops
real PostgreSQL connections. ``tests/faults/test_database_blips.py``
restarts a real server under load.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

from flask_paylinks.db.models import PaymentLink, PaymentState, Product
from flask_paylinks.payments import updates
from flask_paylinks.web import db_outage
from flask_paylinks.web.checkout.receipt_links import reference_of

from ..db_failures import DatabaseFailures, database_failures
from ..hosts import crm_a
from .conftest import Shop, priced, submission

NOT_CHARGED = (
    "We could not reach our system just now. You have not been charged; "
    "please try again in a moment."
)


@pytest.fixture
def link(shop: Shop, yoga: Product) -> PaymentLink:
    return shop.link([{"product": yoga, "quantity": 1}])


@pytest.fixture
def failures(host_a: Flask) -> Iterator[DatabaseFailures]:
    with host_a.app_context():
        engine = crm_a.db.engine
    with database_failures(engine) as switch:
        yield switch


def _reference_in(location: str) -> str:
    token = location.rsplit("/", 1)[-1]
    reference = reference_of(token)
    assert reference is not None
    return reference


def _went_through(reference: str) -> str:
    return (
        f"Your payment went through (reference {reference}). "
        "Your receipt will show in a moment."
    )


def test_database_dropping_after_the_charge_tells_the_truth(
    host_a: Flask,
    client: FlaskClient,
    shop: Shop,
    link: PaymentLink,
    failures: DatabaseFailures,
) -> None:
    form = priced(client, link, submission(client, link))
    failures.after_next_charge()

    response = client.post(f"/pay/{link.slug}", data=form)

    assert failures.down, "the charge never committed"
    failures.down = False
    [payment] = shop.payments()
    assert payment.state == PaymentState.SUCCEEDED
    if response.status_code == 303:
        assert _reference_in(response.location) == payment.reference
    else:
        assert response.status_code == 503, response.text
        assert _went_through(payment.reference) in response.text
        assert "not been charged" not in response.text
        assert response.headers["Retry-After"].isdigit()
        with host_a.test_request_context():
            assert db_outage.receipt_link(link.slug, payment.reference) in (
                response.text
            )
    # With the database back, the receipt shows.
    shown = client.get(f"/pay/{link.slug}/receipt/{_token(host_a, payment.reference)}")
    assert shown.status_code == 200
    assert payment.reference in shown.text


def _token(app: Flask, reference: str) -> str:
    from flask_paylinks.web.checkout.receipt_links import receipt_token

    with app.test_request_context():
        return receipt_token(reference)


def test_pay_reads_nothing_after_committing_the_charge(
    client: FlaskClient,
    shop: Shop,
    link: PaymentLink,
    failures: DatabaseFailures,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What follows the commit (follow-ups, signals) is the outbox's business;
    # without it, the view alone must answer from what it read before.
    monkeypatch.setattr(updates, "_after_transition", lambda *args: None)
    form = priced(client, link, submission(client, link))
    failures.after_next_charge()

    response = client.post(f"/pay/{link.slug}", data=form)

    assert failures.down
    assert failures.failed_statements == []
    assert response.status_code == 303, response.text
    failures.down = False
    [payment] = shop.payments()
    assert payment.state == PaymentState.SUCCEEDED
    assert _reference_in(response.location) == payment.reference


def test_commit_of_the_charge_failing_claims_neither_way(
    host_a: Flask,
    client: FlaskClient,
    shop: Shop,
    link: PaymentLink,
    failures: DatabaseFailures,
) -> None:
    form = priced(client, link, submission(client, link))
    failures.at_next_charge_commit()

    response = client.post(f"/pay/{link.slug}", data=form)

    failures.down = False
    [payment] = shop.payments()
    assert response.status_code == 503, response.text
    assert (
        f"We could not confirm your payment just now (reference {payment.reference})"
        in response.text
    )
    assert "not been charged" not in response.text
    assert "Your payment went through" not in response.text
    with host_a.test_request_context():
        assert db_outage.receipt_link(link.slug, payment.reference) in response.text


def test_pay_with_the_database_down_charges_nothing_and_says_so(
    client: FlaskClient, shop: Shop, link: PaymentLink, failures: DatabaseFailures
) -> None:
    form = priced(client, link, submission(client, link))
    failures.down = True

    response = client.post(f"/pay/{link.slug}", data=form)

    assert response.status_code == 503
    assert NOT_CHARGED in response.text
    assert "went through" not in response.text
    assert response.headers["Retry-After"] == str(db_outage.RETRY_AFTER_SECONDS)
    assert response.headers["Cache-Control"] == "no-store"
    assert f'href="/pay/{link.slug}"' in response.text
    failures.down = False
    assert shop.payments() == []
    # The next request, with the database back, pays as usual.
    again = client.post(f"/pay/{link.slug}", data=form)
    assert again.status_code == 303
    assert [p.state for p in shop.payments()] == [PaymentState.SUCCEEDED]


def test_checkout_page_with_the_database_down(
    client: FlaskClient, link: PaymentLink, failures: DatabaseFailures
) -> None:
    failures.down = True
    response = client.get(f"/pay/{link.slug}?r=personal-token")
    assert response.status_code == 503
    assert NOT_CHARGED in response.text
    assert "<h1>Temporarily unavailable</h1>" in response.text
    assert response.headers["Content-Security-Policy"]
    failures.down = False
    assert client.get(f"/pay/{link.slug}").status_code == 200


def test_quote_json_client_gets_json(
    client: FlaskClient, link: PaymentLink, failures: DatabaseFailures
) -> None:
    data = submission(client, link)
    failures.down = True
    response = client.post(
        f"/pay/{link.slug}/quote",
        data=data,
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 503
    assert response.json == {
        "error": NOT_CHARGED,
        "status": 503,
        "charged": False,
        "reference": None,
        "receipt_url": None,
    }
    assert response.headers["Retry-After"]


def test_receipt_with_the_database_down_neither_claims_nor_denies_a_charge(
    host_a: Flask, client: FlaskClient, link: PaymentLink, failures: DatabaseFailures
) -> None:
    token = _token(host_a, "PL-ABCDEFGH")
    failures.down = True
    response = client.get(f"/pay/{link.slug}/receipt/{token}")
    assert response.status_code == 503
    assert "PL-ABCDEFGH" in response.text
    assert "Reload this page in a moment" in response.text
    assert "not been charged" not in response.text
    assert "went through" not in response.text


def test_pool_timeout_answers_503(database_url: str, shop: Shop, yoga: Product) -> None:
    link = shop.link([{"product": yoga, "quantity": 1}])
    app = crm_a.create_app(
        database_url,
        SQLALCHEMY_ENGINE_OPTIONS={
            "pool_size": 1,
            "max_overflow": 0,
            "pool_timeout": 0.2,
        },
    )
    with app.app_context():
        engine = crm_a.db.engine
        held = engine.connect()
        try:
            client = app.test_client()
            response = client.get(f"/pay/{link.slug}?r=x")
        finally:
            held.close()
        assert response.status_code == 503
        assert NOT_CHARGED in response.text
        assert client.get(f"/pay/{link.slug}?r=x").status_code == 200
        crm_a.db.session.remove()
        engine.dispose()


def test_connection_dying_after_the_answer_does_not_turn_it_into_500(
    host_a: Flask,
    link: PaymentLink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The server goes away after the page was made: the session's closing
    # rollback fails, after the view has answered.
    with host_a.app_context():
        dialect = crm_a.db.engine.dialect

    def rollback_fails(dbapi_connection: object) -> None:
        raise dialect.loaded_dbapi.OperationalError(DATABASE_GONE)

    monkeypatch.setattr(dialect, "do_rollback", rollback_fails)
    # As under a real server: the request's own app context, torn down after.
    fresh = host_a.test_client()
    response = contextvars.Context().run(
        fresh.get, f"/pay/{link.slug}?r=personal", buffered=True
    )
    monkeypatch.undo()

    assert response.status_code == 200
    again = contextvars.Context().run(fresh.get, f"/pay/{link.slug}?r=again")
    assert again.status_code == 200


def test_only_outages_are_turned_into_503() -> None:
    dropped = OperationalError("SELECT 1", {}, Exception(DATABASE_GONE))
    assert db_outage.is_outage(dropped)
    duplicate = IntegrityError("INSERT", {}, Exception("duplicate key"))
    assert not db_outage.is_outage(duplicate)
    duplicate.connection_invalidated = True
    assert db_outage.is_outage(duplicate)
    wrapped = RuntimeError("a receiver wrapped it")
    wrapped.__cause__ = dropped
    assert db_outage.is_outage(wrapped)


DATABASE_GONE = "server closed the connection unexpectedly"


@pytest.mark.postgresql
def test_postgresql_connections_killed_between_requests(
    host_a: Flask, client: FlaskClient, link: PaymentLink
) -> None:
    # Host A sets no pool_pre_ping: the pooled connection is dead when used.
    assert client.get(f"/pay/{link.slug}?r=warm").status_code == 200
    with host_a.app_context():
        url = crm_a.db.engine.url
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        killed = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    admin.dispose()
    assert killed >= 1

    response = client.get(f"/pay/{link.slug}?r=cold")

    assert response.status_code == 503, response.text
    assert NOT_CHARGED in response.text
    assert client.get(f"/pay/{link.slug}?r=again").status_code == 200
