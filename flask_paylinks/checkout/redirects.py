"""Where a paid customer is sent next, checked again at the moment of sending."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from ..models import PaymentLink

MAX_URL_LENGTH = 2000


@dataclass(frozen=True, slots=True)
class RedirectTarget:
    """A redirect URL that passed :func:`safe_redirect_url`, and how to open it."""

    url: str
    host: str
    new_tab: bool


def safe_redirect_url(url: str | None) -> str | None:
    """*url* when it is an absolute http(s) URL fit to send a customer to.

    Refused: other schemes (``javascript:``, ``data:``), relative or
    protocol-relative URLs, user names or passwords in the URL, whitespace
    or control characters, and anything over 2,000 characters.
    """
    if not url or len(url) > MAX_URL_LENGTH:
        return None
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None:
        return None
    if port == 0:
        return None
    return url


def redirect_target(link: PaymentLink) -> RedirectTarget | None:
    """The link's redirect, re-validated now; ``None`` to stay on the receipt."""
    if link.deleted_at is not None:
        return None
    url = safe_redirect_url(link.redirect_url)
    if url is None:
        return None
    host = urlsplit(url).hostname or ""
    return RedirectTarget(url=url, host=host, new_tab=bool(link.redirect_new_tab))
