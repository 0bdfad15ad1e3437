"""What a lost connection to Vonage means: retry before sending, never after.

The real Vonage SDK talks HTTPS to the fake of :mod:`tests.fake_vonage`.
"""

from __future__ import annotations

import pytest

from flask_paylinks.messaging.base import MessageDeferred, MessageInDoubt
from flask_paylinks.messaging.sms import VonageSmsSender

from ..fake_vonage import fake_vonage
from ..services import free_port


def test_an_answer_lost_after_sending_is_in_doubt_not_retried() -> None:
    with fake_vonage() as fake:
        fake.latency = 3.0  # Vonage takes the SMS, the answer comes too late
        sender = VonageSmsSender(
            "abcd1234", "secret123", "AcmeShop", rest_host=fake.rest_host, timeout=1
        )
        with pytest.raises(MessageInDoubt) as doubt:
            sender.send_sms("+14155550101", "Pay: https://x.test/p/a")
        assert len(fake.received) == 1
    assert "not sent again" in doubt.value.reason


def test_a_refused_connection_is_retried_later() -> None:
    with fake_vonage():
        sender = VonageSmsSender(
            "abcd1234",
            "secret123",
            "AcmeShop",
            rest_host=f"127.0.0.1:{free_port()}",  # nothing listens
            timeout=2,
        )
        with pytest.raises(MessageDeferred):
            sender.send_sms("+14155550101", "Pay: https://x.test/p/a")
