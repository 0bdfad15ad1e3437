"""The issue's bad-input list: each comes back 422 with the field marked,
what the merchant typed kept, and nothing saved."""

from __future__ import annotations

import io
import os
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select

from flask_paylinks.db.models import Asset, Coupon, PaymentLink, Product
from flask_paylinks.db.session import session

from ..factories import make_link, make_product
from .conftest import OWNER_A
from .html import by_id, control, field_error, parse


def _count(model: type[Any]) -> int:
    return session().scalar(select(func.count()).select_from(model)) or 0


def _png(size: tuple[int, int] = (4, 4)) -> bytes:
    """A real PNG; noise, so it does not compress below its size."""
    buffer = io.BytesIO()
    noise = os.urandom(size[0] * size[1] * 3)
    Image.frombytes("RGB", size, noise).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def course(app: Any) -> Product:
    return make_product(OWNER_A, name="Course", unit_amount=4900)


def link_form(product: Product, **overrides: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "name": "Spring sale",
        "items-0-product_id": str(product.id),
        "items-0-quantity": "2",
        "after_payment": "confirmation",
        "redirect_target": "same",
        "button_style": "rounded",
        "brand_color": "#112233",
    }
    form.update(overrides)
    return {key: value for key, value in form.items() if value is not None}


def post_new_link(client: FlaskClient, data: dict[str, Any]) -> Any:
    before = _count(PaymentLink)
    response = client.post(
        "/paylinks/links/new", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 422, response.data.decode()[:2000]
    assert _count(PaymentLink) == before, "a refused link was saved"
    return response


# -- links ---------------------------------------------------------------------


def test_name_missing(client_a: FlaskClient, course: Product) -> None:
    html = post_new_link(client_a, link_form(course, name="   ")).data
    assert field_error(html, "name") == "Enter a name."
    assert control(html, "items-0-quantity")["value"] == "2"
    assert control(html, "brand_color")["value"] == "#112233"


def test_name_over_200_characters(client_a: FlaskClient, course: Product) -> None:
    long_name = "N" * 201
    html = post_new_link(client_a, link_form(course, name=long_name)).data
    assert "200 characters" in field_error(html, "name")
    assert control(html, "name")["value"] == long_name


def test_no_products(client_a: FlaskClient, course: Product) -> None:
    data = link_form(course, name="Nothing to sell")
    del data["items-0-product_id"], data["items-0-quantity"]
    html = post_new_link(client_a, data).data
    assert by_id(html, "items-error").text.strip().endswith("Add at least one product.")
    assert "pl-field--invalid" in by_id(html, "items")["class"]
    assert control(html, "name")["value"] == "Nothing to sell"


@pytest.mark.parametrize(
    ("low", "high", "field", "message"),
    [
        ("5", "2", "items-0-min_quantity", "cannot be more than the maximum"),
        ("0", "3", "items-0-min_quantity", "must be 1 or more"),
        ("1", "1000", "items-0-max_quantity", "999 at most"),
        ("two", "3", "items-0-min_quantity", "whole number"),
    ],
)
def test_bad_quantity_range(
    client_a: FlaskClient,
    course: Product,
    low: str,
    high: str,
    field: str,
    message: str,
) -> None:
    data = link_form(
        course,
        **{
            "items-0-adjustable": "y",
            "items-0-min_quantity": low,
            "items-0-max_quantity": high,
        },
    )
    html = post_new_link(client_a, data).data
    assert message in field_error(html, field)
    assert control(html, "items-0-min_quantity")["value"] == low
    assert control(html, "items-0-max_quantity")["value"] == high
    assert control(html, "items-0-adjustable").get("checked") is not None


def test_max_quantity_cap_is_the_configured_one(
    app: Any, client_a: FlaskClient, course: Product
) -> None:
    app.config["PAYLINKS_MAX_QUANTITY"] = 10
    data = link_form(
        course,
        **{
            "items-0-adjustable": "y",
            "items-0-min_quantity": "1",
            "items-0-max_quantity": "11",
        },
    )
    html = post_new_link(client_a, data).data
    assert field_error(html, "items-0-max_quantity") == "The maximum can be 10 at most."


def test_fixed_quantity_below_one(client_a: FlaskClient, course: Product) -> None:
    html = post_new_link(client_a, link_form(course, **{"items-0-quantity": "0"})).data
    assert "1 or more" in field_error(html, "items-0-quantity")


def test_products_in_two_currencies(client_a: FlaskClient, course: Product) -> None:
    euro = make_product(OWNER_A, name="Euro thing", currency="EUR")
    data = link_form(
        course, **{"items-1-product_id": str(euro.id), "items-1-quantity": "1"}
    )
    html = post_new_link(client_a, data).data
    message = by_id(html, "items-error").text
    assert "must be in one currency" in message
    assert "EUR and USD" in message
    # Both products are still on the form, in the order they were added.
    chosen = [e["value"] for e in parse(html) if e.get("data-item-product") == ""]
    assert [value for value in chosen if value] == [
        str(course.id),
        str(euro.id),
    ]


@pytest.mark.parametrize("colour", ["red", "#12345", "#GGGGGG", "112233", "#1122334"])
def test_brand_colour_not_hex(
    client_a: FlaskClient, course: Product, colour: str
) -> None:
    html = post_new_link(client_a, link_form(course, brand_color=colour)).data
    assert "six hex digits" in field_error(html, "brand_color")
    assert control(html, "brand_color")["value"] == colour
    # The advanced options open by themselves so the error is in view.
    assert (
        next(e for e in parse(html) if e.get("data-advanced") == "").get("open") == ""
    )


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "//evil.example/x",
        "https://user@evil.example/thanks",
        "https://user:pw@evil.example/",
        "https:\\\\evil.example\\x",
        "https://good.example\\@evil.example/",
        "http://example.com/thanks",
        "example.com/thanks",
        "https://",
        "https:///path",
    ],
)
def test_redirect_url_not_absolute_https(
    client_a: FlaskClient, course: Product, url: str
) -> None:
    data = link_form(course, after_payment="redirect", redirect_url=url)
    html = post_new_link(client_a, data).data
    assert field_error(html, "redirect_url")
    assert control(html, "redirect_url")["value"] == url


