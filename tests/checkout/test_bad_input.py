"""Every bad input of the issue: a 4xx with the form back, nothing charged or kept."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import MultiDict

from flask_paylinks.db.models import GatewayEvent, Payment, Product, utcnow

from ..hosts import crm_a
from .conftest import Shop, form_of, priced, submission


@pytest.fixture
def link(shop: Shop, yoga: Product, plans: tuple[Product, Product]):  # type: ignore[no-untyped-def]
    monthly, yearly = plans
    return shop.link(
        [
            {
                "product": yoga,
                "adjustable": True,
                "min_quantity": 1,
                "max_quantity": 10,
            },
            {"product": monthly},
            {"product": yearly},
        ],
        allow_coupons=True,
        require_phone=True,
        collect_address=True,
    )


def assert_nothing_recorded(app: Flask) -> None:
    with app.app_context():
        session = crm_a.db.session
        assert session.scalars(crm_a.db.select(Payment)).all() == []
        assert session.scalars(crm_a.db.select(GatewayEvent)).all() == []
        assert session.scalars(crm_a.db.select(crm_a.Customer)).all() == []


def marked(html: str, field_id: str) -> bool:
    """Whether the field is marked invalid and points at its message."""
    for tag in re.findall(r"<(?:input|select)[^>]*>", html):
        if f'id="{field_id}"' in tag:
            return 'aria-invalid="true"' in tag and f"{field_id}-error" in tag
    return False


def post(client: FlaskClient, link, data):  # type: ignore[no-untyped-def]
    return client.post(f"/pay/{link.slug}", data=data)


@pytest.mark.parametrize("quantity", ["11", "0", "-1", "abc", "1e3", "9" * 50, " "])
def test_quantity_out_of_bounds_or_not_a_number(
    client: FlaskClient,
    host_a: Flask,
    link,
    yoga: Product,
    quantity: str,  # type: ignore[no-untyped-def]
) -> None:
    data = submission(client, link, **{f"qty-{yoga.id}": quantity})
    response = post(client, link, data)
    assert response.status_code == 422
    assert "Choose a quantity from 1 to 10." in response.text
    assert marked(response.text, f"qty-{yoga.id}")
    assert 'value="Ada Lovelace"' in response.text
    assert_nothing_recorded(host_a)


def test_two_recurring_products_at_once(
    client: FlaskClient,
    host_a: Flask,
    link,
    plans,  # type: ignore[no-untyped-def]
) -> None:
    data = submission(client, link)
    body = MultiDict(
        [*data.items(), ("plan", str(plans[0].id)), ("plan", str(plans[1].id))]
    )
    response = client.post(f"/pay/{link.slug}", data=body)
    assert response.status_code == 422
    assert "Choose one plan." in response.text
    assert 'aria-describedby="plan-error"' in response.text
    assert_nothing_recorded(host_a)


def test_a_product_id_not_on_the_link(
    client: FlaskClient,
    host_a: Flask,
    link,
    shop: Shop,  # type: ignore[no-untyped-def]
) -> None:
    elsewhere = shop.product(name="Not on this link")
    for data in (
        submission(client, link, **{f"qty-{elsewhere.id}": "1"}),
        submission(client, link, plan=str(elsewhere.id)),
        submission(client, link, plan="999999"),
    ):
        response = post(client, link, data)
        assert response.status_code == 422
        assert "Not on this link" not in response.text
        assert_nothing_recorded(host_a)


@pytest.mark.parametrize(
    ("phone", "message"),
    [
        ("", "Enter your phone number."),
        ("12", "Enter a valid phone number"),
        ("+1 555 0100 0000 0000", "Enter a valid phone number"),
        ("call me", "Enter a valid phone number"),
        ("+44 20 7946 095", "Enter a valid phone number"),
    ],
)
def test_missing_or_invalid_phone(
    client: FlaskClient,
    host_a: Flask,
    link,
    phone: str,
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    response = post(client, link, submission(client, link, phone=phone))
    assert response.status_code == 422
    assert message in response.text
    assert marked(response.text, "phone")
    assert 'value="12 Analytical Row"' in response.text
    assert_nothing_recorded(host_a)


def test_phone_is_stored_e164_from_the_default_region(
    client: FlaskClient,
    link,
    shop: Shop,  # type: ignore[no-untyped-def]
) -> None:
    data = priced(client, link, submission(client, link, phone="020 7946 0958"))
    # PAYLINKS_PHONE_REGION is US: a UK number needs its +44.
    assert post(client, link, data).status_code == 422
    data = priced(client, link, submission(client, link, phone="+44 20 7946 0958"))
    assert post(client, link, data).status_code == 303
    assert [p.customer_phone for p in shop.payments()] == ["+442079460958"]


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("line1", "Enter your street address."),
        ("city", "Enter your city."),
        ("postal_code", "Enter your postal code."),
        ("country", "Choose your country."),
    ],
)
def test_address_missing_a_required_part(
    client: FlaskClient,
    host_a: Flask,
    link,
    missing: str,
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    response = post(client, link, submission(client, link, **{missing: ""}))
    assert response.status_code == 422
    assert message in response.text
    assert marked(response.text, missing)
    assert 'value="Ada Lovelace"' in response.text
    assert_nothing_recorded(host_a)


def test_unknown_country_code(client: FlaskClient, host_a: Flask, link) -> None:  # type: ignore[no-untyped-def]
    response = post(client, link, submission(client, link, country="XX"))
    assert response.status_code == 422
    assert "Choose your country." in response.text
    assert_nothing_recorded(host_a)


def test_a_coupon_code_of_ten_thousand_characters(
    client: FlaskClient,
    host_a: Flask,
    link,  # type: ignore[no-untyped-def]
) -> None:
    code = "A" * 10_000
    response = post(client, link, submission(client, link, coupon=code))
    assert response.status_code == 422
    assert "This code is not valid." in response.text
    assert marked(response.text, "coupon")
    json = client.post(
        f"/pay/{link.slug}/quote",
        data=submission(client, link, coupon=code),
        headers={"Accept": "application/json"},
    )
    assert json.status_code == 422
    assert json.json["errors"] == {"coupon": "This code is not valid."}
    assert_nothing_recorded(host_a)


def test_refused_codes_all_say_the_same(
    client: FlaskClient,
    host_a: Flask,
    link,
    shop: Shop,
    plans,  # type: ignore[no-untyped-def]
) -> None:
    now = utcnow()
    shop.coupon(code="EXPIRED", valid_until=now - timedelta(days=1))
    shop.coupon(code="LATER", valid_from=now + timedelta(days=1))
    shop.coupon(code="USEDUP", max_redemptions=3, times_redeemed=3)
    shop.coupon(code="OFF", active=False)
    shop.coupon(code="OTHER", products=[shop.product(name="Other thing")])
    shop.coupon(code="EUROS", amount_off=500, currency="EUR")
    answers = set()
    for code in (
        "NOPE",
        "EXPIRED",
        "LATER",
        "USEDUP",
        "OFF",
        "OTHER",
        "EUROS",
    ):
        response = client.post(
            f"/pay/{link.slug}/quote",
            data=submission(client, link, coupon=code),
            headers={"Accept": "application/json"},
        )
        assert response.status_code == 422
        answers.add(response.json["errors"]["coupon"])
    assert answers == {"This code is not valid."}
    # A NUL byte is refused before any view runs (issue 7): no code lookup at all.
    response = client.post(
        f"/pay/{link.slug}/quote",
        data=submission(client, link, coupon="a\x00b"),
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert "control characters" in response.json["error"]
    assert_nothing_recorded(host_a)


def test_forged_amount_fields_are_ignored(
    client: FlaskClient,
    link,
    shop: Shop,
    yoga: Product,  # type: ignore[no-untyped-def]
) -> None:
    data = priced(
        client,
        link,
        submission(client, link, amount="1", total="1", unit_amount="1", price="0"),
    )
    assert post(client, link, data).status_code == 303
    [payment] = shop.payments()
    assert payment.amount_total == 2500 + 900  # the server's price, one plan
    assert payment.terms_digest == data["terms"]


def test_forged_terms_charge_nothing(
    client: FlaskClient,
    host_a: Flask,
    link,  # type: ignore[no-untyped-def]
) -> None:
    response = post(client, link, submission(client, link, terms="0" * 32))
    assert response.status_code == 409
    assert "It now costs $34.00" in response.text
    assert_nothing_recorded(host_a)


def test_card_number_that_cannot_be_a_card(
    client: FlaskClient,
    host_a: Flask,
    link,  # type: ignore[no-untyped-def]
) -> None:
    for number in ("4242 4242 4242 4241", "", "x" * 200):
        response = post(
            client, link, submission(client, link, **{"card-number": number})
        )
        assert response.status_code == 422
        assert marked(response.text, "card-number")
    response = post(
        client, link, submission(client, link, **{"card-expiry": "01 / 20"})
    )
    assert "Your card has expired." in response.text
    assert_nothing_recorded(host_a)


def test_missing_name_and_bad_email(client: FlaskClient, host_a: Flask, link) -> None:  # type: ignore[no-untyped-def]
    response = post(
        client, link, submission(client, link, name="", email="not-an-email")
    )
    assert response.status_code == 422
    assert "Enter your name." in response.text
    assert "Enter an email address like name@example.com." in response.text
    assert marked(response.text, "name")
    assert marked(response.text, "email")
    assert 'value="not-an-email"' in response.text
    # The summary at the top lists each problem and links to its field.
    assert '<a href="#name">Enter your name.</a>' in response.text
    assert_nothing_recorded(host_a)


# -- CSRF ---------------------------------------------------------------------------


@pytest.fixture
def csrf_client(host_a: Flask) -> Iterator[FlaskClient]:
    host_a.config["WTF_CSRF_ENABLED"] = True
    with host_a.test_client() as client:
        yield client


def test_csrf_token_tampered_missing_or_expired(
    csrf_client: FlaskClient,
    host_a: Flask,
    link,
    shop: Shop,  # type: ignore[no-untyped-def]
) -> None:
    data = submission(csrf_client, link)
    assert data["csrf_token"]
    data = priced(csrf_client, link, data)

    tampered = dict(data, csrf_token=data["csrf_token"][:-3] + "abc")
    response = post(csrf_client, link, tampered)
    assert response.status_code == 400
    assert "This page was open too long" in response.text
    assert 'value="Ada Lovelace"' in response.text
    assert form_of(response.text)["csrf_token"]  # a fresh token to try again with
    assert_nothing_recorded(host_a)

    missing = {k: v for k, v in data.items() if k != "csrf_token"}
    assert post(csrf_client, link, missing).status_code == 400
    assert_nothing_recorded(host_a)

    host_a.config["WTF_CSRF_TIME_LIMIT"] = 1
    import time

    time.sleep(2.1)
    assert post(csrf_client, link, data).status_code == 400
    assert_nothing_recorded(host_a)
    host_a.config["WTF_CSRF_TIME_LIMIT"] = 3600

    quote = csrf_client.post(
        f"/pay/{link.slug}/quote", data=tampered, headers={"Accept": "application/json"}
    )
    assert quote.status_code == 400

    # With the page's real token it goes through.
    fresh = priced(csrf_client, link, submission(csrf_client, link))
    assert post(csrf_client, link, fresh).status_code == 303
    assert [p.state for p in shop.payments()] == ["succeeded"]
