"""Payment gateways, chosen by ``PAYLINKS_GATEWAY``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_paylinks.gateways.base import (
    BrowserStep,
    Gateway,
    GatewayError,
    Outcome,
    PaymentFields,
    PaymentRequest,
    PaymentUpdate,
    RecurringTerms,
    StartedPayment,
)
from flask_paylinks.gateways.sandbox import SandboxGateway

__all__ = [
    "BrowserStep",
    "Gateway",
    "GatewayError",
    "Outcome",
    "PaymentFields",
    "PaymentRequest",
    "PaymentUpdate",
    "RecurringTerms",
    "SandboxGateway",
    "StartedPayment",
    "create_gateway",
]


def create_gateway(
    config: Mapping[str, Any], *, stripe_account_for: Any = None
) -> Gateway:
    """The gateway ``PAYLINKS_GATEWAY`` names, built from its keys.

    *stripe_account_for* is the host's owner -> connected account lookup
    (Stripe Connect without the onboarding page).
    """
    if config["PAYLINKS_GATEWAY"] == "stripe":
        from flask_paylinks.gateways.stripe import STRIPE_JS_URL, StripeGateway

        return StripeGateway(
            secret_key=config["PAYLINKS_STRIPE_SECRET_KEY"],
            publishable_key=config["PAYLINKS_STRIPE_PUBLISHABLE_KEY"],
            webhook_secret=config.get("PAYLINKS_STRIPE_WEBHOOK_SECRET"),
            api_base=config.get("PAYLINKS_STRIPE_API_BASE"),
            js_url=config.get("PAYLINKS_STRIPE_JS_URL") or STRIPE_JS_URL,
            connect=bool(config.get("PAYLINKS_STRIPE_CONNECT")),
            application_fee_bps=config.get("PAYLINKS_STRIPE_APPLICATION_FEE_BPS") or 0,
            account_for=stripe_account_for,
            connect_webhook_secret=config.get("PAYLINKS_STRIPE_CONNECT_WEBHOOK_SECRET"),
        )
    return SandboxGateway()
