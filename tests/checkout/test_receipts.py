"""The customer's receipt email, through a real SMTP server (aiosmtpd), once."""

from __future__ import annotations

import email
import logging
from collections.abc import Iterator
from email.message import Message
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask

from ..hosts import crm_a
from ..services import free_port
from .conftest import DECLINED_CARD, Shop, priced, submission
from .test_hostile_customers import due_now


class Inbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=default_policy)
        )
        return "250 OK"


class MailServer:
    """A real SMTP server on a fixed local port that can be stopped and started."""

    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    """A real SMTP server (aiosmtpd) on a free local port."""
    server = MailServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mailing_app(database_url: str, smtp: MailServer) -> Iterator[Flask]:
    app = crm_a.create_app(
        database_url,
        PAYLINKS_EMAIL_BACKEND="smtp",
        PAYLINKS_SMTP_HOST="127.0.0.1",
        PAYLINKS_SMTP_PORT=smtp.port,
        PAYLINKS_EMAIL_FROM="receipts@acme.test",
    )
    with app.app_context():
        crm_a.db.create_all()
    yield app
    with app.app_context():
        crm_a.db.session.remove()
        crm_a.db.engine.dispose()


def _text(message: Message) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def test_a_subscription_receipt_names_the_lines_total_merchant_and_next_charge(
    mailing_app: Flask, smtp: MailServer
) -> None:
    inbox = smtp.inbox
    shop = Shop(mailing_app)
    plan = shop.product(
        name="Membership", kind="recurring", interval="month", unit_amount=4900
    )
    mat = shop.product(name="Yoga mat", unit_amount=2000)
    link = shop.link([{"product": plan}, {"product": mat}], allow_coupons=True)
    shop.coupon(code="SAVE10", percent_off_bp=1000)
    client = mailing_app.test_client()
    data = priced(client, link, submission(client, link, coupon="SAVE10"))
    assert client.post(f"/pay/{link.slug}", data=data).status_code == 303
    assert client.post(f"/pay/{link.slug}", data=data).status_code == 303  # again

    [message] = inbox.messages
    [payment] = shop.payments()
    assert message["To"] == "ada@example.com"
    assert message["From"] == "receipts@acme.test"
    assert message["Subject"] == f"Your receipt from Acme Fitness ({payment.reference})"
    text = _text(message)
    for expected in (
        "Acme Fitness",
        "Membership: $49.00",
        "Yoga mat: $20.00",
        "Discount (SAVE10): -$6.90",
        "Paid: $62.10",
        "Next charge: $49.00 on",
        f"Reference: {payment.reference}",
        "or to cancel: Acme Fitness, help@acme.test, +1 555 0100",
    ):
        assert expected in text, (expected, text)
    html = message.get_body(preferencelist=("html",))
    assert html is not None
    assert "Membership" in str(html.get_content())
    assert shop.payments()[0].receipt_sent_at is not None


def test_a_declined_payment_gets_no_receipt(
    mailing_app: Flask, smtp: MailServer
) -> None:
    inbox = smtp.inbox
    shop = Shop(mailing_app)
    link = shop.link([{"product": shop.product()}])
    client = mailing_app.test_client()
    data = priced(
        client, link, submission(client, link, **{"card-number": DECLINED_CARD})
    )
    assert client.post(f"/pay/{link.slug}", data=data).status_code == 402
    assert inbox.messages == []


def test_smtp_down_loses_no_receipt_and_sends_none_twice(
    mailing_app: Flask,
    smtp: MailServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    inbox = smtp.inbox
    shop = Shop(mailing_app)
    link = shop.link([{"product": shop.product()}])
    client = mailing_app.test_client()
    data = priced(client, link, submission(client, link))
    smtp.stop()  # the mail server is down while the customer pays
    with caplog.at_level(logging.ERROR):
        response = client.post(f"/pay/{link.slug}", data=data)
    assert response.status_code == 303
    assert client.get(response.headers["Location"]).status_code == 200
    [payment] = shop.payments()
    assert payment.state == "succeeded"
    assert payment.receipt_sent_at is None  # owed, not lost
    assert "payment.receipt" in caplog.text

    smtp.start()
    due_now(mailing_app)
    runner = mailing_app.test_cli_runner()
    result = runner.invoke(args=["paylinks", "reconcile"])
    assert result.exit_code == 0, result.output
    assert "1 follow-up handed out again" in result.output
    again = runner.invoke(args=["paylinks", "reconcile"])
    assert "0 follow-ups handed out again" in again.output
    assert len(inbox.messages) == 1
    assert inbox.messages[0]["To"] == "ada@example.com"


def test_a_host_sender_that_raises_loses_no_receipt(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    class FlakySender:
        def __init__(self) -> None:
            self.calls = 0
            self.sent: list[str] = []

        def send_email(
            self, to: str, subject: str, text: str, html: str | None = None
        ) -> Any:
            self.calls += 1
            if self.calls == 1:
                raise ConnectionError("the host's mail API timed out")
            self.sent.append(to)
            return None

    sender = FlakySender()
    app = crm_a.create_app(database_url)
    app.extensions["paylinks"].email = sender
    with app.app_context():
        crm_a.db.create_all()
    shop = Shop(app)
    link = shop.link([{"product": shop.product()}])
    client = app.test_client()
    data = priced(client, link, submission(client, link))
    with caplog.at_level(logging.ERROR):
        assert client.post(f"/pay/{link.slug}", data=data).status_code == 303
    assert shop.payments()[0].receipt_sent_at is None
    due_now(app)
    app.test_cli_runner().invoke(args=["paylinks", "reconcile"])
    app.test_cli_runner().invoke(args=["paylinks", "reconcile"])
    assert sender.sent == ["ada@example.com"]
    assert shop.payments()[0].receipt_sent_at is not None
    with app.app_context():
        crm_a.db.session.remove()
        crm_a.db.engine.dispose()
