"""Stripe: PaymentIntents confirmed in the browser, results by webhook.

Only this module imports :mod:`stripe`. ``PAYLINKS_STRIPE_API_BASE`` points
the client at another Stripe-compatible server (the tests use localstripe).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_paylinks.gateways.base import (
    GatewayError,
    Outcome,
    PaymentRequest,
    PaymentUpdate,
    StartedPayment,
)

#: Stripe event types that settle a payment, and what they mean.
EVENT_OUTCOMES = {
    "payment_intent.succeeded": Outcome.SUCCEEDED,
    "payment_intent.payment_failed": Outcome.FAILED,
    "payment_intent.canceled": Outcome.FAILED,
    "charge.refunded": Outcome.REFUNDED,
}


class StripeGateway:
    """One-time payments through Stripe PaymentIntents.

    Recurring purchases need Stripe Subscriptions, which this gateway does
    not create yet: :meth:`start_payment` refuses them with a clear error.
    """

    name = "stripe"

    def __init__(
        self,
        *,
        secret_key: str,
        publishable_key: str,
        webhook_secret: str | None = None,
        api_base: str | None = None,
    ) -> None:
        import stripe

        self.publishable_key = publishable_key
        self.webhook_secret = webhook_secret
        self.test_mode = secret_key.startswith(("sk_test_", "rk_test_"))
        self._stripe = stripe
        options: dict[str, Any] = {"max_network_retries": 2}
        if api_base:
            options["base_addresses"] = {"api": api_base}
        self.client = stripe.StripeClient(secret_key, **options)

    def start_payment(self, request: PaymentRequest) -> StartedPayment:
        """Create (or, for a repeated key, fetch) the PaymentIntent."""
        if request.recurring is not None:
            raise GatewayError(
                "The Stripe gateway does not take recurring payments yet."
            )
        params: dict[str, Any] = {
            "amount": request.amount,
            "currency": request.currency.lower(),
            "description": request.description[:1000],
            "metadata": {"reference": request.reference, **request.metadata},
            "payment_method_types": ["card"],
        }
        if request.customer_email:
            params["receipt_email"] = request.customer_email
        try:
            intent = self.client.v1.payment_intents.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": request.idempotency_key},
            )
        except self._stripe.StripeError as error:
            raise GatewayError(str(error.user_message or error)) from error
        return StartedPayment(
            gateway_payment_id=str(intent.id),
            client_secret=str(intent.client_secret),
        )

    def payment_fields(self, formdata: Any = None) -> None:
        """Stripe takes the card in its own browser widget: no fields of ours."""
        return

    def confirm(self, started: StartedPayment, fields: Mapping[str, Any]) -> None:
        """The browser confirms with Stripe; the outcome comes by webhook."""
        return

    def parse_webhook(
        self, body: bytes, headers: Mapping[str, str]
    ) -> PaymentUpdate | None:
        """Verify the signature and read a payment event; others give ``None``."""
        if not self.webhook_secret:
            raise GatewayError("PAYLINKS_STRIPE_WEBHOOK_SECRET is not set.")
        try:
            event = self._stripe.Webhook.construct_event(
                body, headers.get("Stripe-Signature"), self.webhook_secret
            )
        except (ValueError, self._stripe.SignatureVerificationError) as error:
            raise GatewayError(f"Stripe webhook refused: {error}") from error
        outcome = EVENT_OUTCOMES.get(str(event["type"]))
        if outcome is None:
            return None
        obj = event["data"]["object"]
        intent_id = obj["payment_intent"] if outcome is Outcome.REFUNDED else obj["id"]
        last_error = obj.get("last_payment_error") or {}
        return PaymentUpdate(
            event_id=str(event["id"]),
            type=str(event["type"]),
            gateway_payment_id=str(intent_id),
            outcome=outcome,
            failure_code=last_error.get("decline_code") or last_error.get("code"),
            failure_message=last_error.get("message"),
            payload=event.to_dict(),
        )

    def refund(self, gateway_payment_id: str, amount: int) -> PaymentUpdate:
        """Refund *amount* of the PaymentIntent; the webhook confirms it later."""
        try:
            refund = self.client.v1.refunds.create(
                params={"payment_intent": gateway_payment_id, "amount": amount}
            )
        except self._stripe.StripeError as error:
            raise GatewayError(str(error.user_message or error)) from error
        return PaymentUpdate(
            event_id=f"refund:{refund.id}",
            type="refund.created",
            gateway_payment_id=gateway_payment_id,
            outcome=Outcome.REFUNDED,
            payload={"refund": str(refund.id), "amount": amount},
        )
