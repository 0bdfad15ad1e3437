"""SMS through Vonage's SMS API. Only this module imports :mod:`vonage`."""

from __future__ import annotations

from typing import Any

from flask_paylinks.messaging.base import MessageDeferred, MessageRejected, SentMessage

#: Vonage SMS status codes worth trying again: throttled, internal error.
RETRYABLE_STATUSES = frozenset({"1", "5"})


class VonageSmsSender:
    """Sends SMS with the Vonage SDK (``client.sms.send``).

    :param rest_host: the host of the SMS API; tests point it at a fake.
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

    def send_sms(self, to: str, body: str) -> SentMessage:
        """Send one message; raise MessageRejected or MessageDeferred."""
        from requests import RequestException
        from vonage_http_client.errors import HttpRequestError
        from vonage_sms import SmsMessage
        from vonage_sms.errors import SmsError

        kind = "text" if body.isascii() else "unicode"
        message = SmsMessage(to=to.lstrip("+"), from_=self.sender, text=body, type=kind)
        try:
            response = self.client.sms.send(message)
        except SmsError as error:
            status = _status_of(str(error))
            if status in RETRYABLE_STATUSES:
                raise MessageDeferred(str(error)) from error
            raise MessageRejected(str(error)) from error
        except (HttpRequestError, RequestException) as error:
            raise MessageDeferred(str(error)) from error
        return SentMessage(str(response.messages[0].message_id))


def _status_of(text: str) -> str:
    marker = "error code "
    if marker not in text:
        return ""
    return text.split(marker, 1)[1].split(":", 1)[0].strip()
