"""Stripe's webhook endpoint: thin over :mod:`flask_paylinks.payments.webhooks`."""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue

from flask_paylinks.core.errors import NotFound
from flask_paylinks.gateways.base import WebhookRejected
from flask_paylinks.payments import webhooks
from flask_paylinks.web.webhooks import blueprint

_TEXT = {"Content-Type": "text/plain"}


@blueprint.post("/stripe")
def stripe_events() -> ResponseReturnValue:
    """One signed event: 400 unverified, 503 not applied (Stripe retries), else 200."""
    try:
        event = webhooks.parse_stripe(
            request.get_data(), request.headers.get("Stripe-Signature")
        )
    except WebhookRejected:
        return "Bad signature\n", 400, _TEXT
    except NotFound:
        return "Not found\n", 404, _TEXT
    try:
        received = webhooks.receive(event)
    except webhooks.WebhookFailed:
        return "Not applied; retry later\n", 503, _TEXT
    return f"{received.action}\n", 200, _TEXT
