"""SMS and email senders, chosen by the ``PAYLINKS_*_BACKEND`` keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_paylinks.messaging.base import (
    EmailSender,
    MessageDeferred,
    MessageInDoubt,
    MessageRejected,
    SenderBlocked,
    SentMessage,
    SmsSender,
)
from flask_paylinks.messaging.console import ConsoleEmailSender, ConsoleSmsSender

__all__ = [
    "ConsoleEmailSender",
    "ConsoleSmsSender",
    "EmailSender",
    "MessageDeferred",
    "MessageInDoubt",
    "MessageRejected",
    "SenderBlocked",
    "SentMessage",
    "SmsSender",
    "create_email_sender",
    "create_sms_sender",
]


def create_sms_sender(config: Mapping[str, Any]) -> SmsSender:
    """The SMS sender ``PAYLINKS_SMS_BACKEND`` names."""
    if config["PAYLINKS_SMS_BACKEND"] == "vonage":
        from flask_paylinks.messaging.sms import VonageSmsSender

        return VonageSmsSender(
            config["PAYLINKS_VONAGE_API_KEY"],
            config["PAYLINKS_VONAGE_API_SECRET"],
            config["PAYLINKS_SMS_FROM"],
            rest_host=config.get("PAYLINKS_VONAGE_REST_HOST") or None,
        )
    return ConsoleSmsSender()


def create_email_sender(config: Mapping[str, Any]) -> EmailSender:
    """The email sender ``PAYLINKS_EMAIL_BACKEND`` names."""
    if config["PAYLINKS_EMAIL_BACKEND"] == "smtp":
        from flask_paylinks.messaging.email import SmtpEmailSender

        return SmtpEmailSender(
            config["PAYLINKS_SMTP_HOST"],
            int(config["PAYLINKS_SMTP_PORT"]),
            config["PAYLINKS_EMAIL_FROM"],
            username=config.get("PAYLINKS_SMTP_USERNAME"),
            password=config.get("PAYLINKS_SMTP_PASSWORD"),
            starttls=bool(config.get("PAYLINKS_SMTP_STARTTLS")),
        )
    return ConsoleEmailSender()
