"""Senders that log each message instead of sending it (the default)."""

from __future__ import annotations

import logging
import uuid

from flask_paylinks.messaging.base import SentMessage

log = logging.getLogger("flask_paylinks.messaging")


class ConsoleSmsSender:
    """Logs every SMS at INFO; for development and the demo."""

    def send_sms(self, to: str, body: str) -> SentMessage:
        """Log the message and return a made-up message id."""
        message_id = f"console-{uuid.uuid4().hex[:16]}"
        log.info("SMS to %s (%s):\n%s", to, message_id, body)
        return SentMessage(message_id)


class ConsoleEmailSender:
    """Logs every email at INFO; for development and the demo."""

    def send_email(
        self, to: str, subject: str, text: str, html: str | None = None
    ) -> SentMessage:
        """Log the message and return a made-up message id."""
        message_id = f"console-{uuid.uuid4().hex[:16]}"
        log.info("Email to %s (%s): %s\n%s", to, message_id, subject, text)
        return SentMessage(message_id)
