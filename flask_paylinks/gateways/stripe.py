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
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import stripe
from stripe.params import (
    CustomerCreateParams,
    PaymentIntentCreateParams,
    PaymentIntentSearchParams,
    PaymentMethodDomainCreateParams,
    RefundCreateParams,
)

from flask_paylinks.gateways.base import (
    GatewayError,
    GatewayRefused,
    Outcome,
    PaymentRequest,
    PaymentUpdate,
    RefundRequest,
    RefundResult,
    StartedPayment,
    StripeEvent,
    WebhookRejected,
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
            raise _refused_or_unreachable(error, _said(error)) from error
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

    def refund(self, request: RefundRequest) -> RefundResult:
        """Refund (part of) the PaymentIntent's charge, once per idempotency key.

        A Refund Stripe answers ``failed`` or ``canceled`` is a failed result;
        ``pending`` (some payment methods settle refunds later) counts as made,
        its final state reported by ``charge.refunded``. Raises
        :class:`GatewayError` when Stripe cannot be reached or refuses.
        """
        params: RefundCreateParams = {
            "payment_intent": request.gateway_payment_id,
            "amount": request.amount,
            "reason": request.reason,
        }
        try:
            refund = self.client.v1.refunds.create(
                params, {"idempotency_key": request.idempotency_key}
            )
        except stripe.StripeError as error:
            raise _refused_or_unreachable(error, _refund_said(error)) from error
        status = getattr(refund, "status", None)
        if status in ("failed", "canceled"):
            return RefundResult(
                gateway_refund_id=refund.id,
                succeeded=False,
                failure_message=_text(getattr(refund, "failure_reason", None))
                or f"Stripe reports the refund {status}.",
            )
        return RefundResult(gateway_refund_id=refund.id)

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
            stripe.WebhookSignature.verify_header(
                payload,
                signature,
                self.webhook_secret,
                tolerance=stripe.Webhook.DEFAULT_TOLERANCE,
            )
            raw = json.loads(payload)
        except stripe.SignatureVerificationError as error:
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

    # -- asking Stripe what became of a payment (the reconciler, the receipt) --

    def _owner_options(self, owner_id: str) -> stripe.RequestOptions:
        """The request options of a call made for *owner_id* (none yet).

        Connect adds the owner's ``stripe_account`` here.
        """
        return {}

    def look_up(self, gateway_payment_id: str, owner_id: str) -> PaymentUpdate | None:
        """Retrieve the PaymentIntent; its outcome, or ``None`` while it is unsettled.

        ``succeeded`` is a success; ``canceled``, or ``requires_payment_method``
        with a ``last_payment_error`` (a decline), a failure, as the matching
        webhooks say. Any other status (waiting for the customer, 3-D Secure,
        processing) is ``None``. The update's id is ``lookup:<pi>:<status>``
        and it carries Stripe's amount and currency. Raises
        :class:`GatewayError` when Stripe cannot be reached or refuses.
        """
        try:
            intent = self.client.v1.payment_intents.retrieve(
                gateway_payment_id, None, self._owner_options(owner_id)
            )
        except stripe.StripeError as error:
            raise _refused_or_unreachable(error, _lookup_said(error)) from error
        status = str(intent.status)
        problem = getattr(intent, "last_payment_error", None)
        if status == "succeeded":
            outcome = Outcome.SUCCEEDED
            kind = "payment_intent.succeeded"
        elif status == "canceled" or (
            status == "requires_payment_method" and problem is not None
        ):
            outcome = Outcome.FAILED
            kind = (
                "payment_intent.canceled"
                if status == "canceled"
                else "payment_intent.payment_failed"
            )
        else:
            return None
        code = message = None
        if problem is not None:
            code = _text(getattr(problem, "decline_code", None)) or _text(
                getattr(problem, "code", None)
            )
            message = _text(getattr(problem, "message", None))
        elif status == "canceled":
            code = _text(getattr(intent, "cancellation_reason", None)) or "canceled"
            message = "The payment was canceled."
        return PaymentUpdate(
            event_id=f"lookup:{intent.id}:{status}",
            type=kind,
            gateway_payment_id=intent.id,
            outcome=outcome,
            failure_code=code,
            failure_message=message,
            payload={"lookup": {"payment_intent": intent.id, "status": status}},
            amount=_whole(getattr(intent, "amount", None)),
            currency=str(intent.currency).upper() if intent.currency else None,
        )

    def find_started(self, reference: str, owner_id: str) -> str | None:
        """The PaymentIntent made for our payment *reference*, found by its metadata.

        Stripe's Search (``metadata['reference']``, a random reference; the
        owner checked too). Search lags writes by up to a minute, which the
        reconciler's age threshold covers. Raises :class:`GatewayError`.
        """
        params: PaymentIntentSearchParams = {
            "query": f"metadata['reference']:'{_quoted(reference)}'",
            "limit": 10,
        }
        try:
            found = self.client.v1.payment_intents.search(
                params, self._owner_options(owner_id)
            )
        except stripe.StripeError as error:
            raise _refused_or_unreachable(error, _lookup_said(error)) from error
        for intent in found.data:
            metadata = _plain(intent.metadata)
            if (
                metadata.get("reference") == reference
                and metadata.get("paylinks_owner") == owner_id
            ):
                return str(intent.id)
        return None

    def register_domain(self, domain: str) -> DomainRegistration:
        """Register *domain* for Apple Pay, Google Pay and Link on the host's account.

        ``payment_method_domains.create`` (Stripe answers an existing domain
        with the same object). Raises :class:`GatewayRefused` with Stripe's
        message for a bad domain, :class:`GatewayError` when unreachable.
        """
        params: PaymentMethodDomainCreateParams = {
            "domain_name": domain,
            "enabled": True,
        }
        try:
            made = self.client.v1.payment_method_domains.create(params)
        except stripe.StripeError as error:
            retry = (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError)
            said = (
                "Stripe did not answer; try again."
                if isinstance(error, retry)
                else str(error.user_message or error)
            )
            raise _refused_or_unreachable(error, said) from error

        def status(name: str) -> str:
            wallet = getattr(made, name, None)
            return str(getattr(wallet, "status", None) or "unknown")

        return DomainRegistration(
            id=made.id,
            domain=made.domain_name,
            enabled=bool(made.enabled),
            apple_pay=status("apple_pay"),
            google_pay=status("google_pay"),
            link=status("link"),
        )


@dataclass(frozen=True, slots=True)
class DomainRegistration:
    """A checkout domain as Stripe registered it, with each wallet's status."""

    id: str
    domain: str
    enabled: bool
    apple_pay: str
    google_pay: str
    link: str


def _plain(value: Any) -> dict[str, Any]:
    """A StripeObject (or a dict, or nothing) as a plain dict."""
    if isinstance(value, stripe.StripeObject):
        return value.to_dict()
    return dict(value) if isinstance(value, dict) else {}


def _quoted(value: str) -> str:
    """*value* inside a single-quoted Search query string."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _lookup_said(error: stripe.StripeError) -> str:
    """What the operator is told when a look-up fails."""
    if isinstance(error, (stripe.APIConnectionError, stripe.APIError)):
        return "Stripe did not answer; the payment is looked up again later."
    if isinstance(error, stripe.RateLimitError):
        return "Stripe is busy; the payment is looked up again later."
    return f"Stripe refused the look-up: {error.user_message or error}"


def _refused_or_unreachable(error: stripe.StripeError, said: str) -> GatewayError:
    """A :class:`GatewayError` to retry (network, 5xx, 429), else a refusal."""
    retry = (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError)
    return GatewayError(said) if isinstance(error, retry) else GatewayRefused(said)


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


def _refund_said(error: stripe.StripeError) -> str:
    """What the merchant is told when Stripe refuses or cannot be reached."""
    if isinstance(error, (stripe.APIConnectionError, stripe.APIError)):
        return "Stripe did not answer. Nothing was refunded; try again."
    if isinstance(error, stripe.RateLimitError):
        return "Stripe is busy. Nothing was refunded; try again."
    said = error.user_message or "Stripe refused the refund."
    return f"Stripe refused the refund: {said}"


def _text(value: Any) -> str | None:
    """*value* when it is a non-empty string, else ``None``."""
    return value if isinstance(value, str) and value else None


def _whole(value: Any) -> int | None:
    """*value* when it is an integer (not a bool), else ``None``."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None
