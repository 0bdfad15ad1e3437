"""Rate limits on the public checkout, with Flask-Limiter.

Two limits, per client address, from the ``PAYLINKS_RATELIMIT_*`` keys:

* ``PAYLINKS_RATELIMIT_CHECKOUT`` on starting payments (every POST of the
  pay form);
* ``PAYLINKS_RATELIMIT_COUPON`` on coupon codes that are refused, on the pay
  form and the quote endpoint together: guessing codes is what it stops, so
  a valid code never uses it up.

Each app gets its own :class:`~flask_limiter.Limiter` (Redis storage when
``PAYLINKS_REDIS_URL`` is set, memory otherwise), and the checkout's view
functions are wrapped on that app only, so several apps in one process keep
their limits apart. Behind a proxy the host should apply Werkzeug's
``ProxyFix`` so the client address is the customer's.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

REFUSED_KEY = "paylinks.coupon_refused"
CHECKOUT_SCOPE = "paylinks-checkout"
COUPON_SCOPE = "paylinks-coupon"
#: Checkout endpoints and the limits each one gets.
PAY_ENDPOINT = "paylinks_checkout.pay"
QUOTE_ENDPOINT = "paylinks_checkout.quote"
LIMITED_ENDPOINTS = frozenset({PAY_ENDPOINT, QUOTE_ENDPOINT})
#: Flask-Limiter settings (shared with any limiter of the host's) that would
#: limit other endpoints too; with one set, every request is checked.
APP_WIDE_LIMITS = (
    "RATELIMIT_DEFAULT",
    "RATELIMIT_APPLICATION",
    "RATELIMIT_META",
    "RATELIMIT_IN_MEMORY_FALLBACK",
)


def mark_coupon_refused() -> None:
    """Count this request against the coupon limit (the code was refused)."""
    request.environ[REFUSED_KEY] = True


def _coupon_refused(response: Any) -> bool:
    return bool(request.environ.get(REFUSED_KEY))


def _no_coupon_sent() -> bool:
    return not (request.form.get("coupon") or "").strip()


def _not_limited() -> bool:
    return request.endpoint not in LIMITED_ENDPOINTS


def init_app(app: Flask) -> Limiter | None:
    """Create the app's limiter and wrap the checkout views; ``None`` when off."""
    config = app.config
    if not config["PAYLINKS_RATELIMIT_ENABLED"]:
        return None
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=config.get("PAYLINKS_REDIS_URL") or "memory://",
        strategy="fixed-window",
        key_prefix="paylinks",
        # A limiter outage must not stop people paying.
        swallow_errors=True,
    )
    coupon_limit = limiter.shared_limit(
        lambda: str(app.config["PAYLINKS_RATELIMIT_COUPON"]),
        scope=COUPON_SCOPE,
        exempt_when=_no_coupon_sent,
        deduct_when=_coupon_refused,
        override_defaults=False,
    )
    checkout_limit = limiter.limit(
        lambda: str(app.config["PAYLINKS_RATELIMIT_CHECKOUT"]),
        scope=CHECKOUT_SCOPE,
        override_defaults=False,
    )
    if not any(config.get(key) for key in APP_WIDE_LIMITS):
        # Only two endpoints have limits: every other request (the checkout
        # page itself, the host's routes) skips Flask-Limiter's resolution.
        limiter.request_filter(_not_limited)
    views: dict[str, Any] = app.view_functions
    views[PAY_ENDPOINT] = checkout_limit(coupon_limit(views[PAY_ENDPOINT]))
    views[QUOTE_ENDPOINT] = coupon_limit(views[QUOTE_ENDPOINT])
    return limiter
