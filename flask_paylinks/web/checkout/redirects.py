"""Where a paid customer is sent next, checked again at the moment of sending."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask_paylinks.core.rules import https_url_problem
from flask_paylinks.db.models import PaymentLink


@dataclass(frozen=True, slots=True)
class RedirectTarget:
    """A redirect URL that passed :func:`safe_redirect_url`, and how to open it."""

    url: str
    host: str
    new_tab: bool


def safe_redirect_url(url: str | None) -> str | None:
    """*url* when it is an absolute https URL fit to send a customer to.

    The dashboard's own rule, :func:`flask_paylinks.core.rules.https_url_problem`,
    checked again when the customer is sent: a URL saved under older rules
    (``http:``, a look-alike host) is not followed.
    """
    if not url or https_url_problem(url) is not None:
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
