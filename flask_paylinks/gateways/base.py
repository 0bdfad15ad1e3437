"""The gateway protocol and the plain data that crosses it.

A gateway turns a :class:`PaymentRequest` into a payment at the provider and
reports what became of it as :class:`PaymentUpdate` values, whether they come
from a webhook (Stripe) or from the gateway's own card form (sandbox). The
payments service applies every update through the same path.

A gateway also says what the browser's payment step needs:
:meth:`Gateway.payment_fields` gives the form fields our page shows (the
sandbox's card fields), or ``None`` when the provider takes the card in its
own widget; :meth:`Gateway.confirm` turns what those fields held into the
payment's outcome, or ``None`` when the outcome comes later (a webhook).
:meth:`Gateway.browser_step` gives what a provider's own widget needs
(:class:`BrowserStep`: its script, keys, styling and return URL), and
:meth:`Gateway.content_security_policy` the origins it loads from.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from flask_paylinks.core.errors import InvalidInput, Unavailable


class Outcome(enum.StrEnum):
    """What a gateway says became of a payment."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    #: Refunded in full.
    REFUNDED = "refunded"
    #: Refunded in part: the payment stays succeeded, its refunded amount grows.
    PARTLY_REFUNDED = "partly_refunded"


@dataclass(frozen=True, slots=True)
class RecurringTerms:
    """The part of a purchase charged again every period."""

    amount: int
    interval: str
    interval_count: int


@dataclass(frozen=True, slots=True)
class ChargeLine:
    """One product of the purchase, for a gateway that itemises it (subscriptions)."""

    product_id: int
    name: str
    unit_amount: int
    quantity: int
    #: Set on the recurring product only.
    interval: str | None = None
    interval_count: int | None = None


@dataclass(frozen=True, slots=True)
class DiscountTerms:
    """The coupon of the purchase, as a gateway that keeps coupons needs it."""

    code: str
    percent_off_bp: int | None = None
    amount_off: int | None = None
    currency: str | None = None
    #: ``once``, ``repeating`` (for ``duration_in_months``) or ``forever``.
    duration: str = "once"
    duration_in_months: int | None = None
    #: The product ids it discounts; ``None``: every product.
    applies_to: frozenset[int] | None = None


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """What the gateway is asked to charge. Amounts are minor units."""

    idempotency_key: str
    reference: str
    amount: int
    currency: str
    description: str
    customer_email: str = ""
    customer_name: str = ""
    recurring: RecurringTerms | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    #: The merchant the money goes to (the payment's ``owner_id``).
    owner_id: str = ""
    #: Our payment row's id, and the link it pays (``None``: no link any more).
    payment_id: int | None = None
    link_id: int | None = None
    #: Names the checkout attempt (a digest, not the attempt token itself).
    attempt: str = ""
    #: What is bought, line by line, and the coupon (read by subscriptions).
    lines: tuple[ChargeLine, ...] = ()
    discount: DiscountTerms | None = None


@dataclass(frozen=True, slots=True)
class StartedPayment:
    """The provider's handle on a payment that waits to be confirmed."""

    gateway_payment_id: str
    #: Handed to the browser where the provider confirms client-side.
    client_secret: str | None = None
    gateway_customer_id: str | None = None
    gateway_subscription_id: str | None = None
    #: The provider account the payment was made on, when it is not the
    #: platform's (Stripe Connect): the browser must confirm it there.
    gateway_account: str | None = None


@dataclass(frozen=True, slots=True)
class PaymentUpdate:
    """One event from the provider about one payment; applied once per event id."""

    event_id: str
    type: str
    gateway_payment_id: str
    outcome: Outcome
    failure_code: str | None = None
    failure_message: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    #: For a refund: the total refunded so far, as the provider counts it
    #: (minor units). The payment's figure is raised to it, never lowered.
    amount_refunded: int | None = None
    #: What the provider says the payment is for (minor units, upper-case
    #: currency), when it says; checked against the payment's snapshot.
    amount: int | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class RefundRequest:
    """What the gateway is asked to give back of one payment. Minor units.

    ``reason`` is one of Stripe's: ``duplicate``, ``fraudulent``,
    ``requested_by_customer``. The same ``idempotency_key`` makes one refund.
    """

    gateway_payment_id: str
    amount: int
    currency: str
    reason: str
    idempotency_key: str
    #: The payment's owner: in Stripe Connect mode, the refund is made in
    #: their connected account.
    owner_id: str = ""


@dataclass(frozen=True, slots=True)
class RefundResult:
    """The provider's refund: its id and whether it went through."""

    gateway_refund_id: str
    succeeded: bool = True
    failure_message: str | None = None


@dataclass(frozen=True, slots=True)
class BrowserStep:
    """What the customer's browser needs to confirm a payment with the provider.

    The page loads :attr:`script_url`, builds the provider's payment widget
    from :attr:`publishable_key` and :attr:`client_secret`, styled with
    :attr:`appearance`, and confirms; the provider then sends the customer to
    :attr:`return_url`. :attr:`confirms` names what the client secret is the
    secret of: ``"payment"`` for a one-time payment; a subscription's first
    invoice is confirmed the same way.
    """

    script_url: str
    publishable_key: str
    client_secret: str
    return_url: str
    appearance: Mapping[str, Any] = field(default_factory=dict)
    confirms: str = "payment"
    #: The provider account the payment lives on (Stripe Connect's
    #: ``stripeAccount``), ``None`` for the platform's own.
    account: str | None = None


