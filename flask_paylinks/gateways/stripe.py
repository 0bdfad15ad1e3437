"""Stripe: PaymentIntents confirmed in the browser, results by webhook.

Only this module imports :mod:`stripe`. ``PAYLINKS_STRIPE_API_BASE`` points
the client at another Stripe-compatible server (the tests use localstripe).

The client is pinned to :data:`API_VERSION`, the version this module's
requests and the webhook payloads it reads are written for, and retries a
request that failed on the network or with a 5xx (:data:`NETWORK_RETRIES`),
with the same idempotency key, so a retry never makes a second object.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import stripe
from stripe.params import CustomerCreateParams, PaymentIntentCreateParams

from flask_paylinks.gateways.base import (
    GatewayError,
    PaymentRequest,
    StartedPayment,
)
from flask_paylinks.gateways.customers import remember_customer, remembered_customer

#: The Stripe API version every request is made with (stripe-python 16's own).
API_VERSION = "2026-10-28.endive"
#: Retries of a request that failed on the network, with a 409 or a 5xx.
NETWORK_RETRIES = 2
#: Said to the customer when Stripe cannot be reached: nothing was charged.
UNREACHABLE = "The payment service did not answer. Nothing was charged; try again."


class StripeGateway:
    """One-time payments through Stripe PaymentIntents, on the host's own account.

    Recurring purchases need Stripe Subscriptions, which this gateway does
    not create yet: :meth:`start_payment` refuses them with a clear error.
    Connect (a Stripe account per owner) is not built yet either.
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
        self.publishable_key = publishable_key
        self._has_keys = bool(secret_key) and bool(publishable_key)
        self.webhook_secret = webhook_secret
        self.test_mode = secret_key.startswith(("sk_test_", "rk_test_"))
        #: Names the account customers are remembered in: the host's own
        #: account, in test or live mode (a customer exists in one mode only).
        self.account = "platform-test" if self.test_mode else "platform-live"
        self.client = stripe.StripeClient(
            secret_key,
            stripe_version=API_VERSION,
            max_network_retries=NETWORK_RETRIES,
            base_addresses={"api": api_base} if api_base else None,
        )

    def start_payment(self, request: PaymentRequest) -> StartedPayment:
        """Create (or, for a repeated key, get back) the PaymentIntent.

        It carries the server's total and currency, lets Stripe offer the
        payment methods the account enables (card, Apple Pay, Google Pay,
        Link), names our payment in its metadata, and belongs to the
        Customer of the payer's email. Raises :class:`GatewayError` when
        Stripe cannot be reached or refuses.
        """
        if request.recurring is not None:
            raise GatewayError(
                "The Stripe gateway does not take recurring payments yet."
            )
        try:
            customer = self._customer(request)
            params: PaymentIntentCreateParams = {
                "amount": request.amount,
                "currency": request.currency.lower(),
                "automatic_payment_methods": {"enabled": True},
                "description": request.description[:1000],
                "metadata": _metadata(request),
            }
            if customer is not None:
                params["customer"] = customer
            intent = self.client.v1.payment_intents.create(
                params, {"idempotency_key": request.idempotency_key}
            )
        except stripe.StripeError as error:
            raise GatewayError(_said(error)) from error
        return StartedPayment(
            gateway_payment_id=intent.id,
            client_secret=intent.client_secret,
            gateway_customer_id=customer,
        )

    def _customer(self, request: PaymentRequest) -> str | None:
        """The Customer of the payer's email for this owner: reused, else created.

        Created with an idempotency key derived from the account, owner and
        email, so two first payments at once make one Customer.
        """
        if not request.customer_email.strip() or not request.owner_id:
            return None
        known = remembered_customer(
            self.name, self.account, request.owner_id, request.customer_email
        )
        if known is not None:
            return known
        email = request.customer_email.strip()
        params: CustomerCreateParams = {
            "email": email,
            "metadata": {"paylinks_owner": request.owner_id},
        }
        seed = f"{self.account}:{request.owner_id}:{email.lower()}"
        key = "paylinks-customer-" + hashlib.sha256(seed.encode()).hexdigest()
        created = self.client.v1.customers.create(params, {"idempotency_key": key})
        return remember_customer(
            self.name, self.account, request.owner_id, email, created.id
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


def _metadata(request: PaymentRequest) -> dict[str, str]:
    """What names our payment on the PaymentIntent (Stripe keeps strings)."""
    named = {
        "paylinks_owner": request.owner_id,
        "paylinks_link": "" if request.link_id is None else str(request.link_id),
        "paylinks_payment": (
            "" if request.payment_id is None else str(request.payment_id)
        ),
        "paylinks_attempt": request.attempt,
        "reference": request.reference,
    }
    return {**request.metadata, **{k: v for k, v in named.items() if v}}


def _said(error: stripe.StripeError) -> str:
    """What the customer is told about *error*: never Stripe's internals."""
    if isinstance(error, (stripe.APIConnectionError, stripe.APIError)):
        return UNREACHABLE
    if isinstance(error, stripe.RateLimitError):
        return UNREACHABLE
    return str(error.user_message or "The payment could not be started; try again.")
