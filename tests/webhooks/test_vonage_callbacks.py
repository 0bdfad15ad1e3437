"""Vonage's delivery receipts and inbound SMS, posted to the app as Vonage posts them.

The parameters are those of Vonage's SMS API webhooks (``messageId``,
``status``, ``err-code``, ``client-ref``, ``message-timestamp``…; inbound
``msisdn``, ``to``, ``text``, ``keyword``…), signed with Vonage's scheme
(sorted ``&key=value``, HMAC or MD5 hash, upper-case hex, ``timestamp``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from flask_paylinks import signals
from flask_paylinks.contacts import Contact, InMemoryContactDirectory
from flask_paylinks.db.models import Recipient
from flask_paylinks.db.session import session
from flask_paylinks.messaging.sms import sign

from ..factories import make_recipient, make_send
from ..hosts import crm_a

SECRET = "sig-secret-0123456789abcdef"
STATUS = "/paylinks/webhooks/vonage/status"
INBOUND = "/paylinks/webhooks/vonage/inbound"


def _app(database_url: str, **config: Any) -> Flask:
    app = crm_a.create_app(database_url, **config)
    with app.app_context():
        crm_a.db.create_all()
    return app


@pytest.fixture
def signed_app(database_url: str) -> Iterator[Flask]:
    """Host A with a Vonage signature secret (SHA-256 HMAC) configured."""
    app = _app(
        database_url,
        PAYLINKS_VONAGE_SIGNATURE_SECRET=SECRET,
        PAYLINKS_VONAGE_SIGNATURE_METHOD="sha256",
    )
    yield app
    with app.app_context():
        crm_a.db.session.remove()
        crm_a.db.engine.dispose()


def signed(params: dict[str, str], *, method: str = "sha256") -> dict[str, str]:
    """*params* as Vonage sends them signed: with ``timestamp`` and ``sig``."""
    stamped = {**params, "timestamp": str(int(time.time()))}
    return {**stamped, "sig": sign(stamped, SECRET, method)}


def receipt(recipient: Recipient, status: str, err_code: str = "0") -> dict[str, str]:
    """A delivery receipt for *recipient*, as Vonage's documentation shows one."""
    return {
        "msisdn": (recipient.address or "").lstrip("+"),
        "to": "AcmeShop",
        "network-code": "310090",
        "messageId": recipient.provider_message_id or "",
        "price": "0.00570000",
        "status": status,
        "scts": "2001011400",
        "err-code": err_code,
        "api-key": "abcd1234",
        "client-ref": str(recipient.id),
        "message-timestamp": "2020-01-01 12:00:00",
    }


def inbound(msisdn: str, text: str) -> dict[str, str]:
    """An inbound SMS as Vonage posts it (the msisdn has no +)."""
    return {
        "msisdn": msisdn,
        "to": "14155550000",
        "messageId": "0A0000001234567B",
        "text": text,
        "type": "text",
        "keyword": text.split()[0].upper() if text.split() else "",
        "api-key": "abcd1234",
        "message-timestamp": "2020-01-01 12:00:00",
    }


def _state(recipient_id: int) -> Recipient:
    session().expire_all()
    row = session().get(Recipient, recipient_id)
    assert row is not None
    return row


class Heard:
    """Receivers of the two delivery signals, kept for the test's length."""

    def __init__(self, app: Flask) -> None:
        self.delivered: list[int] = []
        self.failed: list[tuple[int, str]] = []
        signals.message_delivered.connect(self.on_delivered, app)
        signals.message_failed.connect(self.on_failed, app)

    def on_delivered(self, app: Flask, recipient: Recipient, **extra: Any) -> None:
        self.delivered.append(recipient.id)

    def on_failed(
        self, app: Flask, recipient: Recipient, reason: str, **extra: Any
    ) -> None:
        assert extra["contact_id"] == recipient.contact_id
        assert extra["to"] == recipient.address
        assert extra["channel"] == "sms"
        self.failed.append((recipient.id, reason))

    def disconnect(self) -> None:
        signals.message_delivered.disconnect(self.on_delivered)
        signals.message_failed.disconnect(self.on_failed)


