"""Paying on a link: one call, one result.

:func:`pay` takes what the customer sent (a :class:`PayCommand`), prices the
order once, under the claims (:func:`~flask_paylinks.payments.start.start_checkout`),
starts the payment once per attempt, runs the gateway's confirm step, and
returns exactly one of :class:`Paid`, :class:`Declined`, :class:`TermsChanged`,
:class:`Refused`, :class:`Taken`, :class:`Unavailable` or
:class:`ConfirmInBrowser` (then :func:`payment_step`). The web layer
turns each into its page; nothing here knows about HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask_paylinks.core.errors import InvalidInput
from flask_paylinks.core.pricing import Choices, PricingError, Quote
from flask_paylinks.db.models import Payment, PaymentLink, PaymentState
from flask_paylinks.gateways.base import BrowserStep
from flask_paylinks.payments.prices import fallback_quote, reprice
from flask_paylinks.payments.start import (
    Checkout,
    Customer,
    LinkTaken,
    NewTerms,
    PaymentNotStarted,
    new_attempt,
    resume_started,
    start_checkout,
)
from flask_paylinks.payments.updates import apply_event
from flask_paylinks.state import paylinks_state

NOT_STARTED = (
    "We could not reach the payment provider. You have not been charged; "
    "please try again."
)
DID_NOT_GO_THROUGH = "Your payment did not go through."


@dataclass(frozen=True, slots=True)
class PayCommand:
    """What the customer sent to pay: their choices, details and payment step."""

    choices: Choices
    customer: Customer
    #: The attempt token the page carries: one payment per attempt.
    attempt: str
    #: The :func:`~flask_paylinks.core.pricing.terms_digest` the page showed.
    agreed_terms: str
    recipient_token: str | None = None
    #: What the gateway's payment fields held (the sandbox's card number).
    payment_fields: Mapping[str, Any] = field(default_factory=dict)
    #: Errors found reading the choices from the form.
    choice_errors: Sequence[PricingError] = ()
    #: False when the form refused the customer's details or payment fields
    #: (they carry their own errors): the order is priced to show, not paid.
    form_valid: bool = True


@dataclass(frozen=True, slots=True)
class Paid:
    """The payment went through, or is with the gateway: show its receipt.

    Built from values read before the success was committed, so answering
    needs no database.
    """

    slug: str
    reference: str


@dataclass(frozen=True, slots=True)
class Declined:
    """The gateway declined; nothing was charged. Paying again is a new attempt."""

    message: str
    quote: Quote | None
    new_attempt: str


@dataclass(frozen=True, slots=True)
class TermsChanged:
    """The order's terms changed since the page was shown; nothing was stored."""

    quote: Quote


@dataclass(frozen=True, slots=True)
class Refused:
    """The order or the details cannot be paid as sent; *errors* by form field."""

    errors: Mapping[str, str]
    quote_for_display: Quote | None


@dataclass(frozen=True, slots=True)
class Taken:
    """A single-use link someone else paid, or is paying (*in_progress*)."""

    in_progress: bool


@dataclass(frozen=True, slots=True)
class Unavailable:
    """The payment provider could not be reached; nothing was charged."""

    message: str
    quote: Quote | None
    new_attempt: str


@dataclass(frozen=True, slots=True)
class ConfirmInBrowser:
    """The payment is started; the customer confirms it in the gateway's widget.

    :func:`payment_step` gives what that step draws; *attempt* names the
    payment to it.
    """

    slug: str
    reference: str
    attempt: str


PayResult = (
    Paid | Declined | TermsChanged | Refused | Taken | Unavailable | ConfirmInBrowser
)


@dataclass(frozen=True, slots=True)
class PaymentStep:
    """The browser's payment step of one payment.

    *step* is ``None`` when there is nothing left to confirm (the payment is
    settled, or the gateway needs no browser step): show the receipt.
    """

    payment: Payment
    step: BrowserStep | None


def payment_step(
    link: PaymentLink,
    reference: str,
    attempt: str,
    *,
    brand_color: str,
    return_url: str,
) -> PaymentStep:
    """What the payment step of *attempt*'s payment shows; safe to reload.

    The gateway is asked with the payment's own idempotency key, so a reload
    gets the same PaymentIntent back. Raises
    :class:`~flask_paylinks.core.errors.NotFound` and
    :class:`~flask_paylinks.payments.start.PaymentNotStarted`.
    """
    payment, started = resume_started(link, reference, attempt)
    if started is None:
        return PaymentStep(payment, None)
    gateway = paylinks_state().gateway
    step = gateway.browser_step(started, brand_color=brand_color, return_url=return_url)
    return PaymentStep(payment, step)


def pay(link: PaymentLink, command: PayCommand) -> PayResult:
    """Price, start (once per attempt) and confirm the payment *command* asks for."""
    slug = link.slug  # read now: after the charge's commit nothing is read
    if command.choice_errors or not command.form_valid:
        priced = reprice(link, command.choices, command.choice_errors)
        return Refused(priced.errors, priced.quote)
    try:
        checkout = start_checkout(
            link,
            choices=command.choices,
            customer=command.customer,
            attempt=command.attempt,
            agreed_terms=command.agreed_terms,
            recipient_token=command.recipient_token,
        )
    except InvalidInput as refused:  # PricingRefused too
        return Refused(refused.errors, fallback_quote(link, command.choices))
    except NewTerms as changed:
        return TermsChanged(changed.quote)
    except LinkTaken as taken:
        return Taken(taken.in_progress)
    except PaymentNotStarted as failed:
        shown = failed.quote or fallback_quote(link, command.choices)
        if failed.retryable:
            # Unanswered, the payment waits for this same attempt to try again.
            return Unavailable(NOT_STARTED, shown, command.attempt)
        # Refused (an amount below the provider's minimum, an account that
        # cannot take this currency…): its reason, and trying again is new.
        return Declined(str(failed) or DID_NOT_GO_THROUGH, shown, new_attempt())
    return _confirm(link, slug, checkout, command)


def _confirm(
    link: PaymentLink, slug: str, checkout: Checkout, command: PayCommand
) -> PayResult:
    """Run the gateway's confirm step on a pending payment; say what became of it."""
    payment, reference = checkout.payment, checkout.payment.reference
    gateway = paylinks_state().gateway
    if payment.state == PaymentState.PENDING and checkout.started is not None:
        update = gateway.confirm(checkout.started, command.payment_fields)
        if update is not None:
            applied = apply_event(gateway.name, update)
            if PaymentState.SUCCEEDED in applied.entered:
                # Committed as succeeded: answer from what was read before.
                return Paid(slug, reference)
            payment = applied.payment or payment
        else:
            # The outcome comes later: the customer confirms in the browser.
            return ConfirmInBrowser(slug, reference, command.attempt)
    if payment.state == PaymentState.FAILED:
        shown = checkout.quote or fallback_quote(link, command.choices)
        message = payment.failure_message or DID_NOT_GO_THROUGH
        return Declined(message, shown, new_attempt())
    return Paid(slug, reference)
