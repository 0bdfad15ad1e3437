"""Response headers of the checkout pages: a nonce-based CSP and its friends.

Scripts and styles run only from our origin or with the request's nonce;
besides ours, only the gateway's origins are allowed (its
``content_security_policy()``, e.g. ``{"script-src":
("https://js.stripe.com",)}`` for Stripe.js). No page may be framed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache

from werkzeug.wrappers import Response

from flask_paylinks.state import paylinks_state
from flask_paylinks.web.security_headers import (
    add_common_headers,
    csp_nonce,
    format_policy,
    merge_policy,
    nonce_sources,
)

__all__ = ["BASE_POLICY", "add_security_headers", "csp_nonce", "policy"]

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


#: Where the nonce goes in a policy built ahead; a header value holds no NUL.
_NONCE_SLOT = "\0"

GatewaySources = tuple[tuple[str, tuple[str, ...]], ...]


@lru_cache(maxsize=64)
def _policy_around_nonce(gateway_sources: GatewaySources) -> tuple[str, ...]:
    """The policy for *gateway_sources*, cut where the nonce goes."""
    text = format_policy(
        merge_policy(BASE_POLICY, nonce_sources(_NONCE_SLOT), dict(gateway_sources))
    )
    return tuple(text.split(_NONCE_SLOT))


def policy(nonce: str, gateway_sources: Mapping[str, Iterable[str]]) -> str:
    """The Content-Security-Policy header value for one response.

    Merged once per set of gateway sources; each response only adds its nonce.
    """
    key = tuple((name, tuple(values)) for name, values in gateway_sources.items())
    return nonce.join(_policy_around_nonce(key))


def add_security_headers(response: Response) -> Response:
    """Set the CSP (with this request's nonce) and the other hardening headers."""
    gateway = paylinks_state().gateway
    sources: Mapping[str, Iterable[str]] = gateway.content_security_policy()
    return add_common_headers(
        response,
        policy=policy(csp_nonce(), sources),
        frame_options="DENY",
        no_store=response.mimetype == "text/html",
    )