@pytest.fixture
def heard(signed_app: Flask) -> Iterator[Heard]:
    listener = Heard(signed_app)
    yield listener
    listener.disconnect()


# -- delivery receipts -------------------------------------------------------------


def test_delivered_receipt_marks_the_recipient_delivered(
    signed_app: Flask, heard: Heard
) -> None:
    client = signed_app.test_client()
    with signed_app.app_context():
        recipient = make_recipient("1", make_send("1"))
        response = client.post(STATUS, data=signed(receipt(recipient, "delivered")))
        assert response.status_code == 200
        row = _state(recipient.id)
        assert row.state == "delivered"
        assert row.delivered_at is not None
        assert row.delivered_at.strftime("%Y-%m-%d %H:%M:%S") == "2020-01-01 12:00:00"
        assert heard.delivered == [recipient.id]


@pytest.mark.parametrize(
    ("status", "err_code", "reason"),
    [
        (
            "failed",
            "3",
            "Failed: The number is not in use (absent subscriber, permanent)",
        ),
        ("expired", "2", "Expired: The phone was off or out of reach"),
        ("rejected", "6", "Rejected: The carrier rejected it as spam"),
        ("failed", "4711", "Failed: The carrier reported error 4711"),
    ],
)
def test_failed_expired_rejected_receipts_fail_with_a_readable_reason(
    signed_app: Flask, heard: Heard, status: str, err_code: str, reason: str
) -> None:
    client = signed_app.test_client()
    with signed_app.app_context():
        recipient = make_recipient("1", make_send("1"))
        response = client.post(
            STATUS, data=signed(receipt(recipient, status, err_code))
        )
        assert response.status_code == 200
        row = _state(recipient.id)
        assert row.state == "failed"
        assert row.failed_at is not None
        assert row.reason is not None
        assert row.reason.startswith(reason)
        assert heard.failed == [(recipient.id, row.reason)]


def test_a_delivered_recipient_never_moves_back(
    signed_app: Flask, heard: Heard
) -> None:
    client = signed_app.test_client()
    with signed_app.app_context():
        recipient = make_recipient("1", make_send("1"))
        client.post(STATUS, data=signed(receipt(recipient, "delivered")))
        for later in ("failed", "expired", "accepted", "buffered", "unknown"):
            response = client.post(STATUS, data=signed(receipt(recipient, later, "1")))
            assert response.status_code == 200
        assert _state(recipient.id).state == "delivered"
        assert heard.delivered == [recipient.id]
        assert heard.failed == []


def test_accepted_and_buffered_change_nothing(signed_app: Flask, heard: Heard) -> None:
    client = signed_app.test_client()
    with signed_app.app_context():
        recipient = make_recipient("1", make_send("1"))
        for status in ("accepted", "buffered", "unknown"):
            client.post(STATUS, data=signed(receipt(recipient, status)))
        assert _state(recipient.id).state == "sent"
        assert heard.delivered == heard.failed == []


def test_a_failed_recipient_may_still_turn_out_delivered(
    signed_app: Flask, heard: Heard
) -> None:
    client = signed_app.test_client()
    with signed_app.app_context():
        recipient = make_recipient("1", make_send("1"))
        client.post(STATUS, data=signed(receipt(recipient, "failed", "8")))
        client.post(STATUS, data=signed(receipt(recipient, "delivered")))
        row = _state(recipient.id)
        assert (row.state, row.reason) == ("delivered", None)


def test_receipt_before_the_message_id_is_recorded_finds_the_row_by_client_ref(
    signed_app: Flask,
) -> None:
    client = signed_app.test_client()
    with signed_app.app_context():
        # As a worker leaves it while Vonage answers: claimed, no id yet.
        recipient = make_recipient(
            "1",
            make_send("1"),
            provider_message_id=None,
            state="queued",
            claim="worker-claim",
        )
        params = {**receipt(recipient, "delivered"), "messageId": "0B00000127FDBC63"}
        assert client.post(STATUS, data=signed(params)).status_code == 200
        row = _state(recipient.id)
        assert (row.state, row.provider_message_id) == ("delivered", "0B00000127FDBC63")


