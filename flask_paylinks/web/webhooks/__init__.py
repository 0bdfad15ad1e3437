"""Provider callbacks: Stripe's events, Vonage's delivery receipts and inbound SMS.

Mounted under ``PAYLINKS_WEBHOOK_PREFIX``; exempt from the host's CSRF
protection (a provider posts them, not a browser), and checked against
Vonage's signature instead when ``PAYLINKS_VONAGE_SIGNATURE_SECRET`` is set.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, current_app, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import RequestEntityTooLarge

log = logging.getLogger(__name__)

blueprint = Blueprint("paylinks_webhooks", __name__)

#: Largest callback body read, in bytes. Stripe's events and Vonage's
#: callbacks are a few kilobytes; a bigger body is refused unread.
MAX_BODY_BYTES = 1024 * 1024


@blueprint.before_request
def _cap_body() -> None:
    host = current_app.config.get("MAX_CONTENT_LENGTH")
    request.max_content_length = min(MAX_BODY_BYTES, host or MAX_BODY_BYTES)


@blueprint.errorhandler(RequestEntityTooLarge)
def _too_large(error: RequestEntityTooLarge) -> ResponseReturnValue:
    return "Body too large\n", 413, {"Content-Type": "text/plain"}


def init_app(app: Flask) -> None:
    """Register the callbacks on *app*, exempt from CSRF; warn when unsigned."""
    app.register_blueprint(blueprint, url_prefix=app.config["PAYLINKS_WEBHOOK_PREFIX"])
    if "csrf" in app.extensions:
        app.extensions["csrf"].exempt(blueprint)
    else:
        # The host may set up CSRFProtect after PayLinks: exempt the blueprint
        # the first time a request comes, before CSRFProtect's own hook runs
        # (this one was registered first).
        app.before_request(_exempt_when_csrf_appears(app))
    if app.config["PAYLINKS_SMS_BACKEND"] == "vonage" and not app.config.get(
        "PAYLINKS_VONAGE_SIGNATURE_SECRET"
    ):
        log.warning(
            "PAYLINKS_VONAGE_SIGNATURE_SECRET is not set: Vonage delivery receipts "
            "and inbound SMS (STOP) are accepted without a signature, so anyone "
            "who knows the URLs can post them. Set the account's signature secret."
        )


def _exempt_when_csrf_appears(app: Flask) -> Any:
    done = False

    def exempt() -> None:
        nonlocal done
        if not done and "csrf" in app.extensions:
            app.extensions["csrf"].exempt(blueprint)
            done = True

    return exempt


from flask_paylinks.web.webhooks import stripe, views  # noqa: E402, F401  (registers the routes)
