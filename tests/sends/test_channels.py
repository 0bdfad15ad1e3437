"""A send by email through a real SMTP server, and an SMS's delivery receipt."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import cast

import pytest

from flask_paylinks.messaging.sms import sign
from flask_paylinks.sends import service, tracking
from flask_paylinks.sends.service import Message, Selection

from ..fake_vonage import FakeVonage, fake_vonage, vonage_config
from ..messaging.test_email import Inbox, _part, smtp  # noqa: F401 (fixture)
from .helpers import OWNER, a_link, add_people, hosted, link_of
from .helpers import recipients as recipient_rows

SECRET = "vonage-signature-secret"


@pytest.fixture
def fake() -> Iterator[FakeVonage]:
    with fake_vonage() as running:
        yield running


def test_an_email_send_arrives_branded_with_the_personal_url_and_unsubscribe(
    database_url: str,
    smtp: tuple[Inbox, int],  # noqa: F811
) -> None:
    inbox, port = smtp
    config = {
        "PAYLINKS_EMAIL_BACKEND": "smtp",
        "PAYLINKS_SMTP_HOST": "127.0.0.1",
        "PAYLINKS_SMTP_PORT": port,
        "PAYLINKS_EMAIL_FROM": "billing@acme.test",
    }
    with hosted(database_url, **config) as app:
        people = add_people(
            app,
            [
                {"full_name": "Ada Lovelace", "email": "ada@example.com"},
                {"full_name": "No Email", "mobile": "+14155550102"},
            ],
        )
        link_id = a_link(app, brand_color="#7c3aed")
        with app.test_request_context():
            service.start_send(
                OWNER,
                link_of(link_id),
                Selection(segment_ids=(str(people.tag_id),)),
                ["email"],
                Message(
                    email_subject="{first_name}, your {link_name} pass",
                    email_body="Hello {name},\n\nPay for your class here: {link}",
                ),
            )
        rows = {row.name: row for row in recipient_rows(app)}
    assert (rows["No Email"].state, rows["No Email"].reason) == ("skipped", "no email")
    [message] = inbox.messages
    ada = rows["Ada Lovelace"]
    url = f"https://crm.example.test/pay/p/{ada.token}"
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Ada, your Yoga pass"
    assert message["From"] == "Acme Fitness <billing@acme.test>"
    assert message["List-Unsubscribe"] == "<mailto:help@acme.test>"
    assert _part(message, "plain").strip().endswith(url)
    html = _part(message, "html")
    assert url in html
    assert "#7c3aed" in html.lower()
    assert ada.state == "sent"
    assert ada.provider_message_id == cast(str, message["Message-ID"])


def test_a_signed_delivery_receipt_marks_the_sent_message_delivered(
    database_url: str, fake: FakeVonage
) -> None:
    config = {**vonage_config(fake), "PAYLINKS_VONAGE_SIGNATURE_SECRET": SECRET}
    with hosted(database_url, **config) as app:
        people = add_people(app, [{"full_name": "Ada", "mobile": "+14155550101"}])
        link_id = a_link(app)
        with app.test_request_context():
            send_id = service.start_send(
                OWNER,
                link_of(link_id),
                Selection(segment_ids=(str(people.tag_id),)),
                ["sms"],
                Message(sms_body="Pay: {link}"),
            ).id
        [sent] = recipient_rows(app)
        receipt = {
            "msisdn": "14155550101",
            "to": "AcmeShop",
            "network-code": "310090",
            "messageId": sent.provider_message_id or "",
            "price": "0.00570000",
            "status": "delivered",
            "scts": "2611262350",
            "err-code": "0",
            "api-key": "abcd1234",
            "client-ref": str(sent.id),
            "message-timestamp": "2026-11-26 23:50:00",
            "timestamp": str(int(time.time())),
        }
        answer = app.test_client().post(
            "/paylinks/webhooks/vonage/status",
            data={**receipt, "sig": sign(receipt, SECRET)},
        )
        assert answer.status_code == 200
        [row] = recipient_rows(app)
        assert row.state == "delivered"
        assert row.delivered_at is not None
        with app.app_context():
            funnel = tracking.funnel(OWNER, link_of(link_id), send_id)
        assert (funnel.sent, funnel.delivered) == (1, 1)