def test_a_receipt_never_settles_a_message_still_waiting_to_be_sent(
    signed_app: Flask,
) -> None:
    client = signed_app.test_client()
    with signed_app.app_context():
        waiting = make_recipient(
            "1", make_send("1"), provider_message_id=None, state="queued"
        )
        params = {**receipt(waiting, "delivered"), "messageId": "0B00000127FDBC64"}
        assert client.post(STATUS, data=signed(params)).status_code == 200
        row = _state(waiting.id)
        assert (row.state, row.provider_message_id) == ("queued", None)


def test_unknown_message_is_logged_and_answered_200(
    signed_app: Flask, heard: Heard, caplog: pytest.LogCaptureFixture
) -> None:
    client = signed_app.test_client()
    with signed_app.app_context():
        recipient = make_recipient("1", make_send("1"))
        params = {
            **receipt(recipient, "delivered"),
            "messageId": "0C00000000000000",
            "client-ref": "999999",
        }
        with caplog.at_level(logging.INFO, logger="flask_paylinks.sends.callbacks"):
            response = client.post(STATUS, data=signed(params))
        assert response.status_code == 200
        assert "unknown message 0C00000000000000" in caplog.text
        assert _state(recipient.id).state == "sent"
        assert heard.delivered == []


def test_get_query_and_json_receipts_are_accepted(signed_app: Flask) -> None:
    client = signed_app.test_client()
    with signed_app.app_context():
        send = make_send("1")
        by_get = make_recipient("1", send)
        by_json = make_recipient("1", send)
        assert (
            client.get(
                STATUS, query_string=signed(receipt(by_get, "delivered"))
            ).status_code
            == 200
        )
        assert (
            client.post(STATUS, json=signed(receipt(by_json, "delivered"))).status_code
            == 200
        )
        assert _state(by_get.id).state == "delivered"
        assert _state(by_json.id).state == "delivered"


@pytest.mark.parametrize("how", ["unsigned", "wrong secret", "tampered", "stale"])
def test_a_bad_signature_is_refused_and_writes_nothing(
    signed_app: Flask, heard: Heard, how: str
) -> None:
    client = signed_app.test_client()
    with signed_app.app_context():
        recipient = make_recipient("1", make_send("1"))
        params = receipt(recipient, "failed", "3")
        if how == "unsigned":
            sent = params
        elif how == "wrong secret":
            stamped = {**params, "timestamp": str(int(time.time()))}
            sent = {**stamped, "sig": sign(stamped, "not-the-secret")}
        elif how == "tampered":
            sent = {**signed(receipt(recipient, "delivered")), "status": "failed"}
        else:
            stamped = {**params, "timestamp": str(int(time.time()) - 600)}
            sent = {**stamped, "sig": sign(stamped, SECRET)}
        response = client.post(STATUS, data=sent)
        assert response.status_code == 401
        assert _state(recipient.id).state == "sent"
        assert heard.failed == []


def test_md5hash_signatures_when_configured(database_url: str) -> None:
    app = _app(
        database_url,
        PAYLINKS_VONAGE_SIGNATURE_SECRET=SECRET,
        PAYLINKS_VONAGE_SIGNATURE_METHOD="md5hash",
    )
    client = app.test_client()
    with app.app_context():
        recipient = make_recipient("1", make_send("1"))
        params = signed(receipt(recipient, "delivered"), method="md5hash")
        assert (
            client.post(
                STATUS, data=signed(receipt(recipient, "delivered"))
            ).status_code
            == 401
        )
        assert client.post(STATUS, data=params).status_code == 200
        assert _state(recipient.id).state == "delivered"
        crm_a.db.session.remove()
        crm_a.db.engine.dispose()


def test_without_a_secret_unsigned_callbacks_are_taken(host_a: Flask) -> None:
    client = host_a.test_client()
    with host_a.app_context():
        recipient = make_recipient("1", make_send("1"))
        assert (
            client.post(STATUS, data=receipt(recipient, "delivered")).status_code == 200
        )
        assert _state(recipient.id).state == "delivered"


