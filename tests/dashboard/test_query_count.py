"""The table page runs the same few SQL statements for 5 links or 200.

Merchant A has 5 links, merchant B 200 (one link a page, so both have
several pages for every filter); each page of the table, for each
combination of filters, first page or a later one, must cost both the same
number of statements (no N+1 on items or products).
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_paylinks.db.session import session

from ..factories import days_ago, make_link, make_payment, make_product
from .conftest import OWNER_A, OWNER_B
from .html import parse

FILTERS = [
    "",
    "q=promo",
    "status=active",
    "status=inactive",
    "source=api",
    "sort=name",
    "sort=-name",
    "sort=created",
    f"created_from={days_ago(400).date()}&created_to={days_ago(0).date()}",
    "q=promo&status=active&source=dashboard&sort=name"
    f"&created_from={days_ago(400).date()}",
]


def _fill(owner: str, count: int) -> None:
    one_time = make_product(owner, unit_amount=4900)
    plan = make_product(owner, unit_amount=1900, kind="recurring")
    seats = make_product(owner, unit_amount=1000)
    for n in range(count):
        make_link(
            owner,
            [one_time, plan, seats][: 1 + n % 3],
            items=[{}, {}, {"adjustable": True, "min_quantity": 1, "max_quantity": 5}][
                : 1 + n % 3
            ],
            name=f"Promo {n:03d}",
            # Every filter below matches at least two of the first five.
            status="inactive" if n % 5 in (3, 4) else "active",
            source="api" if n % 2 else ("text_to_pay" if n % 10 == 8 else "dashboard"),
            created_at=days_ago(n),
            commit=False,
        )
    session().commit()


def _rel(html: bytes, rel: str) -> str | None:
    found = [e.get("href") for e in parse(html) if e.get("rel") == rel]
    return found[0] if found else None


def _page_costs(client: FlaskClient, count_queries: Any, query: str) -> list[int]:
    """Statements run by the first page, the next one and back to the first."""
    costs = []
    url: str | None = f"/paylinks/?{query}"
    for step in ("first", "next", "prev"):
        assert url is not None, f"no {step} page for {query!r}"
        with count_queries() as counter:
            response = client.get(url)
        assert response.status_code == 200
        costs.append(counter.count)
        url = _rel(response.data, "next" if step == "first" else "prev")
    return costs


@pytest.fixture
def two_sizes(app: Flask) -> None:
    app.config["PAYLINKS_PAGE_SIZE"] = 1
    _fill(OWNER_A, 5)
    _fill(OWNER_B, 200)


@pytest.mark.usefixtures("two_sizes")
@pytest.mark.parametrize("query", FILTERS)
def test_table_page_costs_the_same_for_5_and_200_links(
    client_a: FlaskClient, client_b: FlaskClient, count_queries: Any, query: str
) -> None:
    few = _page_costs(client_a, count_queries, query)
    many = _page_costs(client_b, count_queries, query)
    assert few == many
    # The login's user, the count, the page, the page's items with products,
    # and the page's conversions (opens and payments of recipients, anonymous
    # payments: sends.tracking.conversions).
    assert set(few) == {6}


def test_detail_page_costs_the_same_for_5_and_200_payments(
    app: Flask, client_a: FlaskClient, count_queries: Any
) -> None:
    few = make_link(OWNER_A, name="Few")
    many = make_link(OWNER_A, name="Many")
    for n in range(5):
        make_payment(OWNER_A, few, created_at=days_ago(n))
    for n in range(200):
        make_payment(OWNER_A, many, created_at=days_ago(n / 10))
    costs = []
    for link in (few, many):
        with count_queries() as counter:
            assert client_a.get(f"/paylinks/links/{link.id}").status_code == 200
        costs.append(counter.count)
    assert costs[0] == costs[1]