def test_redirect_chosen_without_url(client_a: FlaskClient, course: Product) -> None:
    html = post_new_link(client_a, link_form(course, after_payment="redirect")).data
    assert (
        field_error(html, "redirect_url") == "Enter the address to send customers to."
    )


def test_logo_that_is_not_an_image(client_a: FlaskClient, course: Product) -> None:
    before = _count(Asset)
    data = link_form(course)
    # It claims to be a PNG; it is not one.
    data["logo_file"] = (io.BytesIO(b"<svg onload=alert(1)>"), "logo.png", "image/png")
    html = post_new_link(client_a, data).data
    assert "not one" in field_error(html, "logo_file")
    assert control(html, "name")["value"] == "Spring sale"
    assert _count(Asset) == before


def test_svg_logo_is_refused(client_a: FlaskClient, course: Product) -> None:
    data = link_form(course)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>'
    data["logo_file"] = (io.BytesIO(svg), "logo.svg", "image/svg+xml")
    html = post_new_link(client_a, data).data
    assert "PNG, JPEG, GIF or WebP" in field_error(html, "logo_file")


def test_logo_over_the_size_cap(
    app: Any, client_a: FlaskClient, course: Product
) -> None:
    app.config["PAYLINKS_LOGO_MAX_BYTES"] = 2048
    before = _count(Asset)
    big = _png((400, 400))
    assert len(big) > 2048
    data = link_form(course)
    data["logo_file"] = (io.BytesIO(big), "logo.png", "image/png")
    html = post_new_link(client_a, data).data
    assert field_error(html, "logo_file") == "The image must be 2 KB or smaller."
    assert _count(Asset) == before


def test_valid_logo_with_another_error_is_not_kept(
    client_a: FlaskClient, course: Product
) -> None:
    before = _count(Asset)
    data = link_form(course, name="")
    data["logo_file"] = (io.BytesIO(_png()), "logo.png", "image/png")
    post_new_link(client_a, data)
    assert _count(Asset) == before


def test_logo_url_must_be_https(client_a: FlaskClient, course: Product) -> None:
    html = post_new_link(
        client_a, link_form(course, logo_url="javascript:alert(1)")
    ).data
    assert field_error(html, "logo_url")


def test_edit_with_bad_input_changes_nothing(
    client_a: FlaskClient, course: Product
) -> None:
    link = make_link(OWNER_A, [course], name="Original", brand_color="#000000")
    response = client_a.post(
        f"/paylinks/links/{link.id}/edit",
        data=link_form(course, name="Changed", brand_color="blue"),
    )
    assert response.status_code == 422
    assert control(response.data, "name")["value"] == "Changed"
    session().expire_all()
    assert session().get(PaymentLink, link.id).name == "Original"  # type: ignore[union-attr]
    assert session().get(PaymentLink, link.id).brand_color == "#000000"  # type: ignore[union-attr]


def test_another_merchants_product_is_refused(
    client_a: FlaskClient, course: Product
) -> None:
    foreign = make_product("2", name="Bob's product")
    html = post_new_link(
        client_a, link_form(course, **{"items-0-product_id": str(foreign.id)})
    ).data
    assert "Bob's product" not in html.decode()
    assert "not in your catalogue" in by_id(html, "items-0-product_id-error").text


# -- coupons -------------------------------------------------------------------


