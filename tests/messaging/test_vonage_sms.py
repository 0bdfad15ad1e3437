"""The Vonage SMS sender against Vonage's documented answers, faked at the HTTP edge.

The bodies are the SMS API's own (developer.vonage.com, "Troubleshooting
SMS"): ``message-count`` and one ``messages`` entry with a ``status``, and an
``error-text`` when the status is not ``0``. ``responses`` stands in for
Vonage's HTTPS API only; the SDK, its request and its parsing are real.
"""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
import responses

from flask_paylinks.config import apply_defaults
from flask_paylinks.messaging import create_sms_sender
from flask_paylinks.messaging.base import (
    MessageDeferred,
    MessageRejected,
    SenderBlocked,
    SentMessage,
)
from flask_paylinks.messaging.sms import VonageSmsSender

REST_HOST = "vonage.fake.test"
URL = f"https://{REST_HOST}/sms/json"


def _sender() -> VonageSmsSender:
    return VonageSmsSender("abcd1234", "secret123", "AcmeShop", rest_host=REST_HOST)


def _accepted(to: str = "447700900000", **extra: str) -> dict[str, object]:
    message = {
        "to": to,
        "message-id": "0C000000217B7F02",
        "status": "0",
        "remaining-balance": "15.53590000",
        "message-price": "0.03330000",
        "network": "23410",
        **extra,
    }
    return {"message-count": "1", "messages": [message]}


def _refused(status: str, error_text: str) -> dict[str, object]:
    return {
        "message-count": "1",
        "messages": [{"status": status, "error-text": error_text}],
    }


def _form(call: responses.Call) -> dict[str, str]:
    body = call.request.body
    assert isinstance(body, str)
    return {key: values[0] for key, values in parse_qs(body).items()}


@responses.activate
def test_accepted_message_returns_vonage_message_id_and_sends_client_ref() -> None:
    responses.post(URL, json=_accepted(**{"client-ref": "4711"}))

    sent = _sender().send_sms(
        "+447700900000", "Pay here: https://x.test/p/a", client_ref="4711"
    )

    assert sent == SentMessage("0C000000217B7F02")
    form = _form(responses.calls[0])
    assert form["to"] == "447700900000"  # E.164 without the +
    assert form["from"] == "AcmeShop"
    assert form["client-ref"] == "4711"
    assert form["type"] == "text"
    assert form["text"] == "Pay here: https://x.test/p/a"


@responses.activate
def test_gsm_extension_text_stays_text_and_other_text_goes_unicode() -> None:
    responses.post(URL, json=_accepted())
    responses.post(URL, json=_accepted())

    _sender().send_sms("+447700900000", "Only 5€ [today]")
    _sender().send_sms("+447700900000", "Zapłać 😀")

    assert _form(responses.calls[0])["type"] == "text"
    assert _form(responses.calls[1])["type"] == "unicode"


@pytest.mark.parametrize(
    ("status", "error_text"),
    [
        ("1", "Throughput Rate Exceeded - please wait [ 30 ] and retry"),
        ("5", "Internal Error"),
        ("10", "Too many existing binds"),
    ],
)
@responses.activate
def test_throttled_and_internal_errors_are_deferred(
    status: str, error_text: str
) -> None:
    responses.post(URL, json=_refused(status, error_text))

    with pytest.raises(MessageDeferred) as raised:
        _sender().send_sms("+447700900000", "Hi")

    assert raised.value.code == status
    assert raised.value.reason


@pytest.mark.parametrize(
    ("status", "error_text", "says"),
    [
        ("3", "Invalid to address", "invalid"),
        ("6", "Unroutable message - rejected", "route"),
        ("7", "Number barred.", "barred"),
        ("12", "Message too long", "longer"),
        ("22", "Invalid network code", "network"),
        ("29", "Non White-listed Destination - rejected", "allowed destinations"),
        ("33", "Number de-activated", "de-activated"),
    ],
)
@responses.activate
def test_bad_numbers_are_rejected_for_good(
    status: str, error_text: str, says: str
) -> None:
    responses.post(URL, json=_refused(status, error_text))

    with pytest.raises(MessageRejected) as raised:
        _sender().send_sms("+447700900000", "Hi")

    assert raised.value.code == status
    assert says in raised.value.reason


@pytest.mark.parametrize(
    ("status", "error_text", "says"),
    [
        ("4", "Bad Credentials", "PAYLINKS_VONAGE_API_KEY"),
        ("8", "Account suspended", "barred"),
        ("9", "Quota Exceeded - rejected", "out of credit"),
        ("11", "Facility not allowed", "not enabled"),
        ("14", "Invalid Signature", "signature"),
        ("15", "Illegal Sender Address - rejected", "PAYLINKS_SMS_FROM"),
        ("32", "Signature And API Secret Disallowed", "signature and the API secret"),
    ],
)
@responses.activate
def test_account_problems_block_the_sender(
    status: str, error_text: str, says: str
) -> None:
    responses.post(URL, json=_refused(status, error_text))

    with pytest.raises(SenderBlocked) as raised:
        _sender().send_sms("+447700900000", "Hi")

    assert raised.value.code == status
    assert says in raised.value.reason
    # Not a per-message answer: a caller retrying deferred ones must not retry it.
    assert not isinstance(raised.value, MessageDeferred | MessageRejected)


