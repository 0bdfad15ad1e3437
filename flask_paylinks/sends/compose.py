"""What a send says: the message, its merge fields, and each recipient's URL."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask_paylinks.contacts import Contact
from flask_paylinks.core.errors import InvalidInput
from flask_paylinks.core.message_text import render, template_problems
from flask_paylinks.db.models import Channel

#: Longest SMS a send may cost, in segments.
MAX_SMS_SEGMENTS = 10
#: Longest email subject.
MAX_SUBJECT_LENGTH = 200
#: Longest email body.
MAX_EMAIL_LENGTH = 20_000


@dataclass(frozen=True, slots=True)
class Message:
    """The templates of a send: the SMS, and the email's subject and body."""

    sms_body: str = ""
    email_subject: str = ""
    email_body: str = ""


def parse_channels(channels: Sequence[str]) -> tuple[Channel, ...]:
    """The channels named, in a fixed order; ``InvalidInput`` on ``channels``."""
    known = {channel.value: channel for channel in Channel}
    unknown = [name for name in channels if name not in known]
    if unknown or not channels:
        raise InvalidInput({"channels": "Choose SMS, email or both."})
    return tuple(channel for channel in Channel if channel.value in channels)


def message_problems(
    channels: Sequence[Channel], message: Message, *, link_length: int
) -> dict[str, str]:
    """What is wrong with *message* for *channels*, keyed by the form's fields."""
    problems: dict[str, str] = {}
    if Channel.SMS in channels:
        found = template_problems(
            message.sms_body, max_segments=MAX_SMS_SEGMENTS, link_length=link_length
        )
        if found:
            problems["sms_body"] = " ".join(found)
    if Channel.EMAIL in channels:
        subject = template_problems(
            message.email_subject, require_link=False, max_segments=None
        )
        if not message.email_subject.strip():
            subject = ["Write a subject."]
        elif len(message.email_subject) > MAX_SUBJECT_LENGTH:
            subject = [f"Keep the subject under {MAX_SUBJECT_LENGTH} characters."]
        if subject:
            problems["email_subject"] = " ".join(subject)
        body = template_problems(
            message.email_body, max_segments=None, link_length=link_length
        )
        if len(message.email_body) > MAX_EMAIL_LENGTH:
            body = [f"Keep the email under {MAX_EMAIL_LENGTH:,} characters."]
        if body:
            problems["email_body"] = " ".join(body)
    return problems


def merge_values(
    contact: Contact | None, *, name: str, link_url: str, merchant: str, link_name: str
) -> dict[str, str]:
    """The values of the merge fields for one recipient."""
    full = (contact.name if contact is not None else name).strip()
    parts = full.split()
    return {
        "link": link_url,
        "name": full,
        "first_name": parts[0] if parts else "",
        "last_name": " ".join(parts[1:]),
        "merchant": merchant,
        "link_name": link_name,
    }


def render_for(template: str, values: Mapping[str, str]) -> str:
    """The template with one recipient's values in place."""
    return render(template, values)


def new_token() -> str:
    """A personal URL's token: 128 random bits, 22 URL-safe characters."""
    return secrets.token_urlsafe(16)


def public_base_url(config: Mapping[str, Any]) -> str:
    """Where customers reach the app, for URLs built outside a request."""
    configured: str | None = config.get("PAYLINKS_PUBLIC_URL")
    if configured:
        return configured.rstrip("/")
    server = config.get("SERVER_NAME")
    if server:
        return f"{config.get('PREFERRED_URL_SCHEME', 'http')}://{server}"
    return "http://localhost:5000"


def personal_url(base_url: str, checkout_prefix: str, token: str) -> str:
    """The short URL one recipient opens: ``<base><checkout prefix>/p/<token>``."""
    return f"{base_url.rstrip('/')}{checkout_prefix.rstrip('/')}/p/{token}"
