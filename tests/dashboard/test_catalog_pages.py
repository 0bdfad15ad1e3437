"""The products and coupons pages."""

from __future__ import annotations

from datetime import UTC, datetime

from flask.testing import FlaskClient
from sqlalchemy import select

from flask_paylinks.db.models import Coupon, Product
from flask_paylinks.db.session import session

from ..factories import make_coupon, make_link, make_product
from .conftest import OWNER_A, OWNER_B
from .html import control, parse, text


def _product(product_id: int) -> Product:
    session().expire_all()
    product = session().get(Product, product_id)
    assert product is not None
    return product


def test_create_one_time_and_recurring_products(client_a: FlaskClient) -> None:
    response = client_a.post(
        "/paylinks/products/new",
        data={
            "name": "Course",
            "description": "Eight lessons",
            "kind": "one_time",
            "price": "1,049.50",
            "currency": "USD",
        },
    )
    assert response.headers["Location"] == "/paylinks/products"
    client_a.post(
        "/paylinks/products/new",
        data={
            "name": "Membership",
            "kind": "recurring",
            "price": "19",
            "currency": "EUR",
            "interval": "week",
            "interval_count": "2",
        },
    )
    course, membership = session().scalars(select(Product).order_by(Product.id)).all()
    assert (course.unit_amount, course.currency, course.kind) == (
        104950,
        "USD",
        "one_time",
    )
    assert (course.interval, course.interval_count) == (None, None)
    assert course.description == "Eight lessons"
    assert (membership.unit_amount, membership.currency) == (1900, "EUR")
    assert (membership.interval, membership.interval_count) == ("week", 2)
    assert {p.owner_id for p in (course, membership)} == {OWNER_A}
    page = text(client_a.get("/paylinks/products").data)
    assert "$1,049.50" in page
    assert "€19.00 / 2 weeks" in page
    assert "Recurring" in page


def test_add_and_create_a_link_goes_to_the_builder(client_a: FlaskClient) -> None:
    response = client_a.post(
        "/paylinks/products/new",
        data={
            "name": "Ebook",
            "kind": "one_time",
            "price": "9",
            "currency": "USD",
            "then": "link",
        },
    )
    product = session().scalars(select(Product)).one()
    assert response.headers["Location"] == f"/paylinks/links/new?product={product.id}"


def test_edit_a_product(client_a: FlaskClient) -> None:
    product = make_product(OWNER_A, name="Old", unit_amount=1000)
    html = client_a.get(f"/paylinks/products/{product.id}/edit").data
    assert control(html, "price")["value"] == "10.00"
    client_a.post(
        f"/paylinks/products/{product.id}/edit",
        data={"name": "New", "kind": "one_time", "price": "12.5", "currency": "USD"},
    )
    assert (_product(product.id).name, _product(product.id).unit_amount) == (
        "New",
        1250,
    )


def test_archive_says_which_links_use_it_and_restore(client_a: FlaskClient) -> None:
    product = make_product(OWNER_A, name="Course")
    make_link(OWNER_A, [product], name="Spring promo")
    make_link(OWNER_A, [product], name="Autumn promo")
    edit = text(client_a.get(f"/paylinks/products/{product.id}/edit").data)
    assert "2 payment links sell this product" in edit
    assert "Spring promo" in edit
    response = client_a.post(f"/paylinks/products/{product.id}/archive")
    assert response.status_code == 302
    assert _product(product.id).active is False
    page = text(client_a.get(response.headers["Location"]).data)
    assert "Archived “Course”. 2 links still sell it" in page
    assert "“Spring promo”" in page
    assert "Their past payments are unchanged." in page
    assert "Course" in text(client_a.get("/paylinks/products?archived=1").data)
    assert client_a.get("/paylinks/products/search.json?q=Course").get_json() == []
    client_a.post(f"/paylinks/products/{product.id}/restore")
    assert _product(product.id).active is True


def test_products_list_searches_and_pages(app: object, client_a: FlaskClient) -> None:
    app.config["PAYLINKS_PAGE_SIZE"] = 3  # type: ignore[attr-defined]
    for name in ["Apple", "apricot", "Banana", "Cherry", "Date"]:
        make_product(OWNER_A, name=name)
    make_product(OWNER_B, name="Apple of B")
    first = text(client_a.get("/paylinks/products").data)
    assert "5 products" in first
    assert first.index("Apple") < first.index("apricot") < first.index("Banana")
    assert "Page 1 of 2" in first
    assert "Date" in text(client_a.get("/paylinks/products?page=2").data)
    found = text(client_a.get("/paylinks/products?q=AP").data)
    assert "2 products" in found
    assert "Apple of B" not in found


