"""The Text-to-Pay dashboard pages: the request form, a request's page, its buttons."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from flask_paylinks.db.models import LinkStatus, PaymentLink
from flask_paylinks.db.session import session

from .conftest import ADA_PHONE, People, SmsBox


def _form(contact: str, **values: str) -> dict[str, str]:
    data = {
        "contact": contact,
        "currency": "USD",
        "items-0-name": "Haircut",
        "items-0-amount": "25.00",
        "items-1-name": "Beard trim",
        "items-1-amount": "10",
        "items-2-name": "",
        "items-2-amount": "",
        "expires_on": "",
        "note": "",
    }
    data.update(values)
    return data


def _links() -> list[PaymentLink]:
    session().expire_all()
    return list(session().scalars(select(PaymentLink)))


def test_the_form_shows_empty_rows_a_preview_and_labels(
    app: Flask, client_a: FlaskClient, people: People
) -> None:
    response = client_a.get(f"/paylinks/requests/new?contact_id={people.ada}")
    assert response.status_code == 200
    html = response.text
    assert "Request a payment from Ada Lovelace" in html
    for field in (
        "items-0-name",
        "items-0-amount",
        "items-1-name",
        "expires_on",
        "note",
    ):
        assert f'<label class="pl-label" for="{field}">' in html
    assert "Acme Fitness: Pay $0.00 securely: http" in html
    assert "characters (GSM-7), 1 SMS segment" in html
    assert "text-to-pay.js" in html


def test_sending_the_form_texts_the_contact_and_shows_the_request(
    app: Flask, client_a: FlaskClient, people: People, sms: SmsBox
) -> None:
    response = client_a.post(
        f"/paylinks/requests/new?contact_id={people.ada}",
        data=_form(people.ada, note="See you Tuesday!"),
    )
    assert response.status_code == 303
    [link] = _links()
    assert response.headers["Location"] == f"/paylinks/requests/{link.id}"
    assert sms.to(ADA_PHONE)[0].startswith(
        "Acme Fitness: See you Tuesday! Pay $35.00 securely:"
    )
    page = client_a.get(response.headers["Location"]).text
    assert "Payment request to Ada Lovelace" in page
    assert re.search(r"data-request-status>(Sent|Delivered)<", page)
    assert "Haircut" in page
    assert "Beard trim" in page
    assert "$35.00" in page
    assert "See you Tuesday! Pay $35.00 securely:" in page
    assert "Resend" in page
    assert "Cancel request" in page


def test_next_is_followed_only_on_this_site(
    app: Flask, client_a: FlaskClient, people: People, sms: SmsBox
) -> None:
    response = client_a.post(
        f"/paylinks/requests/new?contact_id={people.ada}",
        data=_form(people.ada, next=f"/contacts/{people.ada}"),
    )
    assert response.headers["Location"] == f"/contacts/{people.ada}"
    response = client_a.post(
        f"/paylinks/requests/new?contact_id={people.ada}",
        data=_form(people.ada, next="https://evil.example/steal"),
    )
    assert response.headers["Location"].startswith("/paylinks/requests/")


def test_bad_input_comes_back_marked_at_its_row(
    app: Flask, client_a: FlaskClient, people: People, sms: SmsBox
) -> None:
    # The first row is empty: the error of the second item lands on row 2.
    response = client_a.post(
        f"/paylinks/requests/new?contact_id={people.ada}",
        data=_form(
            people.ada,
            **{
                "items-0-name": "",
                "items-0-amount": "",
                "items-1-amount": "0",
                "items-2-name": "Tip",
                "items-2-amount": "lots",
                "expires_on": "2001-01-01",
            },
        ),
    )
    assert response.status_code == 422
    html = response.text
    assert re.search(r'id="items-2-amount"[^>]*aria-invalid="true"', html) or re.search(
        r'aria-invalid="true"[^>]*id="items-2-amount"', html
    )
    assert "Enter an amount such as 49.00" in html
    assert _links() == []
    assert sms.sent == []
    # Fix the amount text: the service's rules come next, at the right rows.
    response = client_a.post(
        f"/paylinks/requests/new?contact_id={people.ada}",
        data=_form(
            people.ada,
            **{
                "items-0-name": "",
                "items-0-amount": "",
                "items-1-amount": "0",
                "items-2-name": "Tip",
                "items-2-amount": "5",
                "expires_on": "2001-01-01",
            },
        ),
    )
    assert response.status_code == 422
    html = response.text
    assert '<p class="pl-error" id="items-1-amount-error">' in html
    assert "Enter an amount above zero." in html
    assert "The expiry date cannot be in the past." in html
    assert _links() == []


def test_an_opted_out_contact_gets_a_clear_message_and_no_send_button(
    app: Flask, client_a: FlaskClient, people: People, sms: SmsBox
) -> None:
    page = client_a.get(f"/paylinks/requests/new?contact_id={people.otto}").text
    assert "Otto Out opted out of texts" in page
    assert re.search(r"<button[^>]*disabled[^>]*>Send request", page)
    response = client_a.post(
        f"/paylinks/requests/new?contact_id={people.otto}", data=_form(people.otto)
    )
    assert response.status_code == 422
    assert sms.sent == []


def test_another_merchants_contact_is_a_404(
    app: Flask, client_a: FlaskClient, people: People, sms: SmsBox
) -> None:
    assert (
        client_a.get(f"/paylinks/requests/new?contact_id={people.bea}").status_code
        == 404
    )
    response = client_a.post(
        f"/paylinks/requests/new?contact_id={people.bea}", data=_form(people.bea)
    )
    assert response.status_code == 404
    assert client_a.get("/paylinks/requests/new").status_code == 404
    assert sms.sent == []


def test_add_another_item_brings_the_form_back_with_a_row_more(
    app: Flask, client_a: FlaskClient, people: People, sms: SmsBox
) -> None:
    data = _form(people.ada, add_item="1")
    data["items-2-name"] = "Wash"
    response = client_a.post(
        f"/paylinks/requests/new?contact_id={people.ada}", data=data
    )
    assert response.status_code == 200
    assert 'name="items-4-name"' in response.text  # two empty rows after the three
    assert 'value="Wash"' in response.text
    assert _links() == []


def test_the_dialog_gets_the_form_alone_and_json_on_success(
    app: Flask, client_a: FlaskClient, people: People, sms: SmsBox
) -> None:
    partial = client_a.get(f"/paylinks/requests/new?contact_id={people.ada}&partial=1")
    assert partial.status_code == 200
    assert partial.text.lstrip().startswith("<form")
    assert "<nav" not in partial.text
    response = client_a.post(
        f"/paylinks/requests/new?contact_id={people.ada}",
        data={**_form(people.ada), "partial": "1"},
    )
    assert response.status_code == 201
    [link] = _links()
    assert response.json == {
        "ok": True,
        "url": f"/paylinks/requests/{link.id}",
        "message": "Texted Ada Lovelace a request for $35.00",
    }
    bad = client_a.post(
        f"/paylinks/requests/new?contact_id={people.ada}",
        data={**_form(people.ada, **{"items-0-amount": "-1"}), "partial": "1"},
    )
    assert bad.status_code == 422
    assert bad.text.lstrip().startswith("<form")


def test_the_preview_answers_the_total_and_the_sms(
    app: Flask, client_a: FlaskClient, people: People
) -> None:
    response = client_a.post(
        "/paylinks/requests/preview", data=_form(people.ada, note="Thanks")
    )
    assert response.status_code == 200
    body = response.json
    assert body["total"] == "$35.00"
    assert body["sms"].startswith("Acme Fitness: Thanks. Pay $35.00 securely: http")
    assert body["segments"] == 1


def test_cancel_and_resend_buttons(
    app: Flask,
    client_a: FlaskClient,
    client_b: FlaskClient,
    people: People,
    sms: SmsBox,
) -> None:
    client_a.post(
        f"/paylinks/requests/new?contact_id={people.ada}", data=_form(people.ada)
    )
    [link] = _links()
    assert client_b.get(f"/paylinks/requests/{link.id}").status_code == 404
    assert client_b.post(f"/paylinks/requests/{link.id}/cancel").status_code == 404

    response = client_a.post(f"/paylinks/requests/{link.id}/resend")
    assert response.status_code == 303
    assert len(sms.to(ADA_PHONE)) == 2
    page = client_a.get(f"/paylinks/requests/{link.id}").text
    assert "Sent the request again." in page

    client_a.post(f"/paylinks/requests/{link.id}/cancel")
    [link] = _links()
    assert link.status == LinkStatus.INACTIVE
    page = client_a.get(f"/paylinks/requests/{link.id}").text
    assert "Cancelled the request." in page
    assert "data-request-status>Cancelled<" in page
    assert "Resend" not in page
    response = client_a.post(f"/paylinks/requests/{link.id}/resend")
    page = client_a.get(response.headers["Location"]).text
    assert "This request was cancelled, so it cannot be sent again." in page
    assert len(sms.to(ADA_PHONE)) == 2


def test_a_request_is_never_edited_under_the_contact_nor_its_items_reused(
    app: Flask, client_a: FlaskClient, people: People, sms: SmsBox
) -> None:
    client_a.post(
        f"/paylinks/requests/new?contact_id={people.ada}", data=_form(people.ada)
    )
    [link] = _links()
    edit = client_a.get(f"/paylinks/links/{link.id}/edit")
    assert edit.status_code == 302
    assert edit.headers["Location"] == f"/paylinks/requests/{link.id}"
    one_off = link.items[0].product_id
    coupon = client_a.post(
        "/paylinks/coupons/new",
        data={
            "code": "HAIR10",
            "discount_type": "percent",
            "percent_off": "10",
            "currency": "USD",
            "applies_to": "some",
            "products": str(one_off),
            "duration": "once",
        },
    )
    # The one-off product is no choice of a coupon: the only error is there.
    assert coupon.status_code == 422
    assert "Products: Choose products from your catalogue." in coupon.text
    assert coupon.text.count("<li><a href=") == 1
    assert f'value="{one_off}"' not in client_a.get("/paylinks/coupons/new").text


def test_the_same_request_sent_twice_texts_once(
    app: Flask, client_a: FlaskClient, people: People, sms: SmsBox
) -> None:
    page = client_a.get(f"/paylinks/requests/new?contact_id={people.ada}").text
    attempt = re.search(r'<input[^>]*name="attempt"[^>]*value="([^"]+)"', page)
    assert attempt is not None
    data = _form(people.ada, attempt=attempt.group(1))
    first = client_a.post(f"/paylinks/requests/new?contact_id={people.ada}", data=data)
    again = client_a.post(f"/paylinks/requests/new?contact_id={people.ada}", data=data)
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"]
    assert len(_links()) == 1
    assert len(sms.to(ADA_PHONE)) == 1


def test_the_links_table_opens_a_request_on_its_own_page(
    app: Flask, client_a: FlaskClient, people: People, sms: SmsBox
) -> None:
    client_a.post(
        f"/paylinks/requests/new?contact_id={people.ada}", data=_form(people.ada)
    )
    [link] = _links()
    table = client_a.get("/paylinks/").text
    assert f'href="/paylinks/requests/{link.id}">{link.name}</a>' in table
