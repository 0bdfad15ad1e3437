"""A rate limit on failed logins, per client address and per email address.

``LOGIN_RATELIMIT`` (default ``10 per minute``, Flask-Limiter syntax) is
counted twice: once per client address, which stops one machine trying
many passwords or many accounts, and once per email address, which stops
many machines sharing the guesses for one account. Only refused attempts
count, so a merchant who logs in is never slowed down by doing so. Past the
limit the login form comes back with a 429 and says how long to wait.

The CRM keeps its own :class:`~flask_limiter.Limiter` (the extension has
its own for the checkout); with ``REDIS_URL`` set, both count in Redis, so
every worker process shares the counts. Behind a proxy, apply Werkzeug's
``ProxyFix`` so the client address is the visitor's.
"""

from __future__ import annotations

import math
import time
from typing import Any

from flask import Flask, current_app, render_template, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from werkzeug.wrappers import Response

LOGIN_ENDPOINT = "auth.login"
MESSAGE = "Too many failed attempts to log in. Wait {wait} and try again."


def _email_key() -> str:
    email = request.form.get("email", "")
    return "email:" + email.strip().lower()[:320]


def _refused(response: Response) -> bool:
    # A successful login redirects; anything else was a refused attempt.
    return response.status_code != 302


def init_app(app: Flask) -> Limiter:
    """Limit failed POSTs to the login form on *app*; answer 429 with the form."""
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=app.config.get("PAYLINKS_REDIS_URL") or "memory://",
        strategy="fixed-window",
        key_prefix="crm-login",
        swallow_errors=True,
    )

    def login_limit() -> str:
        return str(current_app.config["LOGIN_RATELIMIT"])

    per_address = limiter.limit(
        login_limit, methods=["POST"], deduct_when=_refused, scope="login-address"
    )
    per_email = limiter.limit(
        login_limit,
        key_func=_email_key,
        methods=["POST"],
        deduct_when=_refused,
        scope="login-email",
    )
    views: dict[str, Any] = app.view_functions
    views[LOGIN_ENDPOINT] = per_address(per_email(views[LOGIN_ENDPOINT]))
    app.register_error_handler(RateLimitExceeded, _too_many_attempts)
    app.extensions["crm_login_limiter"] = limiter
    return limiter


def _wait_text(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    return "a minute" if minutes == 1 else f"{minutes} minutes"


def _too_many_attempts(error: RateLimitExceeded) -> Response | tuple[str, int]:
    if request.endpoint != LOGIN_ENDPOINT:
        return error.get_response()
    from .forms import LoginForm

    limiter: Limiter = current_app.extensions["crm_login_limiter"]
    reset_at = limiter.current_limit.reset_at if limiter.current_limit else 0
    wait = max(1, math.ceil(reset_at - time.time()))
    form = LoginForm()  # keeps the email typed, never the password
    error_text = MESSAGE.format(wait=_wait_text(wait))
    html = render_template("login.html", form=form, error=error_text, limited=True)
    response = current_app.make_response((html, 429))
    response.headers["Retry-After"] = str(wait)
    return response
