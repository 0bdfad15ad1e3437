"""Input checks the services share, and the error they raise on bad input.

Services are called from the dashboard, the API, the CLI and jobs, so they
check their input themselves and raise :class:`InvalidInput` naming the field
at fault. The names are the dashboard form's field names (``name``,
``items-0-max_quantity``), so a view can mark the field the merchant typed in.

This module also holds the one URL rule (:func:`https_url_problem`) that
redirect URLs, logo URLs and product image URLs all go through, and the text
and integer bounds every value must meet before it reaches SQL.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit, urlunsplit

import idna

HEX_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
#: Longest coupon code; ``code_key`` is ``VARCHAR(64)``.
MAX_CODE_LENGTH = 64
#: The range of a 32-bit ``INTEGER`` column (quantities, counts, caps).
INT32_MAX = 2**31 - 1
#: The range of a 64-bit ``BIGINT`` column (ids, amounts in minor units).
INT64_MAX = 2**63 - 1
#: Longest URL accepted; the URL columns are ``VARCHAR(2000)``.
MAX_URL_LENGTH = 2000
#: Scripts that may share one host label with Latin, as in Unicode's
#: "highly restrictive" profile (UTS #39, 5.2): Japanese, Chinese, Korean.
_LATIN_MIXES = (
    frozenset({"LATIN", "CJK", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "CJK", "BOPOMOFO"}),
    frozenset({"LATIN", "CJK", "HANGUL"}),
)


#: Longest name of a product or a link.
MAX_NAME_LENGTH = 200


def name_problem(value: str) -> str | None:
    """Why *value* (already stripped) cannot name a product or a link, or ``None``."""
    if not value:
        return "Enter a name."
    if len(value) > MAX_NAME_LENGTH:
        return f"A name can be {MAX_NAME_LENGTH} characters at most."
    return text_problem(value)


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why *value* cannot be stored as text, or ``None`` when it can.

    NUL and other control characters are refused (PostgreSQL cannot store NUL
    at all); *multiline* text may hold line breaks and tabs.
    """
    allowed = "\r\n\t" if multiline else ""
    for ch in value:
        if (ord(ch) < 32 and ch not in allowed) or 127 <= ord(ch) < 160:
            return "This cannot contain control characters such as NUL."
    return None


def in_int_range(value: int, maximum: int = INT64_MAX) -> bool:
    """Whether *value* fits a signed database integer of that *maximum*."""
    return -maximum - 1 <= value <= maximum


def https_url_problem(value: str, *, empty: str = "Enter a URL.") -> str | None:
    """Why *value* is not a safe absolute ``https://`` URL, or ``None`` when it is.

    Refused: other schemes (``javascript:``, ``data:``, ``http:``),
    scheme-relative ``//host``, credentials (``https://user@host``), backslashes,
    whitespace, control and invisible formatting characters, URLs over 2,000
    characters, hosts that are not valid domain names (IDNA 2008), and host
    labels that mix alphabets, as look-alike hosts do (``apple.com`` spelled
    with a Cyrillic ``a``). A valid international host is accepted; show the merchant
    its ASCII form with :func:`ascii_url`. *empty* is the answer to no URL
    at all (the field that asked for one knows best how to say it).
    """
    if not value:
        return empty
    if len(value) > MAX_URL_LENGTH:
        return "A URL can be 2,000 characters at most."
    if "\\" in value:
        return "A URL cannot contain backslashes."
    if any(
        ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")
        for ch in value
    ):
        return "A URL cannot contain spaces or control characters."
    if not value.lower().startswith("https://"):
        return "Use a full address starting with https://"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return "This is not a valid URL."
    if parts.scheme != "https" or port == 0:
        return "Use a full address starting with https://"
    if "@" in parts.netloc or parts.username is not None:
        return "A URL cannot contain a user name or password."
    host = parts.hostname or ""
    if not host or host.startswith(".") or ".." in host:
        return "Include the website's host name, e.g. https://example.com/thanks"
    return host_problem(host)


def _unicode_labels(host: str) -> list[str] | None:
    """The labels of *host* in Unicode (punycode decoded), or ``None`` if invalid."""
    try:
        if host.isascii():
            # Plain ASCII hosts keep their old, looser rules (``_`` is seen in
            # real host names); only punycode labels are decoded and checked.
            return [
                idna.decode(label) if label.startswith("xn--") else label
                for label in host.rstrip(".").split(".")
            ]
        ascii_host = idna.encode(host.rstrip("."), uts46=True).decode("ascii")
        return [idna.decode(label) for label in ascii_host.split(".")]
    except (idna.IDNAError, UnicodeError, ValueError):
        return None


def label_scripts(label: str) -> set[str]:
    """The scripts of the letters in *label*, by Unicode character name.

    Python has no script property; the first word of a letter's name is its
    script for every alphabet a look-alike host borrows from (``LATIN``,
    ``CYRILLIC``, ``GREEK``, ``ARMENIAN``, ``CJK``...). Digits, hyphens and
    combining marks belong to no script.
    """
    scripts: set[str] = set()
    for ch in label:
        if unicodedata.category(ch).startswith("L"):
            script = unicodedata.name(ch, "UNKNOWN").split(" ", 1)[0]
            if script != "KATAKANA-HIRAGANA":  # the prolonged sound mark: both
                scripts.add(script)
    return scripts


def host_problem(host: str) -> str | None:
    """Why *host* is not a domain name to send customers to, or ``None``."""
    if host.replace(".", "").isdigit() or ":" in host:
        return None  # an IP address; urlsplit already checked its shape
    labels = _unicode_labels(host)
    if labels is None:
        return "This host name is not a valid domain name."
    for label in labels:
        scripts = label_scripts(label)
        if len(scripts) > 1 and not any(scripts <= mix for mix in _LATIN_MIXES):
            names = " and ".join(sorted(s.title() for s in scripts))
            return (
                f"The host name part “{label}” mixes alphabets ({names}), as "
                "look-alike addresses do. Type the address again with one alphabet."
            )
    return None


def ascii_url(value: str | None) -> str | None:
    """*value* with its host in ASCII (punycode) when the host is international.

    ``None`` when the URL's host is plain ASCII already or cannot be read:
    only an international host needs its real form shown beside it.
    """
    if not value or https_url_problem(value) is not None:
        return None
    parts = urlsplit(value)
    host = parts.hostname or ""
    if host.isascii():
        return None
    try:
        ascii_host = idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return None
    netloc = ascii_host if parts.port is None else f"{ascii_host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def is_hex_color(value: str) -> bool:
    """Whether *value* is a colour written ``#RRGGBB``."""
    return bool(HEX_COLOR.match(value))


def normalise_code(code: str) -> str | None:
    """The look-up key of a coupon code typed in any case, or ``None``.

    Codes are unique per merchant regardless of case: ``summer`` and
    ``SUMMER`` are one coupon. ``None`` when *code* cannot be one (empty,
    longer than :data:`MAX_CODE_LENGTH`, or holding unprintable characters).
    """
    key = code.strip().upper()
    if not key or len(key) > MAX_CODE_LENGTH or not key.isprintable():
        return None
    return key