def test_vonage_backend_without_a_secret_warns_at_start_up(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    config = {
        "PAYLINKS_SMS_BACKEND": "vonage",
        "PAYLINKS_VONAGE_API_KEY": "abcd1234",
        "PAYLINKS_VONAGE_API_SECRET": "secret",
        "PAYLINKS_SMS_FROM": "AcmeShop",
    }
    with caplog.at_level(logging.WARNING, logger="flask_paylinks.web.webhooks"):
        app = crm_a.create_app(database_url, **config)
    assert "PAYLINKS_VONAGE_SIGNATURE_SECRET is not set" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="flask_paylinks.web.webhooks"):
        crm_a.create_app(
            database_url, **config, PAYLINKS_VONAGE_SIGNATURE_SECRET=SECRET
        )
    assert "PAYLINKS_VONAGE_SIGNATURE_SECRET" not in caplog.text
    with app.app_context():
        crm_a.db.engine.dispose()


def test_callbacks_pass_a_host_csrf_protection(database_url: str) -> None:
    from flask_wtf.csrf import CSRFProtect

    app = _app(database_url, WTF_CSRF_ENABLED=True)
    CSRFProtect(app)  # after PayLinks, as many hosts do
    client = app.test_client()
    with app.app_context():
        recipient = make_recipient("1", make_send("1"))
        response = client.post(STATUS, data=receipt(recipient, "delivered"))
        assert response.status_code == 200
        assert _state(recipient.id).state == "delivered"
        crm_a.db.session.remove()
        crm_a.db.engine.dispose()


# -- inbound STOP / START ---------------------------------------------------------


def _customer(account: int, mobile: str, **fields: Any) -> crm_a.Customer:
    row = crm_a.Customer(
        account_id=account, full_name="Ann Example", mobile=mobile, **fields
    )
    crm_a.db.session.add(row)
    crm_a.db.session.commit()
    return row


def test_stop_opts_the_number_out_for_every_owner_and_skips_queued_messages(
    signed_app: Flask,
) -> None:
    client = signed_app.test_client()
    phone = "+14155550101"
    with signed_app.app_context():
        ann_1 = _customer(1, phone, email="ann@example.test")
        ann_2 = _customer(2, phone)
        bob = _customer(1, "+14155550102")
        send_1, send_2 = make_send("1"), make_send("2")
        sent = make_recipient("1", send_1, contact_id=str(ann_1.id), address=phone)
        queued_1 = make_recipient(
            "1",
            make_send("1", state="queued"),
            contact_id=str(ann_1.id),
            address=phone,
            state="queued",
            provider_message_id=None,
        )
        queued_2 = make_recipient(
            "2",
            send_2,
            contact_id=str(ann_2.id),
            address=phone,
            state="queued",
            provider_message_id=None,
        )
        bob_queued = make_recipient(
            "1",
            send_1,
            contact_id=str(bob.id),
            address="+14155550102",
            state="queued",
            provider_message_id=None,
        )

        response = client.post(
            INBOUND, data=signed(inbound("14155550101", "Stop please"))
        )

        assert response.status_code == 200
        crm_a.db.session.expire_all()
        assert crm_a.db.session.get(crm_a.Customer, ann_1.id).do_not_text is True
        assert crm_a.db.session.get(crm_a.Customer, ann_2.id).do_not_text is True
        assert crm_a.db.session.get(crm_a.Customer, bob.id).do_not_text is False
        # The opt-out went through the directory, as the host reads it.
        directory = signed_app.extensions["paylinks"].contacts
        assert directory.get("1", str(ann_1.id)).sms_ok is False
        assert (_state(queued_1.id).state, _state(queued_1.id).reason) == (
            "skipped",
            "opted out",
        )
        assert _state(queued_2.id).state == "skipped"
        assert _state(sent.id).state == "sent"
        assert _state(bob_queued.id).state == "queued"
        # Nothing else about the contacts changed, and nobody new was created.
        assert (
            crm_a.db.session.get(crm_a.Customer, ann_1.id).email == "ann@example.test"
        )
        assert len(crm_a.db.session.scalars(select(crm_a.Customer)).all()) == 3


