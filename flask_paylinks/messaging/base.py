"""The sender protocols for SMS and email, and what a send returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from flask_paylinks.core.errors import PayLinksError, Unavailable


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message the provider accepted."""

    provider_message_id: str


class MessageRejected(PayLinksError):
    """The provider refused this message for good (bad number, blocked)."""


class MessageDeferred(Unavailable):
    """The provider could not take the message now; try again later."""


@runtime_checkable
class SmsSender(Protocol):
    """Sends one SMS."""

    def send_sms(self, to: str, body: str) -> SentMessage:
        """Send *body* to *to* (E.164); raise MessageRejected or MessageDeferred."""


@runtime_checkable
class EmailSender(Protocol):
    """Sends one email."""

    def send_email(
        self, to: str, subject: str, text: str, html: str | None = None
    ) -> SentMessage:
        """Send one message; raise MessageRejected or MessageDeferred."""
