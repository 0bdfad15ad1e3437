"""Email over SMTP with the standard library, and the small branded layout of sends.

:func:`branded_html` turns a plain-text message into the HTML part of a
send's email (escaped, the merchant's name and brand colour, inline styles
only, as mail clients need); :func:`unsubscribe_headers` builds
``List-Unsubscribe`` (RFC 2369) and, with a URL, ``List-Unsubscribe-Post``
for one-click unsubscribe (RFC 8058).
"""

from __future__ import annotations

import html as html_lib
import re
import smtplib
import uuid
from collections.abc import Mapping
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid

from flask_paylinks.messaging.base import (
    MessageDeferred,
    MessageInDoubt,
    MessageRejected,
    SentMessage,
)

_URL = re.compile(r"https?://[^\s<>\"']+")
_DEFAULT_COLOR = "#4F46E5"
_HEX_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")


def unsubscribe_headers(
    *, mailto: str | None = None, url: str | None = None
) -> dict[str, str]:
    """``List-Unsubscribe`` for a ``mailto:`` address and/or an https URL.

    With a URL it adds ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``,
    so mail clients may unsubscribe with one POST to that URL. Neither given:
    no headers.
    """
    targets = []
    if url:
        targets.append(f"<{url}>")
    if mailto:
        address = mailto if mailto.startswith("mailto:") else f"mailto:{mailto}"
        targets.append(f"<{address}>")
    if not targets:
        return {}
    headers = {"List-Unsubscribe": ", ".join(targets)}
    if url:
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return headers


def _readable_text_color(background: str) -> str:
    red, green, blue = (int(background[i : i + 2], 16) for i in (1, 3, 5))
    luminance = 0.299 * red + 0.587 * green + 0.114 * blue
    return "#111827" if luminance > 160 else "#ffffff"


def _paragraph(text: str) -> str:
    parts: list[str] = []
    position = 0
    for match in _URL.finditer(text):
        parts.append(html_lib.escape(text[position : match.start()]))
        url = html_lib.escape(match.group(0))
        parts.append(f'<a href="{url}" style="color:inherit">{url}</a>')
        position = match.end()
    parts.append(html_lib.escape(text[position:]))
    return "<br>".join("".join(parts).split("\n"))


def branded_html(
    text: str,
    *,
    merchant: str,
    brand_color: str | None = None,
    button_url: str | None = None,
    button_label: str = "Pay now",
) -> str:
    """The HTML part for the plain-text *text*: escaped, in the merchant's colours.

    Blank lines separate paragraphs and URLs become links; *button_url* adds
    a button in the brand colour. Everything a recipient or merchant typed is
    escaped; a colour that is not ``#RRGGBB`` falls back to the default.
    """
    color = brand_color if brand_color and _HEX_COLOR.fullmatch(brand_color) else None
    color = color or _DEFAULT_COLOR
    ink = _readable_text_color(color)
    paragraphs = "".join(
        f'<p style="margin:0 0 16px">{_paragraph(block.strip())}</p>'
        for block in re.split(r"\n\s*\n", text.strip())
        if block.strip()
    )
    button = ""
    if button_url:
        button = (
            f'<p style="margin:24px 0 8px"><a href="{html_lib.escape(button_url)}" '
            f'style="display:inline-block;padding:12px 20px;border-radius:6px;'
            f"background:{color};color:{ink};font-weight:600;"
            f'text-decoration:none">{html_lib.escape(button_label)}</a></p>'
        )
    name = html_lib.escape(merchant)
    return (
        "<!doctype html>\n"
        '<html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width">'
        f"<title>{name}</title></head>"
        '<body style="margin:0;padding:0;background:#f3f4f6">'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" '
        'style="background:#f3f4f6;padding:24px 0"><tr><td align="center">'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" '
        'style="max-width:560px;background:#ffffff;border-radius:8px;'
        "font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;"
        'font-size:16px;line-height:1.5;color:#111827">'
        f'<tr><td style="background:{color};color:{ink};padding:16px 24px;'
        f'border-radius:8px 8px 0 0;font-size:18px;font-weight:600">{name}</td></tr>'
        f'<tr><td style="padding:24px">{paragraphs}{button}</td></tr>'
        "</table></td></tr></table></body></html>\n"
    )


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

    def _from(self, from_name: str | None) -> str | Address:
        if not from_name:
            return self.sender
        username, _, domain = self.sender.rpartition("@")
        # Address quotes and encodes the display name; a name with a comma,
        # quote or non-ASCII letter stays one name.
        return Address(display_name=from_name, username=username, domain=domain)

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
        """Send one message; raise MessageRejected or MessageDeferred.

        ``From`` is ``"<from_name>" <PAYLINKS_EMAIL_FROM>`` when *from_name*
        is given; *headers* (``List-Unsubscribe``…) are added as they are.
        """
        message = EmailMessage()
        message["From"] = self._from(from_name)
        message["To"] = to
        message["Subject"] = subject
        domain = self.sender.rpartition("@")[2] or "localhost"
        message_id = make_msgid(idstring=uuid.uuid4().hex[:12], domain=domain)
        message["Message-ID"] = message_id
        for name, value in (headers or {}).items():
            message[name] = value
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except (smtplib.SMTPException, OSError) as error:
            raise MessageDeferred(str(error)) from error
        with smtp:
            try:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
            except (smtplib.SMTPException, OSError) as error:
                raise MessageDeferred(str(error)) from error
            _hand_over(smtp, message, to)
        return SentMessage(message_id)


def _hand_over(smtp: smtplib.SMTP, message: EmailMessage, to: str) -> None:
    """Send *message* on an open connection, saying what a failure means.

    A refusal with a code is an answer (permanent 5xx: rejected; 4xx: try
    later); a connection lost or timed out while the message was being sent
    leaves it in doubt: the server may have taken it.
    """
    try:
        smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as error:
        raise MessageRejected(f"The mail server refused {to}.") from error
    except smtplib.SMTPResponseException as error:
        text = f"The mail server answered {error.smtp_code}: {error.smtp_error!r}"
        if error.smtp_code >= 500:
            raise MessageRejected(text) from error
        raise MessageDeferred(text) from error
    except (smtplib.SMTPException, OSError) as error:
        raise MessageInDoubt(
            f"The connection to the mail server was lost while sending ({error}); "
            "the email may have gone out, so it is not sent again."
        ) from error
