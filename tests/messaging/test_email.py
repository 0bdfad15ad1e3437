"""The SMTP email sender against a real SMTP server (aiosmtpd) started here."""

from __future__ import annotations

import email
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any, cast

import pytest
from aiosmtpd.controller import Controller

from flask_paylinks.messaging.base import MessageDeferred
from flask_paylinks.messaging.email import (
    SmtpEmailSender,
    branded_html,
    unsubscribe_headers,
)

from ..services import free_port


class Inbox:
    """An aiosmtpd handler that keeps every message and its envelope."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=default_policy)
        self.messages.append(cast(EmailMessage, parsed))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def _part(message: EmailMessage, kind: str) -> str:
    body = message.get_body(preferencelist=(kind,))
    assert body is not None, f"no {kind} part"
    return str(cast(EmailMessage, body).get_content())


def test_text_and_html_parts_from_the_merchant_with_one_click_unsubscribe(
    smtp: tuple[Inbox, int],
) -> None:
    inbox, port = smtp
    sender = SmtpEmailSender("127.0.0.1", port, "pay@acme.test")
    text = "Hi Ann <b>,\n\nPay here: https://crm.test/pay/p/abc?x=1&y=2\n\nThanks"
    html = branded_html(
        text,
        merchant='Acme "Tools" & Co',
        brand_color="#FACC15",
        button_url="https://crm.test/pay/p/abc?x=1&y=2",
    )
    headers = unsubscribe_headers(
        mailto="unsubscribe@acme.test", url="https://crm.test/paylinks/u/abc"
    )

    sent = sender.send_email(
        "ann@example.test",
        "Your invoice",
        text,
        html,
        from_name='Acme "Tools" & Co',
        headers=headers,
    )

    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["Message-ID"] == sent.provider_message_id
    assert inbox.envelopes[0] == ("pay@acme.test", ["ann@example.test"])
    from_ = message["From"]
    assert from_.addresses[0].display_name == 'Acme "Tools" & Co'
    assert from_.addresses[0].addr_spec == "pay@acme.test"
    assert message["List-Unsubscribe"].strip() == (
        "<https://crm.test/paylinks/u/abc>, <mailto:unsubscribe@acme.test>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Hi Ann <b>," in _part(message, "plain")
    body = _part(message, "html")
    assert "Hi Ann &lt;b&gt;," in body
    assert "<b>," not in body
    assert "Acme &quot;Tools&quot; &amp; Co" in body
    assert "background:#FACC15;color:#111827" in body  # dark ink on a light brand
    assert 'href="https://crm.test/pay/p/abc?x=1&amp;y=2"' in body


def test_mailto_only_unsubscribe_has_no_one_click_post() -> None:
    assert unsubscribe_headers(mailto="stop@acme.test") == {
        "List-Unsubscribe": "<mailto:stop@acme.test>"
    }
    assert unsubscribe_headers() == {}


def test_a_bad_brand_colour_never_reaches_the_style() -> None:
    html = branded_html("Hi", merchant="Acme", brand_color="#fff;background:url(x)")
    assert "url(x)" not in html
    assert "background:#4F46E5;color:#ffffff" in html


def test_old_callers_still_send_plain_from(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    sender = SmtpEmailSender("127.0.0.1", port, "receipts@acme.test")

    sender.send_email("bob@example.test", "Receipt", "Thanks", "<p>Thanks</p>")

    message = inbox.messages[0]
    assert str(message["From"]) == "receipts@acme.test"
    assert message["List-Unsubscribe"] is None
    assert _part(message, "html").strip() == "<p>Thanks</p>"


def test_no_server_defers() -> None:
    sender = SmtpEmailSender("127.0.0.1", free_port(), "pay@acme.test", timeout=2)
    with pytest.raises(MessageDeferred):
        sender.send_email("ann@example.test", "Hi", "text")
