"""A payment's page and its refund form (sandbox gateway), through the test client."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select

from flask_paylinks.db.models import Payment, Refund
from flask_paylinks.db.session import session

from ..factories import make_link, make_payment
from .conftest import OWNER_A, OWNER_B
from .html import control, field_error, text


def _payment(payment_id: int) -> Payment:
    session().expire_all()
    payment = session().get(Payment, payment_id)
    assert payment is not None
    return payment


def _refunds(payment_id: int) -> list[Refund]:
    session().expire_all()
    return list(
        session().scalars(select(Refund).where(Refund.payment_id == payment_id)).all()
    )


def _paid(owner: str = OWNER_A) -> int:
    link = make_link(owner)
    return make_payment(owner, link, gateway_payment_id="sbx_pi_refund_page").id


def _form(client: FlaskClient, payment_id: int) -> dict[str, str]:
    """What the rendered refund form would send unchanged."""
    page = client.get(f"/paylinks/payments/{payment_id}").data
    return {
        "amount": control(page, "amount")["value"],
        "reason": "requested_by_customer",
        "note": "",
        "attempt": control(page, "attempt")["value"],
    }


def test_the_payment_page_offers_a_refund_of_what_is_left(
    client_a: FlaskClient,
) -> None:
    payment_id = _paid()
    response = client_a.get(f"/paylinks/payments/{payment_id}")
    assert response.status_code == 200
    page = text(response.data)
    assert "Refund this payment" in page
    assert "$10.00 can be refunded" in page
    assert control(response.data, "amount")["value"] == "10.00"
    assert "Amount to refund" in page
    assert "Requested by the customer" in page


def test_a_partial_refund_shows_on_the_payment_and_the_links_list(
    client_a: FlaskClient,
) -> None:
    payment_id = _paid()
    data = {**_form(client_a, payment_id), "amount": "4.00", "note": "Late delivery"}
    response = client_a.post(f"/paylinks/payments/{payment_id}/refund", data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/paylinks/payments/{payment_id}"
    page = text(client_a.get(f"/paylinks/payments/{payment_id}").data)
    assert "Refunded $4.00." in page
    # text() joins a <dt> and its <dd> without a space.
    assert "Refunded$4.00" in page
    assert "Left$6.00" in page
    assert "Late delivery" in page
    assert "Succeeded" in page
    payment = _payment(payment_id)
    assert (payment.state, payment.amount_refunded) == ("succeeded", 400)
    assert [(r.amount, r.state) for r in _refunds(payment_id)] == [(400, "succeeded")]
    listing = text(client_a.get(f"/paylinks/links/{payment.link_id}").data)
    assert "$4.00 refunded" in listing


def test_the_same_form_sent_twice_refunds_once(client_a: FlaskClient) -> None:
    payment_id = _paid()
    data = {**_form(client_a, payment_id), "amount": "3.00"}
    first = client_a.post(f"/paylinks/payments/{payment_id}/refund", data=data)
    second = client_a.post(f"/paylinks/payments/{payment_id}/refund", data=data)
    assert first.status_code == second.status_code == 302
    assert [r.amount for r in _refunds(payment_id)] == [300]
    assert _payment(payment_id).amount_refunded == 300


def test_each_rendered_form_is_a_new_refund(client_a: FlaskClient) -> None:
    payment_id = _paid()
    for _ in range(2):
        data = {**_form(client_a, payment_id), "amount": "2.50"}
        client_a.post(f"/paylinks/payments/{payment_id}/refund", data=data)
    assert [r.amount for r in _refunds(payment_id)] == [250, 250]
    assert "$5.00 can be refunded" in text(
        client_a.get(f"/paylinks/payments/{payment_id}").data
    )


def test_a_full_refund_refunds_the_payment_and_removes_the_form(
    client_a: FlaskClient,
) -> None:
    payment_id = _paid()
    response = client_a.post(
        f"/paylinks/payments/{payment_id}/refund", data=_form(client_a, payment_id)
    )
    assert response.status_code == 302
    assert _payment(payment_id).state == "refunded"
    page = text(client_a.get(f"/paylinks/payments/{payment_id}").data)
    assert "refunded in full" in page
    assert "Refund this payment" not in page


def test_bad_refunds_are_refused_with_the_field_marked(client_a: FlaskClient) -> None:
    payment_id = _paid()
    url = f"/paylinks/payments/{payment_id}/refund"
    cases = [
        ({"amount": "ten"}, "amount", "Enter an amount such as 49.00"),
        ({"amount": ""}, "amount", "Enter the amount to refund"),
        ({"amount": "0"}, "amount", "Enter an amount above zero."),
        ({"amount": "-5"}, "amount", "Enter an amount above zero."),
        ({"amount": "10.01"}, "amount", "At most $10.00 is left to refund."),
        ({"amount": "1.001"}, "amount", "decimal place"),
        ({"amount": "9" * 40}, "amount", "Enter an amount such as 49.00"),
        ({"reason": "because"}, "reason", "Choose a reason."),
        ({"reason": ""}, "reason", "Choose a reason."),
    ]
    for change, field, message in cases:
        data = {**_form(client_a, payment_id), **change}
        response = client_a.post(url, data=data)
        assert response.status_code == 422, change
        assert message in field_error(response.data, field), change
    assert _refunds(payment_id) == []
    assert _payment(payment_id).amount_refunded == 0


def test_an_expired_form_is_refused(client_a: FlaskClient) -> None:
    payment_id = _paid()
    data = {**_form(client_a, payment_id), "attempt": "short"}
    response = client_a.post(f"/paylinks/payments/{payment_id}/refund", data=data)
    assert response.status_code == 422
    assert "reload the page" in text(response.data)
    assert _refunds(payment_id) == []


def test_an_unpaid_payment_offers_no_refund(client_a: FlaskClient) -> None:
    payment_id = make_payment(OWNER_A, state="pending").id
    page = text(client_a.get(f"/paylinks/payments/{payment_id}").data)
    assert "Only a paid payment can be refunded." in page
    response = client_a.post(
        f"/paylinks/payments/{payment_id}/refund",
        data={"amount": "1.00", "reason": "duplicate", "attempt": "x" * 32},
    )
    assert response.status_code == 422
    assert _refunds(payment_id) == []


def test_another_merchants_payment_is_not_found(
    client_a: FlaskClient, client_b: FlaskClient
) -> None:
    payment_id = _paid(OWNER_B)
    assert client_a.get(f"/paylinks/payments/{payment_id}").status_code == 404
    response = client_a.post(
        f"/paylinks/payments/{payment_id}/refund",
        data={"amount": "1.00", "reason": "duplicate", "attempt": "y" * 32},
    )
    assert response.status_code == 404
    assert _refunds(payment_id) == []
    assert client_b.get(f"/paylinks/payments/{payment_id}").status_code == 200
    for odd in ("0", "99999999999999999999", "-1"):
        assert client_a.get(f"/paylinks/payments/{odd}").status_code == 404
