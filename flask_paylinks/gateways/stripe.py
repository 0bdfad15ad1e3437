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
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import stripe
from stripe.params import (
    AccountCreateParams,
    AccountLinkCreateParams,
    CouponCreateParams,
    CustomerCreateParams,
    PaymentIntentCreateParams,
    PaymentIntentSearchParams,
    PaymentMethodDomainCreateParams,
    PriceCreateParams,
    ProductCreateParams,
    RefundCreateParams,
    SubscriptionCreateParams,
)

from flask_paylinks.gateways.base import (
    BrowserStep,
    ChargeLine,
    CspSources,
    DiscountTerms,
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
from flask_paylinks.gateways.prices import (
    PriceTerms,
    RememberedPrice,
    remember_price,
    remembered_price,
    remembered_product,
)
from flask_paylinks.gateways.stripe_accounts import (
    AccountState,
    AccountStatus,
    account_of,
    charges_problem_of,
    link_account,
    owners_connected,
    save_state,
    state_from_object,
    stored_state,
)

log = logging.getLogger(__name__)

#: The Stripe API version every request is made with (stripe-python 16's own).
API_VERSION = "2026-10-28.endive"
#: Retries of a request that failed on the network, with a 409 or a 5xx.
NETWORK_RETRIES = 2
#: Where Stripe.js is loaded from (``PAYLINKS_STRIPE_JS_URL``'s default).
STRIPE_JS_URL = "https://js.stripe.com/v3/"
#: The origins Stripe documents for a Content-Security-Policy that allows
#: Stripe.js: its script, its frames (and 3-D Secure's), its API calls.
STRIPE_JS_CSP: dict[str, tuple[str, ...]] = {
    "script-src": ("https://js.stripe.com",),
    "frame-src": ("https://js.stripe.com", "https://hooks.stripe.com"),
    "connect-src": ("https://api.stripe.com",),
}
#: Text, background and error colours of the Payment Element: readable on
#: each other (WCAG AA), whatever the link's brand colour.
ELEMENT_TEXT = "#111827"
ELEMENT_BACKGROUND = "#FFFFFF"
ELEMENT_DANGER = "#B91C1C"
#: Said to the customer when Stripe cannot be reached: nothing was charged.
UNREACHABLE = "The payment service did not answer. Nothing was charged; try again."
#: Said when an owner has no connected account in Connect mode.
CONNECT_FIRST = "Connect your Stripe account first, in Payments settings."
#: A host-supplied account lookup: owner id -> ``acct_...`` or ``None``.
AccountFor = Callable[[str], "str | None"]


#: The longest event id stored (``paylinks_gateway_events.event_id``).
MAX_EVENT_ID = 255
#: How far past now an event's ``created`` may be; later ones count as unknown
#: (0), so a bogus future time never holds a status against newer reports.
CREATED_SLACK_SECONDS = 86_400


#: Stripe's three-decimal currencies: an API amount's last digit must be 0.
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


def application_fee_amount(amount: int, bps: int, currency: str = "") -> int:
    """The platform's fee on *amount* (minor units) at *bps* basis points, rounded down.

    What a PaymentIntent's ``application_fee_amount`` carries. In a
    three-decimal *currency* it is rounded down to a multiple of ten, as
    Stripe refuses any other amount there.
    """
    fee = amount * bps // 10_000
    if currency.upper() in THREE_DECIMAL:
        fee -= fee % 10
    return fee


def application_fee_percent(bps: int) -> float:
    """*bps* as the percent a Subscription's ``application_fee_percent`` takes."""
    return bps / 100


class StripeGateway:
    """One-time payments through Stripe PaymentIntents, on the host's own account.

    A recurring purchase becomes a Stripe Subscription
    (:meth:`start_subscription`).

    With *connect*, each owner is paid into their own Stripe account (direct
    charges): every call made for an owner carries that account as
    ``stripe_account`` (the ``Stripe-Account`` header), through
    :meth:`_options`. The account is the one the owner connected on the
    Payments settings page, or the one the host's *account_for* names.
    *application_fee_bps* is the platform's fee in basis points.
    """

    name = "stripe"

    def __init__(
        self,
        *,
        secret_key: str,
        publishable_key: str,
        webhook_secret: str | None = None,
        api_base: str | None = None,
        js_url: str = STRIPE_JS_URL,
        connect: bool = False,
        application_fee_bps: int = 0,
        account_for: AccountFor | None = None,
        connect_webhook_secret: str | None = None,
    ) -> None:
        self.connect_webhook_secret = connect_webhook_secret
        self.connect = connect or account_for is not None
        self.application_fee_bps = application_fee_bps
        self._account_for = account_for
        self.publishable_key = publishable_key
        self.js_url = js_url
        self._has_keys = bool(secret_key) and bool(publishable_key)
        self.webhook_secret = webhook_secret
        self.test_mode = secret_key.startswith(("sk_test_", "rk_test_"))
        #: Names the account customers are remembered in: the host's own
        #: account, in test or live mode (a customer exists in one mode only).
        #: In Connect mode, customers live in the owner's connected account.
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
            return self.start_subscription(request)
        try:
            options = self._options(request.owner_id, request.idempotency_key)
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
            if "stripe_account" in options and self.application_fee_bps:
                params["application_fee_amount"] = application_fee_amount(
                    request.amount, self.application_fee_bps, request.currency
                )
            intent = self.client.v1.payment_intents.create(params, options)
        except stripe.StripeError as error:
            raise _refused_or_unreachable(error, _said(error)) from error
        return StartedPayment(
            gateway_payment_id=intent.id,
            client_secret=intent.client_secret,
            gateway_customer_id=customer,
            gateway_account=options.get("stripe_account"),
        )

    def _customer(self, request: PaymentRequest) -> str | None:
        """The Customer of the payer's email for this owner: reused, else created.

        Created with an idempotency key derived from the account, owner and
        email, so two first payments at once make one Customer.
        """
        if not request.customer_email.strip() or not request.owner_id:
            return None
        account = self.connected_account(request.owner_id) or self.account
        known = remembered_customer(
            self.name, account, request.owner_id, request.customer_email
        )
        if known is not None:
            return known
        email = request.customer_email.strip()
        params: CustomerCreateParams = {
            "email": email,
            "metadata": {"paylinks_owner": request.owner_id},
        }
        seed = f"{account}:{request.owner_id}:{email.lower()}"
        key = "paylinks-customer-" + hashlib.sha256(seed.encode()).hexdigest()
        created = self.client.v1.customers.create(
            params, self._options(request.owner_id, key)
        )
        return remember_customer(
            self.name, account, request.owner_id, email, created.id
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
                params, self._options(request.owner_id, request.idempotency_key)
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
        """Why *owner* cannot take charges now, or ``None`` when they can.

        Single-account mode: only missing keys stop it. Connect mode: the
        owner needs a connected account on which Stripe has enabled charges
        (its stored state; retrieved once when none is stored yet).
        """
        if not self._has_keys:
            return (
                "Payments are not set up: the Stripe keys are missing. Ask the "
                "site's administrator to configure them."
            )
        if not self.connect:
            return None
        try:
            return charges_problem_of(self._state(owner, refresh=False))
        except GatewayError as error:
            return str(error)

    # -- Connect ----------------------------------------------------------------

    def _options(
        self, owner: str, idempotency_key: str | None = None
    ) -> stripe.RequestOptions:
        """The request options of every API call made for *owner*'s money.

        In Connect mode they carry the owner's connected account as
        ``stripe_account`` (sent as the ``Stripe-Account`` header), so the
        object is made in the merchant's own Stripe account; in single-account
        mode, only the idempotency key. **Any new call made for an owner (a
        Subscription, a PaymentIntent lookup…) must take its options from
        here.** Raises :class:`GatewayError` (:data:`CONNECT_FIRST`) when a
        Connect owner has no account.
        """
        options: stripe.RequestOptions = {}
        if idempotency_key is not None:
            options["idempotency_key"] = idempotency_key
        if self.connect:
            account = self.connected_account(owner)
            if account is None:
                raise GatewayError(CONNECT_FIRST)
            options["stripe_account"] = account
        return options

    def connected_account(self, owner: str) -> str | None:
        """The ``acct_...`` id *owner* is paid into (Connect), else ``None``.

        With a host's ``stripe_account_for``, its answer; the first time an
        account is named, it is stored, so a webhook from it finds its owner.
        """
        if not self.connect or not owner:
            return None
        livemode = not self.test_mode
        if self._account_for is None:
            row = account_of(owner, livemode)
            return row.account_id if row is not None else None
        try:
            named = self._account_for(owner)
        except Exception as error:
            log.exception("stripe_account_for(%r) raised", owner)
            raise GatewayError(
                "The site could not tell which Stripe account to use; try again."
            ) from error
        if not isinstance(named, str) or not named.startswith("acct_"):
            return None
        try:
            # Without a commit: this runs inside the caller's own transaction.
            link_account(owner, named, livemode, commit=False)
        except ValueError as error:
            raise GatewayError(
                "This Stripe account is already another merchant's."
            ) from error
        return named

    def account_status(self, owner: str, *, refresh: bool = False) -> AccountStatus:
        """What the Payments settings page shows for *owner*.

        *refresh* retrieves the account from Stripe first (on the return from
        onboarding, and always for a host-named account). Raises
        :class:`GatewayError` when Stripe cannot be reached.
        """
        if not self.connect:
            return AccountStatus(mode="single", problem=self.charges_problem(owner))
        mode = "host" if self._account_for is not None else "connect"
        state = self._state(owner, refresh=refresh or mode == "host")
        return AccountStatus(
            mode=mode,
            account_id=state.account_id if state is not None else None,
            state=state,
            problem=charges_problem_of(state),
            can_onboard=mode == "connect"
            and (
                state is None
                or not state.details_submitted
                or bool(state.requirements_due)
            ),
        )

    def _state(self, owner: str, *, refresh: bool) -> AccountState | None:
        """*owner*'s account state: stored, else (or when asked) retrieved."""
        account = self.connected_account(owner)
        if account is None:
            return None
        row = account_of(owner, not self.test_mode)
        if row is not None and row.last_event_created and not refresh:
            return stored_state(row)
        try:
            found = self.client.v1.accounts.retrieve(account)
        except stripe.StripeError as error:
            raise GatewayError(_account_said(error)) from error
        # A retrieve is the truth as of now: older events then lose to it.
        saved = save_state(state_from_object(found.to_dict()), int(time.time()))
        return stored_state(saved) if saved is not None else None

    def onboarding_url(self, owner: str, *, refresh_url: str, return_url: str) -> str:
        """Where *owner* goes to connect (or finish connecting) a Stripe account.

        Creates the owner's account the first time (once: the idempotency key
        is the owner's, and the account is stored), then an Account Link of
        type ``account_onboarding``. Raises :class:`GatewayError` when Stripe
        cannot be reached or refuses, or when the host names accounts itself.
        """
        if not self.connect or self._account_for is not None:
            raise GatewayError("Accounts are not connected from this page here.")
        try:
            account = self.connected_account(owner) or self._create_account(owner)
            params: AccountLinkCreateParams = {
                "account": account,
                "type": "account_onboarding",
                "refresh_url": refresh_url,
                "return_url": return_url,
            }
            link = self.client.v1.account_links.create(params)
        except stripe.StripeError as error:
            raise GatewayError(_account_said(error)) from error
        return link.url

    def _create_account(self, owner: str) -> str:
        """Create *owner*'s connected account, store it, and return its id.

        The merchant owns it as a standard Stripe account (the full Stripe
        Dashboard, Stripe's fees and risk), which direct charges suit.
        """
        livemode = not self.test_mode
        params: AccountCreateParams = {
            "controller": {
                "fees": {"payer": "account"},
                "losses": {"payments": "stripe"},
                "requirement_collection": "stripe",
                "stripe_dashboard": {"type": "full"},
            },
            "metadata": {"paylinks_owner": owner},
        }
        mode = "live" if livemode else "test"
        key = (
            "paylinks-account-" + hashlib.sha256(f"{mode}:{owner}".encode()).hexdigest()
        )
        created = self.client.v1.accounts.create(params, {"idempotency_key": key})
        try:
            link_account(owner, created.id, livemode)
        except ValueError as error:  # pragma: no cover - Stripe's ids are new
            raise GatewayError(
                "Stripe answered with another merchant's account."
            ) from error
        save_state(state_from_object(created.to_dict()), int(time.time()))
        return created.id

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
            self._verify(payload, signature)
            raw = json.loads(payload, parse_constant=_no_constant)
            _storable(raw)
        except stripe.SignatureVerificationError as error:
            raise WebhookRejected(str(error.user_message or error)) from error
        except (ValueError, RecursionError) as error:
            # Not UTF-8, not JSON, not a v1 event, or JSON no database stores.
            raise WebhookRejected("The body is not a Stripe event.") from error
        if not isinstance(raw, dict) or not isinstance(raw.get("data"), dict):
            raise WebhookRejected("The body is not a Stripe event.")
        event_id, kind, created = raw.get("id"), raw.get("type"), raw.get("created")
        if not isinstance(event_id, str) or not isinstance(kind, str):
            raise WebhookRejected("The event has no id or type.")
        if not 0 < len(event_id) <= MAX_EVENT_ID:
            raise WebhookRejected("The event's id is not a Stripe id.")
        created = _whole(created)
        if created is None or not 0 <= created <= time.time() + CREATED_SLACK_SECONDS:
            created = 0  # unknown: older than any report, so it overrides none
        # Present but not an id (a number, say): still a connected account's
        # event, so it is nobody's and parked, never taken as the platform's.
        account = raw.get("account")
        account = None if account is None else str(account)
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
            account=account,
            object_id=_text(obj.get("id")),
            payment_intent_id=_text(intent),
            amount=_whole(obj.get("amount")),
            currency=currency.upper() if currency else None,
            status=_text(obj.get("status")),
            created=created,
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

    def _verify(self, payload: bytes, signature: str | None) -> None:
        """Check *signature* with the platform endpoint's secret, else the Connect one.

        Stripe signs a Connect endpoint with its own secret, even at our one
        URL; the first secret's error is the one raised when neither fits.
        """
        given = [self.webhook_secret, self.connect_webhook_secret]
        first: stripe.SignatureVerificationError | None = None
        for secret in [s for s in given if s] or [""]:
            try:
                stripe.WebhookSignature.verify_header(
                    payload,
                    signature,
                    secret,
                    tolerance=stripe.Webhook.DEFAULT_TOLERANCE,
                )
            except stripe.SignatureVerificationError as error:
                first = first or error
            else:
                return
        assert first is not None
        raise first

    # -- subscriptions ---------------------------------------------------------

    def start_subscription(self, request: PaymentRequest) -> StartedPayment:
        """Create (or, for a repeated key, get back) the Subscription of *request*.

        Its item is the recurring product's remembered Price; the one-time
        products go on the first invoice (``add_invoice_items``, their own
        one-time Prices); the coupon becomes a Stripe coupon of the same
        duration. ``payment_behavior='default_incomplete'`` leaves the first
        invoice's PaymentIntent for the browser to confirm with the client
        secret returned here. That PaymentIntent is the payment's
        ``gateway_payment_id``. When Stripe's first invoice is not the
        server's quote, the subscription is cancelled and :class:`GatewayError`
        raised: nothing is charged on other terms.
        """
        plan = next((line for line in request.lines if line.interval), None)
        if plan is None:
            raise GatewayRefused("This purchase cannot be charged as a subscription.")
        try:
            customer = self._customer(request) or self._guest_customer(request)
            params: SubscriptionCreateParams = {
                "customer": customer,
                "items": [
                    {"price": self._price(request, plan), "quantity": plan.quantity}
                ],
                "payment_behavior": "default_incomplete",
                "payment_settings": {"save_default_payment_method": "on_subscription"},
                "expand": [
                    "latest_invoice.confirmation_secret",
                    "latest_invoice.payments",
                ],
                "description": request.description[:500],
                "metadata": _metadata(request),
            }
            extras = [line for line in request.lines if not line.interval]
            if extras:
                params["add_invoice_items"] = [
                    {"price": self._price(request, line), "quantity": line.quantity}
                    for line in extras
                ]
            if request.discount is not None:
                params["discounts"] = [
                    {"coupon": self._coupon(request, request.discount)}
                ]
            if self.application_fee_bps and self.connected_account(request.owner_id):
                params["application_fee_percent"] = application_fee_percent(
                    self.application_fee_bps
                )
            subscription = self.client.v1.subscriptions.create(
                params, self._options(request.owner_id, request.idempotency_key)
            )
        except stripe.StripeError as error:
            raise _refused_or_unreachable(error, _said(error)) from error
        invoice = subscription.latest_invoice
        if isinstance(invoice, str) or invoice is None:
            raise GatewayError(UNREACHABLE)
        due, currency = invoice.amount_due, (invoice.currency or "").upper()
        if due != request.amount or currency != request.currency.upper():
            self._cancel_quietly(subscription.id, request.owner_id)
            raise GatewayRefused(
                "The payment service would charge another amount than this "
                "page shows. Nothing was charged; the merchant has been told."
            )
        secret = invoice.confirmation_secret
        client_secret = secret.client_secret if secret is not None else None
        return StartedPayment(
            gateway_payment_id=_invoice_intent(invoice, client_secret)
            or subscription.id,
            client_secret=client_secret,
            gateway_customer_id=customer,
            gateway_subscription_id=subscription.id,
            gateway_account=self.connected_account(request.owner_id),
        )

    def _guest_customer(self, request: PaymentRequest) -> str:
        """A Customer of this payment alone, for a payer who gave no email.

        Subscriptions need a Customer; one without an email is not
        remembered (nothing names the person again), and its idempotency key
        is the payment's, so a retried start makes one.
        """
        params: CustomerCreateParams = {
            "metadata": {"paylinks_owner": request.owner_id},
        }
        if request.customer_name.strip():
            params["name"] = request.customer_name.strip()[:256]
        key = "paylinks-guest-" + _digest(request.idempotency_key)
        return self.client.v1.customers.create(
            params, self._options(request.owner_id, key)
        ).id

    def _account_key(self, owner: str) -> str:
        """The account Products, Prices and coupons are remembered under for *owner*."""
        return self.connected_account(owner) or self.account

    def _price(self, request: PaymentRequest, line: ChargeLine) -> str:
        """The remembered Price of *line*'s product at its unit amount, else a new one.

        Its Product is the one remembered for the catalogue product, else a
        new one. Both are created with idempotency keys derived from what
        they are remembered under, so two first payments at once make one.
        """
        account = self._account_key(request.owner_id)
        terms = PriceTerms(
            gateway=self.name,
            account=account,
            product_id=line.product_id,
            amount=line.unit_amount,
            currency=request.currency.upper(),
            interval=line.interval or "",
            interval_count=(line.interval_count or 1) if line.interval else 0,
        )
        known = remembered_price(terms)
        if known is not None:
            return known.price
        product = remembered_product(self.name, account, line.product_id)
        if product is None:
            product_params: ProductCreateParams = {
                "name": line.name[:250] or f"Product {line.product_id}",
                "metadata": {
                    "paylinks_product": str(line.product_id),
                    "paylinks_owner": request.owner_id,
                },
            }
            seed = f"{account}:{line.product_id}:{product_params['name']}"
            product = self.client.v1.products.create(
                product_params,
                self._options(request.owner_id, "paylinks-product-" + _digest(seed)),
            ).id
        price_params: PriceCreateParams = {
            "product": product,
            "unit_amount": terms.amount,
            "currency": terms.currency.lower(),
            "metadata": {"paylinks_product": str(line.product_id)},
        }
        if line.interval:
            price_params["recurring"] = {
                "interval": _interval(line.interval),
                "interval_count": terms.interval_count,
            }
        seed = (
            f"{account}:{line.product_id}:{product}:{terms.amount}:"
            f"{terms.currency}:{terms.interval}:{terms.interval_count}"
        )
        price = self.client.v1.prices.create(
            price_params,
            self._options(request.owner_id, "paylinks-price-" + _digest(seed)),
        )
        return remember_price(terms, RememberedPrice(product, price.id)).price

    def _coupon(self, request: PaymentRequest, discount: DiscountTerms) -> str:
        """The Stripe coupon of *discount*: its id is derived from its terms.

        The same terms on the same account give the same id, so the coupon
        is made once (a repeat is answered "already exists", which is fine);
        other terms, another id. A coupon limited to some products is limited
        to their Stripe Products.
        """
        params: CouponCreateParams = {
            "duration": _duration(discount.duration),
            "metadata": {"paylinks_code": discount.code[:500]},
        }
        if discount.percent_off_bp is not None:
            params["percent_off"] = discount.percent_off_bp / 100
        else:
            params["amount_off"] = discount.amount_off or 0
            params["currency"] = (discount.currency or request.currency).lower()
        if discount.duration == "repeating":
            params["duration_in_months"] = discount.duration_in_months or 1
        account = self._account_key(request.owner_id)
        if discount.applies_to is not None:
            products = [
                remembered_product(self.name, account, product_id)
                for product_id in sorted(discount.applies_to)
            ]
            params["applies_to"] = {"products": [p for p in products if p]}
        coupon_id = (
            "paylinks_" + _digest(json.dumps([account, params], sort_keys=True))[:32]
        )
        params["id"] = coupon_id
        try:
            self.client.v1.coupons.create(
                params, self._options(request.owner_id, "paylinks-coupon-" + coupon_id)
            )
        except stripe.InvalidRequestError as error:
            if error.code != "resource_already_exists":
                raise
        return coupon_id

    def _cancel_quietly(self, subscription_id: str, owner: str) -> None:
        """Cancel a subscription that must not be paid; a failure is only logged."""
        try:
            self.client.v1.subscriptions.cancel(
                subscription_id, None, self._options(owner)
            )
        except stripe.StripeError:
            log.exception("could not cancel subscription %s", subscription_id)

    def browser_step(
        self, started: StartedPayment, *, brand_color: str, return_url: str
    ) -> BrowserStep | None:
        """Stripe.js and the PaymentIntent's client secret, for the Payment Element.

        A PaymentIntent made on a connected account names it, so Stripe.js is
        built with ``stripeAccount`` (a direct charge is confirmed there).

        The Appearance API styles the Element: *brand_color* as its primary
        colour, on a white background with near-black text. ``None`` when
        the PaymentIntent has no client secret (nothing to confirm).
        """
        if not started.client_secret:
            return None
        return BrowserStep(
            script_url=self.js_url,
            publishable_key=self.publishable_key,
            client_secret=started.client_secret,
            return_url=return_url,
            account=started.gateway_account,
            appearance={
                "theme": "stripe",
                "variables": {
                    "colorPrimary": brand_color,
                    "colorText": ELEMENT_TEXT,
                    "colorBackground": ELEMENT_BACKGROUND,
                    "colorDanger": ELEMENT_DANGER,
                },
            },
        )

    def content_security_policy(self) -> CspSources:
        """Stripe's documented origins for Stripe.js; another Stripe.js URL's origin.

        A Stripe.js served from elsewhere (``PAYLINKS_STRIPE_JS_URL``, a test
        stand-in) loads, frames and calls its own origin instead.
        """
        parts = urlsplit(self.js_url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin == "https://js.stripe.com":
            return STRIPE_JS_CSP
        return dict.fromkeys(STRIPE_JS_CSP, (origin,))

    # -- asking Stripe what became of a payment (the reconciler, the receipt) --

    def _owner_options(self, owner_id: str) -> stripe.RequestOptions:
        """The options of a look-up made for *owner_id* (see :meth:`_options`)."""
        return self._options(owner_id)

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

    def connected_owners(self) -> list[str]:
        """The owners with a connected account recorded in this mode, in order."""
        if not self.connect:
            return []
        return owners_connected(livemode=not self.test_mode)

    def register_domain(
        self, domain: str, owner: str | None = None
    ) -> DomainRegistration:
        """Register *domain* for Apple Pay, Google Pay and Link.

        On the host's own account, or with *owner* on that owner's connected
        account (Stripe needs it there for the wallets on direct charges).
        ``payment_method_domains.create`` (Stripe answers an existing domain
        with the same object). Raises :class:`GatewayRefused` with Stripe's
        message for a bad domain, :class:`GatewayError` when unreachable or
        when *owner* has no connected account.
        """
        params: PaymentMethodDomainCreateParams = {
            "domain_name": domain,
            "enabled": True,
        }
        options = self._options(owner) if owner is not None else {}
        try:
            made = self.client.v1.payment_method_domains.create(params, options)
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
            account=options.get("stripe_account"),
            id=made.id,
            domain=made.domain_name,
            enabled=bool(made.enabled),
            apple_pay=status("apple_pay"),
            google_pay=status("google_pay"),
            link=status("link"),
        )


def _invoice_intent(invoice: stripe.Invoice, client_secret: str | None) -> str | None:
    """The id of the PaymentIntent Stripe made for *invoice*'s payment.

    Read from the invoice's (expanded) ``payments``; else from the client
    secret, which is that PaymentIntent's id followed by ``_secret_``.
    """
    payments = invoice.payments
    for paid in payments.data if payments is not None else []:
        intent = paid.payment.payment_intent if paid.payment else None
        if intent is not None:
            return intent if isinstance(intent, str) else intent.id
    if client_secret and "_secret_" in client_secret:
        return client_secret.split("_secret_", 1)[0]
    return None


def _digest(seed: str) -> str:
    """A hex digest of *seed*, for keys and ids derived from what they name."""
    return hashlib.sha256(seed.encode()).hexdigest()


#: Our intervals and coupon durations, as Stripe spells them (the same words).
INTERVALS: dict[str, Literal["day", "month", "week", "year"]] = {
    "day": "day",
    "week": "week",
    "month": "month",
    "year": "year",
}
DURATIONS: dict[str, Literal["forever", "once", "repeating"]] = {
    "forever": "forever",
    "once": "once",
    "repeating": "repeating",
}


def _interval(value: str) -> Literal["day", "month", "week", "year"]:
    """Our interval as Stripe's; :class:`GatewayError` for one Stripe lacks."""
    if value not in INTERVALS:
        raise GatewayRefused(f"Stripe cannot bill every {value}.")
    return INTERVALS[value]


def _duration(value: str) -> Literal["forever", "once", "repeating"]:
    """Our coupon duration as Stripe's; :class:`GatewayError` for another."""
    if value not in DURATIONS:
        raise GatewayRefused(f"Stripe has no coupon duration {value}.")
    return DURATIONS[value]


@dataclass(frozen=True, slots=True)
class DomainRegistration:
    """A checkout domain as Stripe registered it, with each wallet's status."""

    id: str
    domain: str
    enabled: bool
    apple_pay: str
    google_pay: str
    link: str
    #: The connected account it was registered on; ``None``: the host's own.
    account: str | None = None


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
        return "Stripe did not answer; the refund is asked again later."
    if isinstance(error, stripe.RateLimitError):
        return "Stripe is busy; the refund is asked again later."
    said = error.user_message or "Stripe refused the refund."
    return f"Stripe refused the refund: {said}"


def _account_said(error: stripe.StripeError) -> str:
    """What the merchant is told when Stripe refuses or cannot be reached."""
    if isinstance(error, (stripe.APIConnectionError, stripe.APIError)):
        return "Stripe did not answer. Try again in a moment."
    return f"Stripe refused: {error.user_message or 'try again later.'}"


def _no_constant(name: str) -> Any:
    """``NaN`` and ``Infinity`` are not JSON, and PostgreSQL's JSONB refuses them."""
    raise ValueError(f"{name} is not JSON")


def _storable(value: Any) -> None:
    """:class:`ValueError` when a string in *value* holds NUL (JSONB refuses it)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("NUL in a string")
    elif isinstance(value, dict):
        for key, item in value.items():
            _storable(key)
            _storable(item)
    elif isinstance(value, list):
        for item in value:
            _storable(item)


def _text(value: Any) -> str | None:
    """*value* when it is a non-empty string, else ``None``."""
    return value if isinstance(value, str) and value else None


def _whole(value: Any) -> int | None:
    """*value* when it is an integer (not a bool), else ``None``."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None