def coupon_form(**overrides: Any) -> dict[str, Any]:
    form = {
        "code": "SPRING25",
        "discount_type": "percent",
        "percent_off": "25",
        "currency": "USD",
        "applies_to": "all",
        "duration": "once",
    }
    form.update(overrides)
    return form


def post_new_coupon(client: FlaskClient, data: dict[str, Any]) -> Any:
    before = _count(Coupon)
    response = client.post("/paylinks/coupons/new", data=data)
    assert response.status_code == 422, response.data.decode()[:2000]
    assert _count(Coupon) == before
    return response


@pytest.mark.parametrize("percent", ["100.01", "150", "0", "-5", "12.345", "lots"])
def test_coupon_percent_out_of_range(
    client_a: FlaskClient, app: Any, percent: str
) -> None:
    html = post_new_coupon(client_a, coupon_form(percent_off=percent)).data
    assert field_error(html, "percent_off")
    assert control(html, "percent_off")["value"] == percent
    assert control(html, "code")["value"] == "SPRING25"


def test_coupon_over_100_percent_says_so(client_a: FlaskClient, app: Any) -> None:
    html = post_new_coupon(client_a, coupon_form(percent_off="120")).data
    assert field_error(html, "percent_off") == "A discount can be 100 % at most."


@pytest.mark.parametrize("amount", ["-5", "-0.01", "0", "abc", "1.234"])
def test_coupon_amount_negative_or_bad(
    client_a: FlaskClient, app: Any, amount: str
) -> None:
    html = post_new_coupon(
        client_a, coupon_form(discount_type="amount", amount_off=amount)
    ).data
    assert field_error(html, "amount_off")
    assert control(html, "amount_off")["value"] == amount


def test_coupon_negative_amount_says_so(client_a: FlaskClient, app: Any) -> None:
    html = post_new_coupon(
        client_a, coupon_form(discount_type="amount", amount_off="-5")
    ).data
    assert field_error(html, "amount_off") == "An amount off cannot be negative."


def test_coupon_window_that_ends_before_it_starts(
    client_a: FlaskClient, app: Any
) -> None:
    html = post_new_coupon(
        client_a, coupon_form(valid_from="2026-05-10", valid_until="2026-05-01")
    ).data
    assert "before the start" in field_error(html, "valid_until")
    assert control(html, "valid_from")["value"] == "2026-05-10"


def test_coupon_code_taken_in_another_case(client_a: FlaskClient, app: Any) -> None:
    client_a.post("/paylinks/coupons/new", data=coupon_form(code="Spring25"))
    html = post_new_coupon(client_a, coupon_form(code="spring25")).data
    assert field_error(html, "code") == "You already have a coupon with this code."


def test_coupon_repeating_without_months(client_a: FlaskClient, app: Any) -> None:
    html = post_new_coupon(client_a, coupon_form(duration="repeating")).data
    assert field_error(html, "duration_in_months")


# -- products ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ("-10", "cannot be negative"),
        ("0", "above zero"),
        ("ten", "such as 49.00"),
        ("1.999", "2 decimal places"),
    ],
)
def test_product_bad_price(
    client_a: FlaskClient, app: Any, price: str, message: str
) -> None:
    before = _count(Product)
    response = client_a.post(
        "/paylinks/products/new",
        data={"name": "Course", "kind": "one_time", "price": price, "currency": "USD"},
    )
    assert response.status_code == 422
    assert message in field_error(response.data, "price")
    assert control(response.data, "price")["value"] == price
    assert _count(Product) == before


def test_product_recurring_period_over_a_year(client_a: FlaskClient, app: Any) -> None:
    response = client_a.post(
        "/paylinks/products/new",
        data={
            "name": "Plan",
            "kind": "recurring",
            "price": "10",
            "currency": "USD",
            "interval": "month",
            "interval_count": "13",
        },
    )
    assert response.status_code == 422
    assert "one year" in field_error(response.data, "interval_count")


# -- the table's filters -------------------------------------------------------


def test_date_range_that_ends_before_it_starts(client_a: FlaskClient, app: Any) -> None:
    make_link(OWNER_A, name="Visible anyway")
    response = client_a.get(
        "/paylinks/?q=Vis&created_from=2026-05-10&created_to=2026-05-01"
    )
    assert response.status_code == 422
    assert "before the start" in field_error(response.data, "created_to")
    assert control(response.data, "created_from")["value"] == "2026-05-10"
    assert control(response.data, "created_to")["value"] == "2026-05-01"
    assert control(response.data, "q")["value"] == "Vis"
    # The other filters still apply; the bad range is left out.
    assert "Visible anyway" in response.data.decode()


def test_date_that_is_not_a_date(client_a: FlaskClient, app: Any) -> None:
    response = client_a.get("/paylinks/?created_from=2026-02-31")
    assert response.status_code == 422
    assert "real date" in field_error(response.data, "created_from")
