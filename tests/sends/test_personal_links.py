"""Personal URLs: who opened, prefilled details, the payment tied to the recipient."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from flask import Flask
from sqlalchemy import select, update

from flask_paylinks.db.models import Payment, PaymentLink, Recipient, utcnow
from flask_paylinks.db.session import session
from flask_paylinks.sends import service, tracking
from flask_paylinks.sends.service import Message, Selection

from ..checkout.conftest import form_of
from ..hosts.crm_a import Customer
from .helpers import OWNER, a_link, add_people, hosted, link_of
from .helpers import recipients as recipient_rows

SMS = "Hi {first_name}: {link}"


class _Inputs(HTMLParser):
    """Every input's value as the page draws it, by name."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "input" and found.get("name"):
            self.values[str(found["name"])] = found.get("value") or ""


def inputs(html: str) -> dict[str, str]:
    """The values the page's inputs show."""
    reader = _Inputs()
    reader.feed(html)
    return reader.values


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    with hosted(database_url) as host:
        yield host


def _send(app: Flask, rows: list[dict[str, object]]) -> tuple[int, list[Recipient]]:
    people = add_people(app, rows)
    link_id = a_link(app, require_phone=True)
    with app.test_request_context():
        send = service.start_send(
            OWNER,
            link_of(link_id),
            Selection(segment_ids=(str(people.tag_id),)),
            ["sms"],
            Message(sms_body=SMS),
        )
    return link_id, recipient_rows(app, send.id)


ADA = {
    "full_name": "Ada Lovelace",
    "mobile": "+14155550101",
    "email": "ada@example.com",
}
ALAN = {
    "full_name": "Alan Turing",
    "mobile": "+14155550102",
    "email": "alan@example.com",
}


def test_opening_a_personal_url_records_it_and_fills_in_the_contact(app: Flask) -> None:
    _, [ada] = _send(app, [ADA])
    client = app.test_client()
    page = client.get(f"/pay/p/{ada.token}", follow_redirects=True)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "private, no-store"
    fields = inputs(page.text)
    assert fields["name"] == "Ada Lovelace"
    assert fields["email"] == "ada@example.com"
    assert fields["recipient"] == ada.token
    client.get(f"/pay/p/{ada.token}", follow_redirects=True)
    [row] = recipient_rows(app)
    assert row.open_count == 2
    assert row.opened_at is not None
    assert row.last_opened_at is not None
    assert row.last_opened_at >= row.opened_at


def test_another_device_or_an_old_url_is_an_anonymous_visit(app: Flask) -> None:
    _, [ada] = _send(app, [ADA])
    assert (
        app.test_client().get(f"/pay/p/{ada.token}", follow_redirects=True).status_code
        == 200
    )
    stranger = app.test_client().get(
        f"/pay/p/{ada.token}", follow_redirects=True
    )  # a forwarded SMS
    assert stranger.status_code == 200
    fields = inputs(stranger.text)
    assert fields.get("name", "") == ""
    assert fields.get("email", "") == ""
    assert fields.get("recipient", "") == ""
    assert "Ada" not in stranger.text
    [row] = recipient_rows(app)
    assert row.open_count == 1
    with app.app_context():
        session().execute(
            update(Recipient).values(created_at=utcnow() - timedelta(days=91))
        )
        session().commit()
    again = app.test_client().get(f"/pay/p/{ada.token}", follow_redirects=True)
    assert "Ada" not in again.text
    with app.app_context():
        link = session().scalars(select(PaymentLink)).one()
        assert tracking.funnel(OWNER, link).anonymous_opens == 2


@pytest.mark.parametrize(
    "token", ["x" * 22, "not-a-token", "a" * 300, "%E2%80%AEabcdefghijklmnopqrstu"]
)
def test_a_forged_token_is_not_found(app: Flask, token: str) -> None:
    _send(app, [ADA])
    assert (
        app.test_client().get(f"/pay/p/{token}", follow_redirects=True).status_code
        == 404
    )


