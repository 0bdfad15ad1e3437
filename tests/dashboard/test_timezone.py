"""The dashboard's days and times are the merchant's, in their timezone."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient

from flask_paylinks import MerchantProfile
from flask_paylinks.db.models import Coupon, PaymentLink
from flask_paylinks.db.session import session

from ..factories import make_link, make_payment, make_product
from ..hosts import crm_a
from .conftest import OWNER_A
from .html import text

LATE = datetime(2026, 3, 9, 23, 30, tzinfo=UTC)  # 10 March, 00:30 in Berlin


@pytest.fixture
def berlin() -> Iterator[None]:
    """Merchant A runs their business in Berlin."""
    saved = crm_a.MERCHANTS[OWNER_A]
    crm_a.MERCHANTS[OWNER_A] = MerchantProfile(
        name="Acme Fitness", support_email="help@acme.test", timezone="Europe/Berlin"
    )
    yield
    crm_a.MERCHANTS[OWNER_A] = saved


def names_listed(client: FlaskClient, query: str) -> list[str]:
    page = text(client.get(f"/paylinks/?{query}").data)
    return [name for name in ("Late link", "Early link") if name in page]


def test_a_late_link_is_filed_under_the_merchants_next_day(
    client_a: FlaskClient, berlin: None
) -> None:
    make_link(OWNER_A, name="Late link", created_at=LATE)
    make_link(
        OWNER_A, name="Early link", created_at=datetime(2026, 3, 9, 10, tzinfo=UTC)
    )
    day = "created_from=2026-03-10&created_to=2026-03-10"
    assert names_listed(client_a, day) == ["Late link"]
    assert names_listed(client_a, "created_to=2026-03-09") == ["Early link"]
    page = text(client_a.get("/paylinks/").data)
    assert "Mar 10, 2026" in page
    assert "Mar 9, 2026" in page


def test_in_utc_the_same_link_is_on_its_utc_day(client_a: FlaskClient) -> None:
    make_link(OWNER_A, name="Late link", created_at=LATE)
    assert names_listed(client_a, "created_from=2026-03-10") == []
    assert names_listed(client_a, "created_to=2026-03-09") == ["Late link"]


def test_the_calendars_edges_filter_without_error(
    client_a: FlaskClient, berlin: None
) -> None:
    make_link(OWNER_A, name="Late link", created_at=LATE)
    edges = "created_from=0001-01-01&created_to=9999-12-31"
    assert names_listed(client_a, edges) == ["Late link"]


def test_link_detail_and_payments_show_local_times(
    client_a: FlaskClient, berlin: None
) -> None:
    link = make_link(OWNER_A, name="Late link", created_at=LATE)
    make_payment(OWNER_A, link, created_at=LATE)
    page = text(client_a.get(f"/paylinks/links/{link.id}").data)
    assert "Mar 10, 2026, 12:30:00 AM" in page  # created
    assert "3/10/26, 12:30 AM" in page  # the payment's row
    assert "11:30" not in page
    response = client_a.get(f"/paylinks/links/{link.id}/payments.csv")
    rows = list(csv.reader(io.StringIO(response.data.decode())))
    assert rows[0][0] == "Date (Europe/Berlin)"
    assert rows[1][0] == "2026-03-10 00:30:00"


def test_products_show_the_local_day(client_a: FlaskClient, berlin: None) -> None:
    make_product(OWNER_A, name="Late product", created_at=LATE)
    page = text(client_a.get("/paylinks/products").data)
    assert "Late product" in page
    assert "Mar 10, 2026" in page


def test_coupon_days_are_the_merchants_days(
    client_a: FlaskClient, berlin: None
) -> None:
    response = client_a.post(
        "/paylinks/coupons/new",
        data={
            "code": "SPRING",
            "discount_type": "percent",
            "percent_off": "10",
            "currency": "USD",
            "valid_from": "2026-03-01",
            "valid_until": "2026-03-31",
            "applies_to": "all",
            "duration": "once",
        },
    )
    assert response.status_code == 302, text(response.data)
    coupon = (
        session()
        .scalars(session().query(Coupon).filter_by(code="SPRING").statement)
        .one()
    )
    # Midnight in Berlin, as UTC instants (CET, then CEST from 29 March).
    assert coupon.valid_from == datetime(2026, 2, 28, 23, tzinfo=UTC)
    assert coupon.valid_until == datetime(2026, 3, 31, 22, tzinfo=UTC)
    assert "Mar 1, 2026 to Mar 31, 2026" in text(client_a.get("/paylinks/coupons").data)
    edit = client_a.get(f"/paylinks/coupons/{coupon.id}/edit").data.decode()
    assert 'value="2026-03-01"' in edit
    assert 'value="2026-03-31"' in edit


def test_owners_keep_their_own_timezone(
    client_a: FlaskClient, client_b: FlaskClient, berlin: None
) -> None:
    make_link(OWNER_A, name="Late link", created_at=LATE)
    make_link("2", name="Late link", created_at=LATE)
    assert names_listed(client_a, "created_from=2026-03-10") == ["Late link"]
    assert names_listed(client_b, "created_from=2026-03-10") == []
    assert session().query(PaymentLink).count() == 2
