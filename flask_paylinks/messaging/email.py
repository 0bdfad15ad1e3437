"""Email over SMTP with the standard library."""

from __future__ import annotations

import smtplib
import uuid
from email.message import EmailMessage
from email.utils import make_msgid

from flask_paylinks.messaging.base import MessageDeferred, MessageRejected, SentMessage


class SmtpEmailSender:
    """Sends each message over its own SMTP connection."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.username = username
        self.password = password
        self.starttls = starttls
        self.timeout = timeout

    def send_email(
        self, to: str, subject: str, text: str, html: str | None = None
    ) -> SentMessage:
        """Send one message; raise MessageRejected or MessageDeferred."""
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        domain = self.sender.rpartition("@")[2] or "localhost"
        message_id = make_msgid(idstring=uuid.uuid4().hex[:12], domain=domain)
        message["Message-ID"] = message_id
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            raise MessageRejected(f"recipient refused: {to}") from error
        except (smtplib.SMTPException, OSError) as error:
            raise MessageDeferred(str(error)) from error
        return SentMessage(message_id)
