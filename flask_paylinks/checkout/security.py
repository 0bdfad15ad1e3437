"""Response headers of the checkout pages: a nonce-based CSP and its friends.

Scripts and styles run only from our origin or with the request's nonce;
besides ours, only the gateway's origins are allowed (a gateway lists them
in an optional ``csp_sources`` mapping, e.g. ``{"script-src":
("https://js.stripe.com",)}``). No page may be framed.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping

from flask import current_app, request
from werkzeug.wrappers import Response

#: The policy of every checkout page, before the gateway's sources are added.
BASE_POLICY: dict[str, tuple[str, ...]] = {
    "default-src": ("'none'",),
    "script-src": ("'self'",),
    "style-src": ("'self'",),
    "img-src": ("'self'", "data:", "https:"),
    "connect-src": ("'self'",),
    "form-action": ("'self'",),
    "frame-ancestors": ("'none'",),
    "base-uri": ("'none'",),
    "manifest-src": ("'self'",),
}


NONCE_KEY = "paylinks.csp_nonce"


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


def policy(nonce: str, gateway_sources: Mapping[str, Iterable[str]]) -> str:
    """The Content-Security-Policy header value for one response."""
    directives = {name: list(values) for name, values in BASE_POLICY.items()}
    for name in ("script-src", "style-src"):
        directives[name].append(f"'nonce-{nonce}'")
    for name, values in gateway_sources.items():
        directives.setdefault(name, [])
        directives[name].extend(v for v in values if v not in directives[name])
    return "; ".join(
        f"{name} {' '.join(values)}" for name, values in directives.items()
    )


def add_security_headers(response: Response) -> Response:
    """Set the CSP (with this request's nonce) and the other hardening headers."""
    gateway = current_app.extensions["paylinks"].gateway
    sources: Mapping[str, Iterable[str]] = getattr(gateway, "csp_sources", {}) or {}
    headers = response.headers
    headers.setdefault("Content-Security-Policy", policy(csp_nonce(), sources))
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    # The slug is the link's secret: never hand it to other sites.
    headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        headers.setdefault("Cache-Control", "no-store")
    return response
