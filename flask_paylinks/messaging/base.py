"""The sender protocols for SMS and email, and what a send returns or raises.

A sender answers each message in one of four ways, and the caller acts on it:

* returns :class:`SentMessage`: the provider took the message;
* raises :class:`MessageRejected`: this recipient fails for good (a bad or
  barred number), the others go on;
* raises :class:`MessageDeferred`: try this message again later, with back-off
  (throttled, a provider hiccup);
* raises :class:`SenderBlocked`: nothing can be sent until a person acts (bad
  credentials, the account out of credit or barred); the whole send pauses and
  shows :attr:`SenderBlocked.reason`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from flask_paylinks.core.errors import PayLinksError, Unavailable


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message the provider accepted."""

    provider_message_id: str


class _ProviderAnswer(PayLinksError):
    """A provider's refusal: a person-readable reason and the provider's code."""

    def __init__(self, reason: str, *, code: str | None = None) -> None:
        super().__init__(reason)
        #: What to show a person (the merchant, the recipient's row).
        self.reason = reason
        #: The provider's own status code, when it gave one.
        self.code = code


class MessageRejected(_ProviderAnswer):
    """The provider refused this message for good (bad number, blocked)."""


class MessageDeferred(_ProviderAnswer, Unavailable):
    """The provider could not take the message now; try again later."""


class MessageInDoubt(_ProviderAnswer):
    """The provider may have taken the message: the answer was lost after it was sent.

    A timeout waiting for the answer, a connection cut mid-response. Sending
    again could text the contact twice, so the message is not retried.
    """


class SenderBlocked(_ProviderAnswer, Unavailable):
    """The provider takes no message from this account until a person acts.

    Bad credentials, an account barred or out of credit: every message would
    fail the same way, so the whole send pauses and shows :attr:`reason`.
    """


@runtime_checkable
class SmsSender(Protocol):
    """Sends one SMS."""

    def send_sms(
        self, to: str, body: str, *, client_ref: str | None = None
    ) -> SentMessage:
        """Send *body* to *to* (E.164).

        *client_ref* is the caller's own reference (the recipient's id); the
        provider hands it back on delivery receipts. Raises
        :class:`MessageRejected`, :class:`MessageDeferred` or
        :class:`SenderBlocked`.
        """


@runtime_checkable
class EmailSender(Protocol):
    """Sends one email."""

    def send_email(
        self,
        to: str,
        subject: str,
        text: str,
        html: str | None = None,
        *,
        from_name: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> SentMessage:
        """Send one message with a text part and an optional HTML part.

        *from_name* is the display name of the From address (the merchant);
        *headers* are extra headers such as ``List-Unsubscribe``. Raises
        :class:`MessageRejected`, :class:`MessageDeferred` or
        :class:`SenderBlocked`.
        """