def test_create_coupons_and_see_them_listed(client_a: FlaskClient) -> None:
    course = make_product(OWNER_A, name="Course")
    response = client_a.post(
        "/paylinks/coupons/new",
        data={
            "code": "Spring25",
            "discount_type": "percent",
            "percent_off": "12.5",
            "valid_from": "2026-03-01",
            "valid_until": "2026-03-31",
            "max_redemptions": "100",
            "applies_to": "some",
            "products": [str(course.id)],
            "duration": "repeating",
            "duration_in_months": "3",
            "currency": "USD",
        },
    )
    assert response.status_code == 302, response.data.decode()[:2000]
    client_a.post(
        "/paylinks/coupons/new",
        data={
            "code": "FIVE",
            "discount_type": "amount",
            "amount_off": "5",
            "currency": "EUR",
            "applies_to": "all",
            "duration": "forever",
        },
    )
    spring, five = session().scalars(select(Coupon).order_by(Coupon.id)).all()
    assert (spring.code, spring.code_key, spring.percent_off_bp) == (
        "Spring25",
        "SPRING25",
        1250,
    )
    assert spring.valid_from == datetime(2026, 3, 1, tzinfo=UTC)
    assert spring.valid_until == datetime(2026, 4, 1, tzinfo=UTC)
    assert spring.product_ids == {course.id}
    assert (spring.duration, spring.duration_in_months) == ("repeating", 3)
    assert (five.amount_off, five.currency, five.percent_off_bp) == (500, "EUR", None)
    spring.times_redeemed = 7
    session().commit()
    page = text(client_a.get("/paylinks/coupons").data)
    assert "12.5% off · 1 product" in page
    assert "€5.00 off" in page
    assert "For 3 months" in page
    assert "Forever" in page
    assert "Mar 1, 2026 to Mar 31, 2026" in page
    assert "7 / 100" in page


def test_edit_a_coupon_shows_its_values_and_redemptions(client_a: FlaskClient) -> None:
    coupon = make_coupon(
        OWNER_A,
        code="Winter",
        percent_off_bp=2500,
        times_redeemed=4,
        max_redemptions=10,
        valid_until=datetime(2026, 2, 1, tzinfo=UTC),
    )
    html = client_a.get(f"/paylinks/coupons/{coupon.id}/edit").data
    assert control(html, "code")["value"] == "Winter"
    assert control(html, "percent_off")["value"] == "25"
    assert control(html, "valid_until")["value"] == "2026-01-31"
    assert "Redeemed 4 times of 10." in text(html)
    too_few = client_a.post(
        f"/paylinks/coupons/{coupon.id}/edit",
        data={
            "code": "Winter",
            "discount_type": "percent",
            "percent_off": "25",
            "max_redemptions": "3",
            "applies_to": "all",
            "duration": "once",
            "currency": "USD",
        },
    )
    assert too_few.status_code == 422
    assert "already redeemed 4 times" in text(too_few.data)
    client_a.post(
        f"/paylinks/coupons/{coupon.id}/edit",
        data={
            "code": "WINTER30",
            "discount_type": "percent",
            "percent_off": "30",
            "applies_to": "all",
            "duration": "once",
            "currency": "USD",
        },
    )
    session().expire_all()
    saved = session().get(Coupon, coupon.id)
    assert saved is not None
    assert (saved.code, saved.percent_off_bp, saved.valid_until) == (
        "WINTER30",
        3000,
        None,
    )


def test_deactivate_and_activate_a_coupon(client_a: FlaskClient) -> None:
    coupon = make_coupon(OWNER_A, code="OFF10")
    client_a.post(f"/paylinks/coupons/{coupon.id}/deactivate")
    session().expire_all()
    assert session().get(Coupon, coupon.id).active is False  # type: ignore[union-attr]
    assert "Inactive" in text(client_a.get("/paylinks/coupons?show=inactive").data)
    assert "OFF10" not in text(client_a.get("/paylinks/coupons?show=active").data)
    client_a.post(f"/paylinks/coupons/{coupon.id}/activate")
    session().expire_all()
    assert session().get(Coupon, coupon.id).active is True  # type: ignore[union-attr]


def test_coupon_form_offers_only_own_products(client_a: FlaskClient) -> None:
    make_product(OWNER_A, name="Mine")
    make_product(OWNER_B, name="Theirs")
    html = client_a.get("/paylinks/coupons/new").data
    labels = [e.text for e in parse(html) if e.tag == "label"]
    assert any("Mine" in label for label in labels)
    assert not any("Theirs" in label for label in labels)