def test_paying_through_a_personal_url_ties_the_payment_to_the_recipient(
    app: Flask,
) -> None:
    link_id, [ada, alan] = _send(app, [ADA, ALAN])
    client = app.test_client()
    page = client.get(f"/pay/p/{ada.token}", follow_redirects=True)
    data = form_of(page.text)
    shown = inputs(page.text)
    data.update(
        {
            "name": shown["name"],
            "email": shown["email"],
            "phone": "+14155550177",  # Ada's new number
            "card-number": "4242 4242 4242 4242",
            "card-expiry": "12 / 34",
            "card-cvc": "123",
        }
    )
    with app.app_context():
        slug = session().get(PaymentLink, link_id).slug  # type: ignore[union-attr]
    quote = client.post(
        f"/pay/{slug}/quote", data=data, headers={"Accept": "application/json"}
    )
    data["terms"] = quote.json["terms"]  # type: ignore[index]
    paid = client.post(f"/pay/{slug}", data=data)
    assert paid.status_code == 303, paid.text
    with app.app_context():
        payment = session().scalars(select(Payment)).one()
        assert payment.state == "succeeded"
        assert payment.recipient_id == ada.id
        assert payment.contact_id == ada.contact_id
        # The one path where a checkout may update the CRM's contact.
        customer = session().get(Customer, int(ada.contact_id))
        assert customer is not None
        assert customer.mobile == "+14155550177"
    rows = {row.id: row for row in recipient_rows(app)}
    assert rows[ada.id].started_at is not None
    assert rows[ada.id].paid_at is not None
    assert rows[alan.id].paid_at is None
    with app.app_context():
        funnel = tracking.funnel(OWNER, link_of(link_id))
    assert (funnel.sent, funnel.opened, funnel.started, funnel.paid) == (2, 1, 1, 1)


def test_a_token_posted_from_another_browser_is_not_tied(app: Flask) -> None:
    link_id, [ada] = _send(app, [ADA])
    app.test_client().get(
        f"/pay/p/{ada.token}", follow_redirects=True
    )  # Ada's phone claims the URL
    other = app.test_client()
    with app.app_context():
        slug = session().get(PaymentLink, link_id).slug  # type: ignore[union-attr]
    data = form_of(other.get(f"/pay/{slug}").text)
    data.update(
        {
            "name": "Mallory",
            "email": "m@example.com",
            "phone": "+14155550199",
            "recipient": ada.token,
            "card-number": "4242 4242 4242 4242",
            "card-expiry": "12 / 34",
            "card-cvc": "123",
        }
    )
    quote = other.post(
        f"/pay/{slug}/quote", data=data, headers={"Accept": "application/json"}
    )
    data["terms"] = quote.json["terms"]  # type: ignore[index]
    assert other.post(f"/pay/{slug}", data=data).status_code == 303
    with app.app_context():
        payment = session().scalars(select(Payment)).one()
        assert payment.recipient_id is None
    [row] = recipient_rows(app)
    assert row.paid_at is None


def test_an_anonymous_visit_counts_once_per_browser(app: Flask) -> None:
    link_id = a_link(app)
    with app.app_context():
        slug = session().get(PaymentLink, link_id).slug  # type: ignore[union-attr]
    first = app.test_client()
    first.get(f"/pay/{slug}")
    first.get(f"/pay/{slug}")
    app.test_client().get(f"/pay/{slug}")
    with app.app_context():
        link = session().get(PaymentLink, link_id)
        assert link is not None
        funnel = tracking.funnel(OWNER, link)
    assert funnel.anonymous_opens == 2
    assert funnel.conversion == 0


def test_a_link_scanner_neither_opens_nor_claims_the_url(app: Flask) -> None:
    _, [ada] = _send(app, [ADA])
    # A mail filter or SMS preview fetches the URL and keeps no cookie.
    scanner = app.test_client(use_cookies=False)
    first = scanner.get(f"/pay/p/{ada.token}")
    assert first.status_code == 302
    assert first.headers["Location"].endswith(f"/pay/p/{ada.token}?c=1")
    assert "paylinks_device=" in first.headers["Set-Cookie"]
    followed = scanner.get(first.headers["Location"])
    assert followed.status_code == 200
    assert "Ada" not in followed.text
    [row] = recipient_rows(app)
    assert (row.open_count, row.device_key) == (0, None)
    # Ada's own browser, later, is still the one that claims it.
    page = app.test_client().get(f"/pay/p/{ada.token}", follow_redirects=True)
    assert inputs(page.text)["name"] == "Ada Lovelace"
    [row] = recipient_rows(app)
    assert row.open_count == 1
