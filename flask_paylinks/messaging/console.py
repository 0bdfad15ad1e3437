"""Senders that log each message instead of sending it (the default)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping

from flask_paylinks.messaging.base import SentMessage

log = logging.getLogger("flask_paylinks.messaging")


class ConsoleSmsSender:
    """Logs every SMS at INFO; for development and the demo."""

    def send_sms(
        self, to: str, body: str, *, client_ref: str | None = None
    ) -> SentMessage:
        """Log the message and return a made-up message id."""
        message_id = f"console-{uuid.uuid4().hex[:16]}"
        log.info("SMS to %s (%s, ref %s):\n%s", to, message_id, client_ref, body)
        return SentMessage(message_id)


class ConsoleEmailSender:
    """Logs every email at INFO; for development and the demo."""

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
        """Log the message and return a made-up message id."""
        message_id = f"console-{uuid.uuid4().hex[:16]}"
        sender = f" from {from_name}" if from_name else ""
        log.info("Email to %s%s (%s): %s\n%s", to, sender, message_id, subject, text)
        return SentMessage(message_id)
