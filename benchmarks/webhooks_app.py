"""The app the webhook benchmark serves: the example CRM on Stripe, plus two baselines.

Both baselines are routes of the same app, with the same extensions and
hooks as ``/paylinks/webhooks/stripe``:

* ``POST /bench/bare`` reads the body and returns "ok";
* ``POST /bench/verify`` also checks its ``Stripe-Signature`` with
  stripe-python's ``WebhookSignature.verify_header`` (as the gateway does)
  and returns "ok", or 400.

So the figures split what the endpoint costs into Flask, the signature and
the rest (parsing, storing the event, the state change, the follow-ups).
The keys are the tests' test-mode ones; the webhook path never calls Stripe.
"""

from __future__ import annotations

from typing import Any

import stripe
from flask import Flask, request
from flask.typing import ResponseReturnValue

import example_app
from example_app.extensions import csrf

WEBHOOK_SECRET = "whsec_paylinks_test"  # noqa: S105 (the tests' test-mode secret)
STRIPE_SETTINGS = {
    "PAYLINKS_GATEWAY": "stripe",
    "PAYLINKS_STRIPE_SECRET_KEY": "sk_test_paylinks",
    "PAYLINKS_STRIPE_PUBLISHABLE_KEY": "pk_test_paylinks",
    "PAYLINKS_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
}


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The example CRM (settings from the environment) on Stripe, with the baselines."""
    app = example_app.create_app({**STRIPE_SETTINGS, **(config or {})})

    @app.post("/bench/bare")
    @csrf.exempt
    def bare() -> ResponseReturnValue:
        request.get_data()
        return "ok"

    @app.post("/bench/verify")
    @csrf.exempt
    def verify() -> ResponseReturnValue:
        try:
            stripe.WebhookSignature.verify_header(
                request.get_data(),
                request.headers.get("Stripe-Signature"),
                app.config["PAYLINKS_STRIPE_WEBHOOK_SECRET"],
                tolerance=stripe.Webhook.DEFAULT_TOLERANCE,
            )
        except (stripe.SignatureVerificationError, UnicodeDecodeError):
            return "Bad signature\n", 400
        return "ok"

    return app
