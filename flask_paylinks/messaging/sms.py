"""SMS through Vonage's SMS API, and Vonage's signed callbacks.

Only this package imports :mod:`vonage`. Each per-message status the SMS API
answers is mapped onto what the caller should do (see
:mod:`flask_paylinks.messaging.base` and the table in :doc:`/messaging`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from typing import Any, Literal

from flask_paylinks.core.message_text import sms_segments
from flask_paylinks.messaging.base import (
    MessageDeferred,
    MessageInDoubt,
    MessageRejected,
    SenderBlocked,
    SentMessage,
)

#: SMS API statuses worth trying again with back-off: throttled, internal
#: error, too many binds.
DEFERRED_STATUSES: dict[str, str] = {
    "1": "Vonage is throttling: messages are sent faster than the account allows.",
    "5": "Vonage had an internal error with this message.",
    "10": "Vonage has too many open connections for this account.",
}

#: SMS API statuses that fail this recipient for good.
REJECTED_STATUSES: dict[str, str] = {
    "2": "Vonage says a required parameter is missing.",
    "3": "Vonage says the phone number or a parameter is invalid.",
    "6": "Vonage could not route the message (an unrecognised number prefix).",
    "7": "The number is barred from receiving messages.",
    "12": "The message is longer than Vonage allows.",
    "22": "Vonage does not recognise the recipient's network.",
    "29": (
        "The number is not on the account's list of allowed destinations "
        "(a Vonage trial account may only text numbers added to it)."
    ),
    "33": "The number has been de-activated.",
}

#: SMS API statuses that stop every message until a person acts.
BLOCKED_STATUSES: dict[str, str] = {
    "4": (
        "Vonage refused the API key and secret (invalid credentials). Check "
        "PAYLINKS_VONAGE_API_KEY and PAYLINKS_VONAGE_API_SECRET."
    ),
    "8": "Vonage says the account is barred (suspended). Contact Vonage support.",
    "9": (
        "Vonage says the account is out of credit. Top up the Vonage account, "
        "then resume the send."
    ),
    "11": (
        "Vonage says the account is not enabled for the SMS REST API. Ask "
        "Vonage support to enable it."
    ),
    "14": "Vonage refused the request's signature (invalid signature).",
    "15": (
        "Vonage refused the sender id in PAYLINKS_SMS_FROM (invalid sender "
        "address); some countries, such as the US, need a Vonage number."
    ),
    "32": (
        "Vonage does not allow both a signature and the API secret on this account."
    ),
}

#: Delivery receipt ``err-code`` values, said for a person.
DELIVERY_ERRORS: dict[str, str] = {
    "0": "Delivered",
    "1": "Unknown error from the carrier",
    "2": "The phone was off or out of reach (absent subscriber, temporary)",
    "3": "The number is not in use (absent subscriber, permanent)",
    "4": "The recipient has barred messages",
    "5": "The number was ported and could not be reached (portability error)",
    "6": "The carrier rejected it as spam",
    "7": "The handset was busy",
    "8": "A network error",
    "9": "The number is not valid (illegal number)",
    "10": "The carrier refused the message (illegal message)",
    "11": "The number cannot be reached (unroutable)",
    "12": "The destination cannot be reached",
    "13": "The subscriber is under an age restriction",
    "14": "The carrier blocked the number",
    "15": "The prepaid account has no credit",
    "99": "A general error at the carrier",
}

_STATUS = re.compile(r"error code (\d+)")

SignatureMethod = Literal["md5hash", "md5", "sha1", "sha256", "sha512"]
SIGNATURE_METHODS: tuple[str, ...] = ("md5hash", "md5", "sha1", "sha256", "sha512")

#: How far a signed callback's ``timestamp`` may be from now, in seconds.
SIGNATURE_MAX_AGE = 300


def delivery_error_text(err_code: str | None) -> str:
    """A delivery receipt's ``err-code`` said for a person."""
    code = (err_code or "").strip()
    known = DELIVERY_ERRORS.get(code)
    if known is not None:
        return known
    return (
        f"The carrier reported error {code}" if code else "The carrier gave no reason"
    )


def answer_for_status(status: str, error_text: str = "") -> Exception:
    """The exception one non-zero SMS API message *status* stands for."""
    if status in DEFERRED_STATUSES:
        return MessageDeferred(DEFERRED_STATUSES[status], code=status)
    if status in BLOCKED_STATUSES:
        return SenderBlocked(BLOCKED_STATUSES[status], code=status)
    if status in REJECTED_STATUSES:
        return MessageRejected(REJECTED_STATUSES[status], code=status)
    detail = f": {error_text}" if error_text else ""
    return MessageRejected(
        f"Vonage refused the message (status {status}){detail}.", code=status
    )


