"""The checkout of a request: it takes one payment, then says what became of it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from flask_paylinks.db.models import PaymentLink, PaymentState, utcnow
from flask_paylinks.db.session import session
from flask_paylinks.text_to_pay import service as t2p
from flask_paylinks.text_to_pay.service import RequestState

from ..checkout.conftest import DECLINED_CARD, priced, submission
from .conftest import OWNER_A, People, SmsBox

ITEMS = [("Haircut", 2500), ("Beard trim", 1000)]


@dataclass(frozen=True)
class Sent:
    """A request's ids, readable whatever the session does."""

    id: int
    slug: str


def _request(people: People, **kwargs: Any) -> Sent:
    link = t2p.request_payment(OWNER_A, people.ada, ITEMS, currency="USD", **kwargs)
    return Sent(link.id, link.slug)


def _pay(client: FlaskClient, link: Any, **overrides: str) -> int:
    data = priced(client, link, submission(client, link, **overrides))
    return client.post(f"/pay/{link.slug}", data=data).status_code


def test_a_request_is_paid_once_then_says_so(
    ctx: Flask, people: People, sms: SmsBox
) -> None:
    link = _request(people, note="For Tuesday")
    client = ctx.test_client()
    page = client.get(f"/pay/{link.slug}")
    assert page.status_code == 200
    assert "Haircut" in page.text
    assert "Beard trim" in page.text
    assert "For Tuesday" in page.text
    assert "$35.00" in page.text

    assert _pay(client, link, **{"card-number": DECLINED_CARD}) == 402
    session().expire_all()
    open_again = session().get(PaymentLink, link.id)
    assert open_again is not None
    assert t2p.request_status(open_again).state is not RequestState.PAID
    assert _pay(client, link) == 303

    session().expire_all()
    stored = session().get(PaymentLink, link.id)
    assert stored is not None
    status = t2p.request_status(stored)
    assert status.state is RequestState.PAID
    assert status.payment is not None
    assert status.payment.state == PaymentState.SUCCEEDED
    assert status.payment.amount_total == 3500

    again = client.get(f"/pay/{link.slug}")
    assert again.status_code == 410
    assert "This payment request has been paid" in again.text
    assert status.payment.reference in again.text
    assert "You have not been charged again." in again.text
    # Paying again is refused the same way, and charges nothing.
    posted = client.post(f"/pay/{link.slug}", data=STALE_TAB)
    assert posted.status_code == 410
    assert "has been paid" in posted.text


#: What a tab left open before the payment would post again.
STALE_TAB = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "card-number": "4242 4242 4242 4242",
    "card-expiry": "12 / 34",
    "card-cvc": "123",
}


def test_a_cancelled_request_says_it_was_cancelled(
    ctx: Flask, people: People, sms: SmsBox
) -> None:
    link = _request(people)
    t2p.cancel_request(OWNER_A, link.id)
    response = ctx.test_client().get(f"/pay/{link.slug}")
    assert response.status_code == 410
    assert "This payment request was cancelled" in response.text
    assert "no longer available" not in response.text


def test_an_expired_request_says_when_it_expired(
    ctx: Flask, people: People, sms: SmsBox
) -> None:
    link = _request(people)
    stored = session().get(PaymentLink, link.id)
    assert stored is not None
    stored.expires_at = utcnow() - timedelta(hours=1)
    session().commit()
    expected_day = t2p.request_status(stored).expires_on
    assert expected_day is not None
    response = ctx.test_client().get(f"/pay/{link.slug}")
    assert response.status_code == 410
    assert "This payment request has expired" in response.text
    assert f"{expected_day:%B} {expected_day.day}, {expected_day.year}" in response.text


def test_an_ordinary_inactive_link_keeps_its_wording(
    ctx: Flask, people: People
) -> None:
    from ..factories import make_link, make_product

    link = make_link(OWNER_A, [make_product(OWNER_A)], status="inactive")
    response = ctx.test_client().get(f"/pay/{link.slug}")
    assert response.status_code == 410
    assert "This link is no longer available" in response.text