@responses.activate
def test_out_of_credit_reason_is_readable() -> None:
    responses.post(URL, json=_refused("9", "Quota Exceeded - rejected"))

    with pytest.raises(SenderBlocked) as raised:
        _sender().send_sms("+447700900000", "Hi")

    assert raised.value.reason.startswith("Vonage says the account is out of credit")


@responses.activate
def test_http_401_blocks_and_http_500_defers() -> None:
    responses.post(URL, status=401, json={"type": "unauthorized"})
    with pytest.raises(SenderBlocked):
        _sender().send_sms("+447700900000", "Hi")

    responses.replace(responses.POST, URL, status=500, body="oops")
    with pytest.raises(MessageDeferred):
        _sender().send_sms("+447700900000", "Hi")

    responses.replace(responses.POST, URL, status=429, body="slow down")
    with pytest.raises(MessageDeferred):
        _sender().send_sms("+447700900000", "Hi")


@responses.activate
def test_unreachable_vonage_is_deferred() -> None:
    # A connect timeout: nothing reached Vonage, so trying again is safe.
    # (tests/messaging/test_vonage_transport.py does it over a real socket.)
    from requests.exceptions import ConnectTimeout

    responses.post(URL, body=ConnectTimeout("connect timed out"))
    with pytest.raises(MessageDeferred):
        _sender().send_sms("+447700900000", "Hi")


@responses.activate
def test_rest_host_comes_from_config() -> None:
    responses.post("https://127.0.0.1:8443/sms/json", json=_accepted())
    config: dict[str, object] = {
        "PAYLINKS_SMS_BACKEND": "vonage",
        "PAYLINKS_VONAGE_API_KEY": "abcd1234",
        "PAYLINKS_VONAGE_API_SECRET": "secret123",
        "PAYLINKS_SMS_FROM": "AcmeShop",
        "PAYLINKS_VONAGE_REST_HOST": "127.0.0.1:8443",
    }
    apply_defaults(config)

    sender = create_sms_sender(config)
    assert (
        sender.send_sms("+447700900000", "Hi").provider_message_id == "0C000000217B7F02"
    )


# -- signed callbacks ----------------------------------------------------------

_PARAMS = {
    "msisdn": "447700900001",
    "to": "447700900000",
    "messageId": "0A0000000123ABCD1",
    "text": "STOP & go = now",
    "type": "text",
    "keyword": "STOP",
    "message-timestamp": "2020-01-01 12:00:00",
    "timestamp": "1700000000",
    "nonce": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
}


@pytest.mark.parametrize("method", ["md5", "sha1", "sha256", "sha512"])
def test_hmac_signatures_match_the_vonage_sdk_signer(method: str) -> None:
    from vonage_http_client.auth import Auth

    from flask_paylinks.messaging.sms import sign, verify_signature

    sdk = Auth(api_key="k", signature_secret="s3cret", signature_method=method)  # type: ignore[arg-type]
    expected = sdk.sign_params(dict(_PARAMS))
    assert sign(_PARAMS, "s3cret", method) == expected.upper()

    signed = {**_PARAMS, "sig": expected.upper()}
    assert verify_signature(signed, "s3cret", method, now=1700000000)
    assert verify_signature(
        {**signed, "sig": expected.lower()}, "s3cret", method, now=1700000000
    )


def test_md5hash_is_md5_of_the_sorted_string_and_the_secret() -> None:
    import hashlib

    from flask_paylinks.messaging.sms import sign, verify_signature

    params = {"b": "x=y", "a": "1&2", "timestamp": "1700000000"}
    source = "&a=1_2&b=x_y&timestamp=1700000000s3cret"
    expected = hashlib.md5(source.encode(), usedforsecurity=False).hexdigest().upper()
    assert sign(params, "s3cret", "md5hash") == expected
    assert verify_signature(
        {**params, "sig": expected}, "s3cret", "md5hash", now=1700000100
    )


@pytest.mark.parametrize("method", ["md5hash", "sha256"])
def test_a_tampered_wrongly_signed_or_stale_callback_fails(method: str) -> None:
    from flask_paylinks.messaging.sms import sign, verify_signature

    signed = {**_PARAMS, "sig": sign(_PARAMS, "s3cret", method)}
    now = 1700000000
    assert verify_signature(signed, "s3cret", method, now=now)
    assert not verify_signature({**signed, "text": "START"}, "s3cret", method, now=now)
    assert not verify_signature(signed, "other", method, now=now)
    assert not verify_signature({**_PARAMS}, "s3cret", method, now=now)  # unsigned
    assert not verify_signature(signed, "s3cret", method, now=now + 301)
    assert not verify_signature(signed, "s3cret", method, now=now - 301)
    assert verify_signature(signed, "s3cret", method, now=now + 299)
    no_stamp = {k: v for k, v in _PARAMS.items() if k != "timestamp"}
    assert not verify_signature(
        {**no_stamp, "sig": sign(no_stamp, "s3cret", method)}, "s3cret", method, now=now
    )