class VonageSmsSender:
    """Sends SMS with the Vonage SDK (``client.sms.send``).

    :param rest_host: the host of the SMS API (``PAYLINKS_VONAGE_REST_HOST``);
        ``None`` is Vonage itself. The SDK always speaks HTTPS to it.
    """

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        sender: str,
        *,
        rest_host: str | None = None,
        timeout: int = 10,
    ) -> None:
        from vonage import Auth, HttpClientOptions, Vonage

        options: dict[str, Any] = {"timeout": timeout}
        if rest_host:
            options["rest_host"] = rest_host
        self.sender = sender
        self.client = Vonage(
            Auth(api_key=api_key, api_secret=api_secret),
            HttpClientOptions(**options),
        )

    def send_sms(
        self, to: str, body: str, *, client_ref: str | None = None
    ) -> SentMessage:
        """Send one message; raise MessageRejected, MessageDeferred or SenderBlocked."""
        from pydantic import ValidationError
        from requests import RequestException
        from vonage_http_client.errors import (
            AuthenticationError,
            ForbiddenError,
            HttpRequestError,
        )
        from vonage_sms import SmsMessage
        from vonage_sms.errors import SmsError

        kind = "text" if sms_segments(body).encoding == "GSM-7" else "unicode"
        try:
            message = SmsMessage(
                to=to.lstrip("+"),
                from_=self.sender.lstrip("+"),
                text=body,
                type=kind,
                client_ref=client_ref,
            )
            response = self.client.sms.send(message)
        except ValidationError as error:
            raise MessageRejected(f"The message could not be built: {error}") from error
        except SmsError as error:
            found = _STATUS.search(str(error))
            status = found.group(1) if found else ""
            text = str(error).split(": ", 1)[-1]
            raise answer_for_status(status, text) from error
        except (AuthenticationError, ForbiddenError) as error:
            raise SenderBlocked(
                "Vonage refused the API key and secret (HTTP "
                f"{error.response.status_code}). Check PAYLINKS_VONAGE_API_KEY and "
                "PAYLINKS_VONAGE_API_SECRET.",
                code=str(error.response.status_code),
            ) from error
        except HttpRequestError as error:
            status_code = error.response.status_code
            if status_code == 429 or status_code >= 500:
                raise MessageDeferred(
                    f"Vonage's SMS API answered HTTP {status_code}; trying again "
                    "later.",
                    code=str(status_code),
                ) from error
            raise SenderBlocked(
                f"Vonage's SMS API answered HTTP {status_code}. Check "
                "PAYLINKS_VONAGE_REST_HOST and the account.",
                code=str(status_code),
            ) from error
        except RequestException as error:
            if _before_sending(error):
                raise MessageDeferred(
                    f"Vonage could not be reached: {error}"
                ) from error
            raise MessageInDoubt(
                f"Vonage's answer was lost ({type(error).__name__}); the SMS may "
                "have gone out, so it is not sent again."
            ) from error
        return SentMessage(str(response.messages[0].message_id))


def _before_sending(error: Exception) -> bool:
    """Whether *error* happened before the request reached Vonage (safe to retry).

    Refused or timed-out connections and TLS handshakes fail before a byte of
    the message is sent; a read timeout or a connection cut mid-answer may
    come after Vonage took it.
    """
    from requests.exceptions import ConnectionError as RequestsConnectionError
    from requests.exceptions import ConnectTimeout, ReadTimeout, SSLError
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    if isinstance(error, (ConnectTimeout, SSLError)):
        return True
    if isinstance(error, ReadTimeout) or not isinstance(error, RequestsConnectionError):
        return False
    reason = getattr(error.args[0] if error.args else None, "reason", None)
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


def _signature_source(params: Mapping[str, str]) -> str:
    return "".join(
        f"&{key}={str(params[key]).replace('&', '_').replace('=', '_')}"
        for key in sorted(params)
        if key != "sig"
    )


def sign(params: Mapping[str, str], secret: str, method: str = "sha256") -> str:
    """The ``sig`` Vonage puts on *params* (which must hold ``timestamp``).

    Upper-case hex: ``md5hash`` is MD5 of the sorted ``&key=value`` string
    followed by the secret, the others an HMAC of that string keyed by the
    secret. Tests sign callbacks with it as Vonage does.
    """
    if method not in SIGNATURE_METHODS:
        raise ValueError(f"unknown Vonage signature method {method!r}")
    source = _signature_source(params).encode()
    if method == "md5hash":
        return (
            hashlib.md5(source + secret.encode(), usedforsecurity=False)
            .hexdigest()
            .upper()
        )
    return hmac.new(secret.encode(), source, method).hexdigest().upper()


def verify_signature(
    params: Mapping[str, str],
    secret: str,
    method: str = "sha256",
    *,
    now: float | None = None,
) -> bool:
    """Whether *params* carry a good Vonage ``sig`` made with *secret*.

    Vonage's signed-webhook scheme for the SMS API: every parameter but
    ``sig``, sorted by name, as ``&name=value`` with ``&`` and ``=`` in values
    replaced by ``_``. The HMAC methods are checked with the SDK's own
    ``Auth.check_signature``; ``md5hash`` (the dashboard's default, which the
    SDK lacks) here. The compare is constant-time and ignores hex case. A
    ``timestamp`` missing, or more than five minutes from *now*, fails: a
    recorded callback cannot be replayed later.
    """
    signature = params.get("sig")
    if not signature or method not in SIGNATURE_METHODS:
        return False
    try:
        stamp = int(str(params.get("timestamp", "")))
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - stamp) > SIGNATURE_MAX_AGE:
        return False
    values = {key: str(value) for key, value in params.items()}
    if method == "md5hash":
        expected = sign(values, secret, method)
        return hmac.compare_digest(expected.encode(), str(signature).upper().encode())
    from vonage_http_client.auth import Auth

    # The SDK's Auth wants an API key beside a signature secret; the check
    # itself uses only the secret and the method.
    auth = Auth(api_key="callback", signature_secret=secret, signature_method=method)
    try:
        return bool(auth.check_signature(values))
    except (TypeError, ValueError):
        return False
