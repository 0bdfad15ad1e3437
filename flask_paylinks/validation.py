"""Input checks the services share, and the error they raise on bad input.

Services are called from the dashboard, the API, the CLI and jobs, so they
check their input themselves and raise :class:`InvalidInput` naming the field
at fault. The names are the dashboard form's field names (``name``,
``items-0-max_quantity``), so a view can mark the field the merchant typed in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from .errors import PayLinksError

HEX_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")


class InvalidInput(PayLinksError, ValueError):
    """A service refused its input; :attr:`errors` maps each field to the reason."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors: dict[str, str] = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


def https_url_problem(value: str) -> str | None:
    """Why *value* is not a safe absolute ``https://`` URL, or ``None`` when it is.

    Refused: other schemes (``javascript:``, ``data:``, ``http:``),
    scheme-relative ``//host``, credentials (``https://user@host``), backslashes,
    whitespace and control characters, and URLs without a host.
    """
    if not value:
        return "Enter a URL."
    if len(value) > 2000:
        return "A URL can be 2,000 characters at most."
    if "\\" in value:
        return "A URL cannot contain backslashes."
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return "A URL cannot contain spaces or control characters."
    if not value.lower().startswith("https://"):
        return "Use a full address starting with https://"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return "This is not a valid URL."
    del port
    if parts.scheme != "https":
        return "Use a full address starting with https://"
    if "@" in parts.netloc or parts.username is not None:
        return "A URL cannot contain a user name or password."
    host = parts.hostname or ""
    if not host or host.startswith(".") or ".." in host:
        return "Include the website's host name, e.g. https://example.com/thanks"
    return None


def is_hex_color(value: str) -> bool:
    """Whether *value* is a colour written ``#RRGGBB``."""
    return bool(HEX_COLOR.match(value))
