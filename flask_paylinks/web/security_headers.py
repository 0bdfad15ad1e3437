"""Hardening headers and the CSP nonce, shared by the checkout and the dashboard.

Each blueprint decides its own policy; this module holds what they share:
the per-request nonce, turning a directive mapping into a header value,
frame protection in both its modern (``frame-ancestors``) and legacy
(``X-Frame-Options``) forms, and the headers every page of ours gets.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping

from flask import request
from werkzeug.wrappers import Response

NONCE_KEY = "paylinks.csp_nonce"

#: A source expression of ``frame-ancestors``: a keyword, a scheme, or a host.
_FRAME_SOURCE = re.compile(
    r"'self'|'none'|[a-z][a-z0-9+.-]*:|"
    r"(?:[a-z][a-z0-9+.-]*://)?(?:\*\.)?[a-z0-9.-]+(?::(?:\d+|\*))?(?:/[^\s;,']*)?",
    re.IGNORECASE,
)


def csp_nonce() -> str:
    """The nonce of this request's inline ``<script>`` and ``<style>`` elements.

    Kept in the WSGI environ rather than ``g``: an app context (and its
    ``g``) can outlive one request, a request's environ cannot.
    """
    environ = request.environ
    nonce: str | None = environ.get(NONCE_KEY)
    if nonce is None:
        nonce = environ[NONCE_KEY] = secrets.token_urlsafe(16)
    return nonce


Directives = Mapping[str, Iterable[str]]


def merge_policy(*parts: Directives) -> dict[str, list[str]]:
    """The directives of *parts* combined, each source listed once, in order."""
    merged: dict[str, list[str]] = {}
    for part in parts:
        for name, values in part.items():
            sources = merged.setdefault(name, [])
            sources.extend(v for v in values if v not in sources)
    return merged


def format_policy(directives: Directives) -> str:
    """A ``Content-Security-Policy`` header value from a directive mapping."""
    return "; ".join(
        f"{name} {' '.join(values)}".strip() for name, values in directives.items()
    )


def nonce_sources(nonce: str) -> dict[str, tuple[str, ...]]:
    """The script and style sources that let elements with *nonce* run."""
    source = f"'nonce-{nonce}'"
    return {"script-src": (source,), "style-src": (source,)}


def parse_frame_ancestors(value: str | Iterable[str]) -> tuple[str, ...]:
    """The sources of a ``frame-ancestors`` setting, or :class:`ValueError`.

    *value* is a space-separated string (``"'self' https://crm.example.com"``)
    or a list of sources. Separators that would end the directive (``;``,
    ``,``, line breaks) are refused, so a setting cannot smuggle in a policy.
    """
    if isinstance(value, str) and not re.fullmatch(r"[ -~]*", value):
        raise ValueError("it holds a line break or another control character")
    sources = tuple(value.split() if isinstance(value, str) else value)
    if not sources:
        raise ValueError("it names no source")
    for source in sources:
        if not isinstance(source, str) or not _FRAME_SOURCE.fullmatch(source):
            raise ValueError(f"{source!r} is not a frame-ancestors source")
    if "'none'" in sources and len(sources) > 1:
        raise ValueError("'none' cannot be combined with other sources")
    return sources


def x_frame_options(ancestors: Iterable[str]) -> str | None:
    """The legacy ``X-Frame-Options`` matching *ancestors*, if it can say it.

    It knows only "nobody" and "this origin"; for a list of other origins it
    is left out and browsers follow ``frame-ancestors`` (which wins anyway
    wherever both are sent).
    """
    sources = tuple(ancestors)
    if sources == ("'none'",):
        return "DENY"
    if sources == ("'self'",):
        return "SAMEORIGIN"
    return None


def add_common_headers(
    response: Response,
    *,
    policy: str,
    frame_options: str | None,
    no_store: bool,
) -> Response:
    """Set the CSP and the headers every page of the extension sends.

    ``setdefault`` throughout: a view (or a host ``after_request`` that ran
    first) that chose its own value keeps it.
    """
    headers = response.headers
    headers.setdefault("Content-Security-Policy", policy)
    if frame_options is not None:
        headers.setdefault("X-Frame-Options", frame_options)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    # Paths hold secrets (a checkout's slug, a dashboard search for a
    # customer): never hand them to other sites.
    headers.setdefault("Referrer-Policy", "same-origin")
    if no_store:
        headers.setdefault("Cache-Control", "no-store")
    return response