#: Content-Security-Policy directives a gateway's browser step needs, e.g.
#: ``{"script-src": ("https://js.stripe.com",)}``.
CspSources = Mapping[str, tuple[str, ...]]


class GatewayError(Unavailable):
    """The provider could not be reached or refused the request."""


class GatewayRefused(GatewayError):
    """The provider answered and refused: asking again with the same key is no use."""


class WebhookRejected(InvalidInput):
    """A webhook whose signature is bad, missing or stale, or whose body is unfit.

    Nothing of it may be stored or applied; the web layer answers 400.
    """

    def __init__(self, reason: str) -> None:
        super().__init__({"signature": reason})


@dataclass(frozen=True, slots=True)
class StripeEvent:
    """One verified Stripe webhook event, reduced to what the payments service reads.

    ``object_id`` is the id of the event's object (a PaymentIntent, a Charge…);
    ``payment_intent_id`` the PaymentIntent it concerns, if any. ``amount``
    and ``amount_refunded`` are minor units; ``currency`` is upper case, as
    payments store it. ``raw`` is the whole event as Stripe sent it.
    """

    id: str
    type: str
    #: The connected account the event happened on (Stripe Connect), else ``None``.
    account: str | None
    object_id: str | None
    payment_intent_id: str | None
    amount: int | None
    currency: str | None
    status: str | None
    #: When Stripe created the event (Unix seconds).
    created: int
    raw: Mapping[str, Any]
    failure_code: str | None = None
    failure_message: str | None = None
    amount_refunded: int | None = None


class PaymentFields(Protocol):
    """The fields a gateway puts on our checkout page (a WTForms form)."""

    data: Mapping[str, Any]

    def validate(self) -> bool:
        """Check what was typed; the fields carry their own errors."""

    def declined(self, message: str) -> None:
        """Clear what must be typed again after a decline and mark *message*."""


@runtime_checkable
class Gateway(Protocol):
    """A payment provider."""

    #: Short name stored on payments and events, e.g. ``"stripe"``.
    name: str
    #: True when no real money moves; the checkout then says "test mode".
    test_mode: bool

    def start_payment(self, request: PaymentRequest) -> StartedPayment:
        """Create the payment; the same idempotency key gives the same payment."""

    def payment_fields(self, formdata: Any = None) -> PaymentFields | None:
        """The fields our page shows for the payment step, read from *formdata*.

        ``None`` when the provider takes the card in its own browser widget.
        """

    def confirm(
        self, started: StartedPayment, fields: Mapping[str, Any]
    ) -> PaymentUpdate | None:
        """Pay *started* with what :meth:`payment_fields` held (their ``data``).

        ``None`` when the outcome is reported later, by webhook.
        """

    def browser_step(
        self, started: StartedPayment, *, brand_color: str, return_url: str
    ) -> BrowserStep | None:
        """What the browser needs to confirm *started* with the provider.

        ``None`` when the provider needs no browser step of its own (the
        sandbox takes the card in :meth:`payment_fields`). *brand_color* is
        the link's colour (``#RRGGBB``); *return_url* is absolute, where the
        provider sends the customer once confirmed.
        """

    def content_security_policy(self) -> CspSources:
        """The origins the browser step needs, by CSP directive (empty: none)."""

    def refund(self, request: RefundRequest) -> RefundResult:
        """Refund (part of) a succeeded payment; one refund per idempotency key.

        Raises :class:`GatewayError` when the provider cannot be reached or
        refuses.
        """

    def charges_problem(self, owner: str) -> str | None:
        """Why *owner* cannot take charges through this gateway now, or ``None``.

        Said to the merchant as it is (Text-to-Pay refuses a request with it),
        so it names what to fix, e.g. "Connect your Stripe account first."
        """

    def look_up(self, gateway_payment_id: str, owner_id: str) -> PaymentUpdate | None:
        """What the provider says became of a payment, asked now; ``None``: unsettled.

        The update's ``event_id`` is stable for one state
        (``lookup:<id>:<status>``), so applying it twice applies it once; it
        carries the provider's amount and currency. Raises
        :class:`GatewayError` when the provider cannot be reached.
        """

    def find_started(self, reference: str, owner_id: str) -> str | None:
        """The provider's id of the payment started for *reference*, if it made one.

        For a pending payment whose id was never stored (the database failed
        right after the provider answered). Raises :class:`GatewayError`.
        """


def missing_members(gateway: object) -> list[str]:
    """What of the :class:`Gateway` protocol *gateway* lacks, by name (sorted).

    A host's own gateway is checked with it at start-up, so a missing method
    fails there, naming the method, instead of on a customer's page.
    """
    wanted = set(Gateway.__annotations__) | {
        name
        for name, value in vars(Gateway).items()
        if callable(value) and not name.startswith("_")
    }
    return sorted(name for name in wanted if not hasattr(gateway, name))