@pytest.mark.parametrize(
    "word", ["STOP", "stopall", "Unsubscribe", "CANCEL", "end", "QUIT"]
)
def test_every_stop_word_opts_out(signed_app: Flask, word: str) -> None:
    client = signed_app.test_client()
    with signed_app.app_context():
        ann = _customer(1, "+14155550101")
        make_recipient(
            "1", make_send("1"), contact_id=str(ann.id), address="+14155550101"
        )
        client.post(INBOUND, data=signed(inbound("14155550101", word)))
        crm_a.db.session.expire_all()
        assert crm_a.db.session.get(crm_a.Customer, ann.id).do_not_text is True


def test_start_opts_back_in_and_other_text_changes_nothing(signed_app: Flask) -> None:
    client = signed_app.test_client()
    with signed_app.app_context():
        ann = _customer(1, "+14155550101", do_not_text=True)
        queued = make_recipient(
            "1",
            make_send("1"),
            contact_id=str(ann.id),
            address="+14155550101",
            state="queued",
            provider_message_id=None,
        )
        client.post(
            INBOUND, data=signed(inbound("14155550101", "Where is my order? STOP"))
        )
        crm_a.db.session.expire_all()
        assert crm_a.db.session.get(crm_a.Customer, ann.id).do_not_text is True
        assert _state(queued.id).state == "queued"

        client.post(INBOUND, data=signed(inbound("14155550101", "START")))
        crm_a.db.session.expire_all()
        assert crm_a.db.session.get(crm_a.Customer, ann.id).do_not_text is False


def test_stop_from_an_unknown_number_is_logged_and_answered_200(
    signed_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    client = signed_app.test_client()
    with signed_app.app_context():
        ann = _customer(1, "+14155550101")
        with caplog.at_level(logging.INFO, logger="flask_paylinks.sends.callbacks"):
            response = client.post(INBOUND, data=signed(inbound("14155559999", "STOP")))
        assert response.status_code == 200
        assert "no send has messaged" in caplog.text
        crm_a.db.session.expire_all()
        assert crm_a.db.session.get(crm_a.Customer, ann.id).do_not_text is False


def test_unsigned_stop_is_refused_when_a_secret_is_set(signed_app: Flask) -> None:
    client = signed_app.test_client()
    with signed_app.app_context():
        ann = _customer(1, "+14155550101")
        queued = make_recipient(
            "1",
            make_send("1"),
            contact_id=str(ann.id),
            address="+14155550101",
            state="queued",
            provider_message_id=None,
        )
        response = client.post(INBOUND, data=inbound("14155550101", "STOP"))
        assert response.status_code == 401
        crm_a.db.session.expire_all()
        assert crm_a.db.session.get(crm_a.Customer, ann.id).do_not_text is False
        assert _state(queued.id).state == "queued"


def test_in_memory_directory_records_the_opt_out() -> None:
    directory = InMemoryContactDirectory(
        contacts={"1": {"7": Contact(id="7", name="Ann", phone="+14155550101")}}
    )
    out = directory.upsert(
        "1", name="", email=None, phone="+14155550101", address=None, sms_ok=False
    )
    assert (out.id, out.sms_ok, out.name) == ("7", False, "Ann")
    back = directory.upsert(
        "1", name="", email=None, phone="+14155550101", address=None, sms_ok=True
    )
    assert back.sms_ok is True
    same = directory.upsert(
        "1", name="", email=None, phone="+14155550101", address=None
    )
    assert same.sms_ok is True


def test_the_callback_urls_answer_on_the_default_host(client: FlaskClient) -> None:
    """The default host answers the callback URLs (no secret): a smoke check."""
    assert client.get(STATUS).status_code == 200
    assert client.post(INBOUND, data={"text": "hi"}).status_code == 200
