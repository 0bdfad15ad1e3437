"""Merchant A gets 404 for every object of merchant B, and nothing changes.

One test per route that takes an object id: links, products, coupons. The
whole database (every paylinks_* row) is compared before and after.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_paylinks.db.models import metadata
from flask_paylinks.db.session import session

from ..factories import make_coupon, make_link, make_payment, make_product
from .conftest import OWNER_A, OWNER_B
from .html import text


@dataclass
class Objects:
    """B's objects, and one product of A's to build valid forms with."""

    link: int
    inactive_link: int
    product: int
    archived_product: int
    coupon: int
    inactive_coupon: int
    own_product: int


@pytest.fixture
def objects(app: Flask) -> Objects:
    product = make_product(OWNER_B, name="B product")
    archived = make_product(OWNER_B, name="B archived", active=False)
    link = make_link(OWNER_B, [product], name="B link")
    inactive = make_link(OWNER_B, [product], name="B paused link", status="inactive")
    for _ in range(3):
        make_payment(OWNER_B, link, customer_name="B customer")
    return Objects(
        link=link.id,
        inactive_link=inactive.id,
        product=product.id,
        archived_product=archived.id,
        coupon=make_coupon(OWNER_B, code="BCODE").id,
        inactive_coupon=make_coupon(OWNER_B, code="BOFF", active=False).id,
        own_product=make_product(OWNER_A, name="A product").id,
    )


def database_rows() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every paylinks table, sorted: a picture of the database."""
    session().expire_all()
    picture: dict[str, list[tuple[Any, ...]]] = {}
    for table in metadata.sorted_tables:
        rows = session().execute(table.select()).all()
        picture[table.name] = sorted((tuple(row) for row in rows), key=repr)
    session().rollback()
    return picture


def link_form(o: Objects) -> dict[str, str]:
    return {
        "name": "Taken over",
        "items-0-product_id": str(o.own_product),
        "items-0-quantity": "1",
        "after_payment": "confirmation",
        "button_style": "rounded",
    }


def no_fields(o: Objects) -> dict[str, Any]:
    """A button: no fields but the CSRF token (off in these tests)."""
    return {}


Route = tuple[str, Callable[[Objects], str], Callable[[Objects], dict[str, Any]] | None]

ROUTES: dict[str, Route] = {
    "link detail": ("GET", lambda o: f"/paylinks/links/{o.link}", None),
    "link edit page": ("GET", lambda o: f"/paylinks/links/{o.link}/edit", None),
    "link edit": ("POST", lambda o: f"/paylinks/links/{o.link}/edit", link_form),
    "link preview": ("POST", lambda o: f"/paylinks/links/{o.link}/preview", link_form),
    "link deactivate": (
        "POST",
        lambda o: f"/paylinks/links/{o.link}/deactivate",
        no_fields,
    ),
    "link activate": (
        "POST",
        lambda o: f"/paylinks/links/{o.inactive_link}/activate",
        no_fields,
    ),
    "link delete page": ("GET", lambda o: f"/paylinks/links/{o.link}/delete", None),
    "link delete": ("POST", lambda o: f"/paylinks/links/{o.link}/delete", no_fields),
    "payments export": (
        "GET",
        lambda o: f"/paylinks/links/{o.link}/payments.csv",
        None,
    ),
    "QR PNG": ("GET", lambda o: f"/paylinks/links/{o.link}/qr.png?download=1", None),
    "QR SVG": ("GET", lambda o: f"/paylinks/links/{o.link}/qr.svg", None),
    "product edit page": (
        "GET",
        lambda o: f"/paylinks/products/{o.product}/edit",
        None,
    ),
    "product edit": (
        "POST",
        lambda o: f"/paylinks/products/{o.product}/edit",
        lambda o: {
            "name": "Mine now",
            "kind": "one_time",
            "price": "1",
            "currency": "USD",
        },
    ),
    "product archive": (
        "POST",
        lambda o: f"/paylinks/products/{o.product}/archive",
        no_fields,
    ),
    "product restore": (
        "POST",
        lambda o: f"/paylinks/products/{o.archived_product}/restore",
        no_fields,
    ),
    "coupon edit page": ("GET", lambda o: f"/paylinks/coupons/{o.coupon}/edit", None),
    "coupon edit": (
        "POST",
        lambda o: f"/paylinks/coupons/{o.coupon}/edit",
        lambda o: {
            "code": "MINE",
            "discount_type": "percent",
            "percent_off": "100",
            "applies_to": "all",
            "duration": "once",
            "currency": "USD",
        },
    ),
    "coupon deactivate": (
        "POST",
        lambda o: f"/paylinks/coupons/{o.coupon}/deactivate",
        no_fields,
    ),
    "coupon activate": (
        "POST",
        lambda o: f"/paylinks/coupons/{o.inactive_coupon}/activate",
        no_fields,
    ),
}


@pytest.mark.parametrize("route", list(ROUTES))
def test_another_merchants_object_is_not_found(
    client_a: FlaskClient, objects: Objects, route: str
) -> None:
    method, path, form = ROUTES[route]
    before = database_rows()
    if method == "GET":
        response = client_a.get(path(objects))
    else:
        response = client_a.post(path(objects), data=form(objects) if form else None)
    assert response.status_code == 404
    assert "B link" not in response.data.decode()
    assert "B customer" not in response.data.decode()
    assert database_rows() == before


@pytest.mark.parametrize("route", [r for r in ROUTES if ROUTES[r][0] == "POST"])
def test_the_owner_can_use_the_same_routes(
    client_b: FlaskClient, objects: Objects, route: str
) -> None:
    """The 404s above come from ownership, not from a broken route."""
    _method, path, form = ROUTES[route]
    data = form(objects) if form else None
    if data and "items-0-product_id" in data:
        data["items-0-product_id"] = str(objects.product)
    response = client_b.post(path(objects), data=data)
    assert response.status_code in {200, 302}, response.data.decode()[:1000]


def test_lists_and_search_show_only_own_objects(
    client_a: FlaskClient, objects: Objects
) -> None:
    make_link(OWNER_A, [make_product(OWNER_A)], name="A link")
    table = text(client_a.get("/paylinks/").data)
    assert "A link" in table
    assert "B link" not in table
    assert "B paused link" not in text(client_a.get("/paylinks/?status=inactive").data)
    assert "B product" not in text(client_a.get("/paylinks/products").data)
    assert "B archived" not in text(client_a.get("/paylinks/products?archived=1").data)
    assert "BCODE" not in text(client_a.get("/paylinks/coupons").data)
    assert client_a.get("/paylinks/products/search.json?q=B").get_json() == []
    builder = text(client_a.get(f"/paylinks/links/new?product={objects.product}").data)
    assert "B product" not in builder


def test_another_merchants_product_cannot_join_a_link_or_coupon(
    client_a: FlaskClient, objects: Objects
) -> None:
    before = database_rows()
    data = link_form(objects)
    data["items-1-product_id"] = str(objects.product)
    assert client_a.post("/paylinks/links/new", data=data).status_code == 422
    coupon = client_a.post(
        "/paylinks/coupons/new",
        data={
            "code": "SNEAKY",
            "discount_type": "percent",
            "percent_off": "10",
            "applies_to": "some",
            "products": [str(objects.product)],
            "duration": "once",
            "currency": "USD",
        },
    )
    assert coupon.status_code == 422
    assert database_rows() == before
