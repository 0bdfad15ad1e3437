"""Owner scoping: one merchant never reaches another's rows; anonymous gets login."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text

from flask_paylinks.db.models import Payment, metadata
from flask_paylinks.db.session import session

from .factories import (
    make_coupon,
    make_link,
    make_payment,
    make_product,
    make_recipient,
    make_send,
)
from .hosts import crm_a


def _users(app: Flask) -> None:
    with app.app_context():
        crm_a.db.session.add_all(
            [
                crm_a.User(id=1, account_id=1, email="a@example.com"),
                crm_a.User(id=2, account_id=2, email="b@example.com"),
            ]
        )
        crm_a.db.session.commit()


def _objects_of_owner_b() -> dict[str, int]:
    """One object of every kind for owner 2; route argument name -> id."""
    product = make_product("2")
    link = make_link("2", [product])
    coupon = make_coupon("2")
    payment = make_payment("2", link)
    send = make_send("2", link)
    make_recipient("2", send)
    return {
        "link_id": link.id,
        "product_id": product.id,
        "coupon_id": coupon.id,
        "payment_id": payment.id,
        "send_id": send.id,
    }


def _snapshot() -> dict[str, list[Any]]:
    rows = {}
    for table in metadata.sorted_tables:
        rows[table.name] = [
            tuple(row)
            for row in session().execute(select(table).order_by(*table.primary_key))
        ]
    return rows


def _dashboard_rules(app: Flask) -> list[Any]:
    return [
        rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("paylinks.") and rule.arguments
    ]


def test_anonymous_dashboard_request_gets_the_hosts_login_flow(host_a: Flask) -> None:
    client = host_a.test_client()
    response = client.get("/paylinks/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_host_without_flask_login_answers_401(host_b: Flask) -> None:
    response = host_b.test_client().get("/billing/")
    assert response.status_code == 401


def test_every_dashboard_route_answers_404_for_another_owners_object(
    host_a: Flask,
) -> None:
    """Walks every dashboard URL that takes an id, as merchant A, with B's ids."""
    _users(host_a)
    with host_a.app_context():
        foreign = _objects_of_owner_b()
        before = _snapshot()
    client = host_a.test_client()
    client.get("/login/1")
    rules = _dashboard_rules(host_a)
    assert rules, "the dashboard has routes that take an id"
    checked = []
    for rule in rules:
        missing = set(rule.arguments) - set(foreign)
        assert not missing, f"{rule.rule}: no foreign object for {missing}; add one"
        url = rule.build({name: foreign[name] for name in rule.arguments})[1]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method, data={})
            assert response.status_code == 404, f"{method} {url}"
            checked.append(f"{method} {url}")
    with host_a.app_context():
        assert _snapshot() == before, "a foreign request changed the database"
    assert checked


def test_owner_b_reaches_its_own_objects(host_a: Flask) -> None:
    """The same URLs do answer for the owner, so the 404s above mean something."""
    _users(host_a)
    with host_a.app_context():
        foreign = _objects_of_owner_b()
    client = host_a.test_client()
    client.get("/login/2")
    response = client.get(f"/paylinks/links/{foreign['link_id']}")
    assert response.status_code == 200


@pytest.mark.parametrize("bad_id", ["abc", "-1", "99999999999999999999"])
def test_nonsense_ids_are_404(host_a: Flask, bad_id: str) -> None:
    _users(host_a)
    client = host_a.test_client()
    client.get("/login/1")
    assert client.get(f"/paylinks/links/{bad_id}").status_code == 404


def test_scoped_queries_use_the_owner_column(host_a: Flask) -> None:
    from flask_paylinks.db.scoping import owned

    with host_a.app_context():
        sql = str(owned(Payment, "1"))
        assert "paylinks_payments.owner_id = " in sql
        assert session().execute(text("SELECT 1")).scalar() == 1
