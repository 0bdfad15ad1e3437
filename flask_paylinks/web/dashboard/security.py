"""Response headers of the dashboard pages.

Every dashboard response gets ``nosniff``, frame protection from
``PAYLINKS_DASHBOARD_FRAME_ANCESTORS`` and ``Cache-Control: no-store`` (its
pages hold CSRF tokens and customers' personal data). The full nonce CSP is
opt-in with ``PAYLINKS_DASHBOARD_CSP``: the dashboard renders inside the
host's layout, whose inline scripts only the host can give the nonce to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import current_app, g
from werkzeug.wrappers import Response

from flask_paylinks.web.security_headers import (
    add_common_headers,
    csp_nonce,
    format_policy,
    merge_policy,
    nonce_sources,
    parse_frame_ancestors,
    x_frame_options,
)

#: The dashboard's policy when ``PAYLINKS_DASHBOARD_CSP`` is on, before the
#: nonce, the frame ancestors and the host's extra sources are added.
BASE_POLICY: dict[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    "style-src": ("'self'",),
    # Product images and logos may live on any https host.
    "img-src": ("'self'", "data:", "https:"),
    "connect-src": ("'self'",),
    "form-action": ("'self'",),
    "base-uri": ("'self'",),
    "object-src": ("'none'",),
}


#: Name in :data:`flask.g` of the origins a page's forms may also be sent to
#: (through a redirect): the Payments settings page's form leads to Stripe.
FORM_TARGETS = "paylinks_form_targets"


def allow_form_targets(*origins: str) -> None:
    """Let this page's forms lead (by redirect) to *origins* under the CSP."""
    g.setdefault(FORM_TARGETS, []).extend(origins)


def policy(
    config: Mapping[str, Any], nonce: str, form_targets: Iterable[str] = ()
) -> str:
    """The dashboard's ``Content-Security-Policy`` value under *config*."""
    ancestors = {
        "frame-ancestors": parse_frame_ancestors(
            config["PAYLINKS_DASHBOARD_FRAME_ANCESTORS"]
        )
    }
    setting = config["PAYLINKS_DASHBOARD_CSP"]
    if not setting:
        return format_policy(ancestors)
    extra: Mapping[str, Iterable[str]] = setting if isinstance(setting, Mapping) else {}
    targets = {"form-action": tuple(form_targets)}
    return format_policy(
        merge_policy(BASE_POLICY, nonce_sources(nonce), targets, extra, ancestors)
    )


def add_dashboard_headers(response: Response) -> Response:
    """Set the dashboard's hardening headers on *response*."""
    config = current_app.config
    return add_common_headers(
        response,
        policy=policy(config, csp_nonce(), g.get(FORM_TARGETS, ())),
        frame_options=x_frame_options(
            parse_frame_ancestors(config["PAYLINKS_DASHBOARD_FRAME_ANCESTORS"])
        ),
        no_store=True,
    )
