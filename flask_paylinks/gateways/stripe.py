"""Stripe: PaymentIntents confirmed in the browser, results by webhook.

Only this module imports :mod:`stripe`. ``PAYLINKS_STRIPE_API_BASE`` points
the client at another Stripe-compatible server (the tests use localstripe).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask_paylinks.gateways.base import (
    GatewayError,
    PaymentRequest,
    StartedPayment,
    StripeEvent,
    WebhookRejected,
)


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
        self._has_keys = bool(secret_key) and bool(publishable_key)
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

    def charges_problem(self, owner: str) -> str | None:
        """``None`` once the Stripe keys are configured (one account for every owner).

        Per-owner accounts (Stripe Connect) refine this in the Stripe issue.
        """
        if not self._has_keys:
            return (
                "Payments are not set up: the Stripe keys are missing. Ask the "
                "site's administrator to configure them."
            )
        return None

    def payment_fields(self, formdata: Any = None) -> None:
        """Stripe takes the card in its own browser widget: no fields of ours."""
        return

    def confirm(self, started: StartedPayment, fields: Mapping[str, Any]) -> None:
        """The browser confirms with Stripe; the outcome comes by webhook."""
        return

    def parse_webhook(self, payload: bytes, signature: str | None) -> StripeEvent:
        """Verify a webhook's ``Stripe-Signature`` on its raw body; return the event.

        stripe-python's own check (``WebhookSignature.verify_header``, which
        ``construct_event`` runs), with its default tolerance (300 s). A bad,
        missing or stale signature, a missing secret, or a body that is not a
        Stripe event raises :class:`WebhookRejected`.
        """
        try:
            # What StripeClient.construct_event checks, without building a
            # StripeObject from a body that may not be an event at all.
            self._stripe.WebhookSignature.verify_header(
                payload,
                signature,
                self.webhook_secret,
                tolerance=self._stripe.Webhook.DEFAULT_TOLERANCE,
            )
            raw = json.loads(payload)
        except self._stripe.SignatureVerificationError as error:
            raise WebhookRejected(str(error.user_message or error)) from error
        except ValueError as error:  # not UTF-8, not JSON, not a v1 event
            raise WebhookRejected("The body is not a Stripe event.") from error
        if not isinstance(raw, dict) or not isinstance(raw.get("data"), dict):
            raise WebhookRejected("The body is not a Stripe event.")
        event_id, kind, created = raw.get("id"), raw.get("type"), raw.get("created")
        if not isinstance(event_id, str) or not isinstance(kind, str):
            raise WebhookRejected("The event has no id or type.")
        obj = raw["data"].get("object")
        obj = obj if isinstance(obj, dict) else {}
        problem = obj.get("last_payment_error")
        problem = problem if isinstance(problem, dict) else {}
        is_intent = obj.get("object") == "payment_intent"
        intent = obj.get("id") if is_intent else obj.get("payment_intent")
        if isinstance(intent, dict):  # expanded
            intent = intent.get("id")
        currency = _text(obj.get("currency"))
        return StripeEvent(
            id=event_id,
            type=kind,
            account=_text(raw.get("account")),
            object_id=_text(obj.get("id")),
            payment_intent_id=_text(intent),
            amount=_whole(obj.get("amount")),
            currency=currency.upper() if currency else None,
            status=_text(obj.get("status")),
            created=_whole(created) or 0,
            raw=raw,
            failure_code=_text(
                problem.get("decline_code")
                or problem.get("code")
                or obj.get("failure_code")
                or obj.get("cancellation_reason")
            ),
            failure_message=_text(problem.get("message") or obj.get("failure_message")),
            amount_refunded=_whole(obj.get("amount_refunded")),
        )


def _text(value: Any) -> str | None:
    """*value* when it is a non-empty string, else ``None``."""
    return value if isinstance(value, str) and value else None


def _whole(value: Any) -> int | None:
    """*value* when it is an integer (not a bool), else ``None``."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None
