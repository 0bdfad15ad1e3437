"""Pricing against the database: the coupon a code names, checked, and the quote.

:func:`price` is the one way an order on a stored link is priced; paying
prices under the claims (:func:`flask_paylinks.payments.start.start_checkout`),
repricing the page uses :func:`reprice`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from flask_paylinks.core.pricing import (
    COUPON_FIELD,
    COUPON_REJECTED,
    Choices,
    CouponTerms,
    Offer,
    PricingError,
    PricingRefused,
    Quote,
    chosen_items,
    coupon_rejection,
    default_choices,
    offer_from_link,
    quote,
)
from flask_paylinks.db.models import Coupon, PaymentLink, utcnow
from flask_paylinks.payments.repository import find_coupon
from flask_paylinks.payments.updates import abandon_stale

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Priced:
    """An order priced to be shown: the summary, and what is wrong by form field."""

    #: The customer's order, or where it cannot be priced the valid part of it.
    quote: Quote | None
    errors: Mapping[str, str]


def price(link: PaymentLink, choices: Choices, *, now: datetime | None = None) -> Quote:
    """Price *choices* on *link*, looking up and checking the coupon code.

    Raises :class:`~flask_paylinks.core.pricing.PricingRefused` when the
    choices cannot be priced or the code cannot be used. Every reason a code
    cannot be used gives the same error message. A code used up only by
    checkouts that were abandoned is freed first.
    """
    now = now if now is not None else utcnow()
    offer = offer_from_link(link)
    refused: list[PricingError] = []
    terms: CouponTerms | None = None
    if choices.coupon_code and offer.allow_coupons:
        terms = _usable_coupon(link, offer, choices, now)
        if terms is None:
            refused.append(PricingError(COUPON_FIELD, COUPON_REJECTED))
    try:
        priced = quote(offer, choices, terms)
    except PricingRefused as error:
        raise PricingRefused([*error.problems, *refused]) from None
    if refused:
        raise PricingRefused(refused)
    return priced


def reprice(
    link: PaymentLink, choices: Choices, problems: Sequence[PricingError] = ()
) -> Priced:
    """Price *choices* to show them, with the errors to show beside them.

    *problems* are those found reading the form
    (:func:`~flask_paylinks.core.pricing.choices_from_form`); with any, the
    choices are not priced as they stand.
    """
    if problems:
        return Priced(fallback_quote(link, choices), PricingRefused(problems).errors)
    try:
        return Priced(price(link, choices), {})
    except PricingRefused as refused:
        return Priced(fallback_quote(link, choices), refused.errors)


def fallback_quote(link: PaymentLink, choices: Choices) -> Quote | None:
    """What to show beside errors: *choices* without the code, or the defaults."""
    try:
        return price(link, replace(choices, coupon_code=""))
    except PricingRefused:
        pass
    offer = offer_from_link(link)
    try:
        return quote(offer, default_choices(offer))
    except PricingRefused:
        return None


def _usable_coupon(
    link: PaymentLink, offer: Offer, choices: Choices, now: datetime
) -> CouponTerms | None:
    """The terms of the coupon the typed code names; ``None`` when it cannot be used."""
    coupon = find_coupon(link.owner_id, choices.coupon_code)
    reason = "unknown"
    if coupon is not None:
        reason = _coupon_rejection(coupon, offer, choices, now) or ""
        if reason == "exhausted" and abandon_stale(now=now, coupon_id=coupon.id):
            reason = _coupon_rejection(coupon, offer, choices, now) or ""
    if reason or coupon is None:
        log.info("coupon refused on link %s: %s", link.id, reason)
        return None
    return CouponTerms.from_model(coupon)


def _coupon_rejection(
    coupon: Coupon, offer: Offer, choices: Choices, now: datetime
) -> str | None:
    terms = CouponTerms.from_model(coupon)
    return coupon_rejection(
        terms,
        now=now,
        currency=offer.currency,
        product_ids=[i.product_id for i in chosen_items(offer, choices)],
        reserved=max(0, (coupon.times_claimed or 0) - (coupon.times_redeemed or 0)),
    )
