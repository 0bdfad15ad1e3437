"""A contact's conversation: texting from the CRM, and the extension's messages."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from example_app.extensions import db
from example_app.models import Customer, Message
from flask_paylinks.contacts import Contact
from flask_paylinks.db.models import PaymentState
from flask_paylinks.signals import message_sent, payment_succeeded

from ..factories import make_payment
from .helpers import ALICE, form_token, login_client


def _client(app: Flask) -> Any:
    client = app.test_client()
    login_client(client, ALICE)
    return client


def _pick(app: Flask, seed: dict[str, Any], **where: Any) -> Customer:
    """An Acme customer matching *where* (column == value)."""
    with app.app_context():
        stmt = select(Customer).where(
            Customer.id.in_(seed["acme"]["customers"]),
            *(getattr(Customer, key) == value for key, value in where.items()),
        )
        customer = db.session.scalars(stmt.order_by(Customer.id)).first()
        assert customer is not None, where
        db.session.expunge(customer)
        return customer


def _thread(app: Flask, customer_id: int) -> list[tuple[str, str, str]]:
    with app.app_context():
        rows = db.session.scalars(
            select(Message)
            .where(Message.customer_id == customer_id)
            .order_by(Message.created_at, Message.id)
        ).all()
        return [(m.direction, m.channel, m.body) for m in rows]


def _send(client: Any, customer_id: int, body: str) -> Any:
    url = f"/contacts/{customer_id}/conversation"
    token = form_token(client.get(url).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, "body": body})


def test_compose_texts_through_the_console_sender_and_shows_it(
    example_app: Flask, example_seed: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    customer = _pick(example_app, example_seed, do_not_text=False)
    assert customer.mobile
    client = _client(example_app)
    before = _thread(example_app, customer.id)
    with caplog.at_level(logging.INFO, logger="flask_paylinks.messaging"):
        response = _send(client, customer.id, "Your class starts at 10:30 tomorrow.")
    assert response.status_code == 302
    sent = [
        r.getMessage() for r in caplog.records if r.name == "flask_paylinks.messaging"
    ]
    assert len(sent) == 1
    assert sent[0].startswith(f"SMS to {customer.mobile} ")
    assert "Your class starts at 10:30 tomorrow." in sent[0]
    assert _thread(example_app, customer.id) == [
        *before,
        ("out", "sms", "Your class starts at 10:30 tomorrow."),
    ]
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    bubbles = re.findall(r'<p class="bubble">(.*?)</p>', html, re.S)
    assert bubbles[-1] == "Your class starts at 10:30 tomorrow."  # newest last


def test_compose_is_refused_for_do_not_text(
    example_app: Flask, example_seed: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    customer = _pick(example_app, example_seed, do_not_text=True)
    client = _client(example_app)
    page = client.get(f"/contacts/{customer.id}/conversation").get_data(as_text=True)
    assert "has opted out of text messages" in page
    assert re.search(r'<button type="submit"[^>]*disabled', page)
    before = _thread(example_app, customer.id)
    with caplog.at_level(logging.INFO, logger="flask_paylinks.messaging"):
        response = _send(client, customer.id, "Sneaky promo")
    assert response.status_code == 422
    assert "has opted out of text messages" in response.get_data(as_text=True)
    assert not [r for r in caplog.records if r.name == "flask_paylinks.messaging"]
    assert _thread(example_app, customer.id) == before


def test_compose_is_refused_without_a_phone_number(
    example_app: Flask, example_seed: dict[str, Any]
) -> None:
    customer = _pick(example_app, example_seed, mobile=None, do_not_text=False)
    response = _send(_client(example_app), customer.id, "Hello?")
    assert response.status_code == 422
    assert "has no mobile number on file" in response.get_data(as_text=True)
    assert _thread(example_app, customer.id) == []


def test_an_empty_message_is_not_sent(
    example_app: Flask, example_seed: dict[str, Any]
) -> None:
    customer = _pick(example_app, example_seed, do_not_text=False)
    before = _thread(example_app, customer.id)
    response = _send(_client(example_app), customer.id, "   ")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'<textarea[^>]*aria-invalid="true"', html)
    assert _thread(example_app, customer.id) == before


def test_messages_the_extension_sends_join_the_thread(
    example_app: Flask, example_seed: dict[str, Any]
) -> None:
    customer = _pick(example_app, example_seed, do_not_text=False)
    with example_app.app_context():
        # What the extension does when Text-to-Pay or a bulk send texts someone.
        message_sent.send(
            example_app,
            contact_id=str(customer.id),
            channel="sms",
            to=customer.mobile,
            body="Acme Fitness: pay your invoice at http://localhost/pay/abc",
        )
        message_sent.send(
            example_app,
            contact_id=str(customer.id),
            channel="email",
            to=customer.email,
            body="Here is your payment link.",
        )
        db.session.commit()
    thread = _thread(example_app, customer.id)
    assert thread[-2:] == [
        ("out", "sms", "Acme Fitness: pay your invoice at http://localhost/pay/abc"),
        ("out", "email", "Here is your payment link."),
    ]
    html = _client(example_app).get(f"/contacts/{customer.id}/conversation").text
    assert "pay your invoice at http://localhost/pay/abc" in html
    assert "Email ·" in html


def test_another_apps_signal_is_not_recorded(
    example_app: Flask, example_seed: dict[str, Any]
) -> None:
    customer = _pick(example_app, example_seed, do_not_text=False)
    before = _thread(example_app, customer.id)
    with example_app.app_context():
        message_sent.send(
            Flask("someone-else"),
            contact_id=str(customer.id),
            channel="sms",
            to=customer.mobile,
            body="not ours",
        )
        db.session.commit()
    assert _thread(example_app, customer.id) == before


def test_a_payment_puts_a_note_on_the_timeline(
    example_app: Flask, example_seed: dict[str, Any]
) -> None:
    acme = example_seed["acme"]
    customer = _pick(example_app, example_seed, do_not_text=False)
    with example_app.app_context():
        payment = make_payment(
            acme["owner"],
            commit=False,
            reference="PL-NOTE0001",
            link_id=acme["links"][0],
            state=PaymentState.SUCCEEDED,
            amount_subtotal=35800,
            amount_total=35800,
            snapshot={"lines": [{"name": "10-class pass", "quantity": 2}]},
            contact_id=str(customer.id),
        )
        payment_succeeded.send(
            example_app,
            payment=payment,
            contact=Contact(id=str(customer.id), name=customer.full_name),
        )
        db.session.commit()
    assert _thread(example_app, customer.id)[-1] == (
        "in",
        "note",
        "Paid $358.00 for 10-class pass \u00d7 2 (ref. PL-NOTE0001).",
    )
    html = _client(example_app).get(f"/contacts/{customer.id}/conversation").text
    assert "Paid $358.00 for 10-class pass \u00d7 2" in html


def test_a_payment_of_another_owner_adds_no_note(
    example_app: Flask, example_seed: dict[str, Any]
) -> None:
    customer = _pick(example_app, example_seed, do_not_text=False)
    before = _thread(example_app, customer.id)
    with example_app.app_context():
        payment = make_payment(
            example_seed["globex"]["owner"],
            commit=False,
            amount_subtotal=100,
            amount_total=100,
            snapshot={},
            contact_id=str(customer.id),
        )
        payment_succeeded.send(
            example_app, payment=payment, contact=Contact(id=str(customer.id))
        )
        db.session.commit()
    assert _thread(example_app, customer.id) == before
