"""Pricing: what a customer's choices on a link cost, computed by the server alone.

Everything here is a pure function of plain data. :func:`offer_from_link`
reads a link (saved or transient) into an :class:`Offer`;
:func:`choices_from_form` reads what the browser sent (product ids,
quantities, the recurring choice, a coupon code, and never an amount) into
:class:`Choices`; :func:`quote` turns both, and the coupon's
:class:`CouponTerms` if one was entered, into a :class:`Quote`, or raises
:class:`PricingRefused` carrying each :class:`PricingError`. Amounts are
integers of the currency's minor unit from start to end.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from flask_paylinks.core.errors import InvalidInput

#: What every rejected code is told, whatever the reason: an unknown, expired,
#: used-up and wrong-product code must look the same to someone guessing codes.
COUPON_REJECTED = "This code is not valid."
#: Most digits a quantity may have before it is refused unread.
MAX_QUANTITY_DIGITS = 6

QUANTITY_PREFIX = "qty-"
PLAN_FIELD = "plan"
COUPON_FIELD = "coupon"
ITEMS_FIELD = "items"


# -- what pricing reads of stored rows -----------------------------------------
# Structural types, so the core needs no database: the models in
# flask_paylinks.db.models meet them, and so does any plain object in a test.
# A transient (unsaved) row may hold None where a column default would go.


class ProductRecord(Protocol):
    """The fields of a product that pricing reads."""

    @property
    def id(self) -> int | None: ...
    @property
    def name(self) -> str | None: ...
    @property
    def description(self) -> str | None: ...
    @property
    def image_url(self) -> str | None: ...
    @property
    def kind(self) -> str | None: ...
    @property
    def interval(self) -> str | None: ...
    @property
    def interval_count(self) -> int | None: ...
    @property
    def unit_amount(self) -> int | None: ...
    @property
    def currency(self) -> str | None: ...


class LinkItemRecord(Protocol):
    """The fields of a link's item that pricing reads."""

    @property
    def product(self) -> ProductRecord: ...
    @property
    def quantity(self) -> int | None: ...
    @property
    def adjustable(self) -> bool | None: ...
    @property
    def min_quantity(self) -> int | None: ...
    @property
    def max_quantity(self) -> int | None: ...


class LinkRecord(Protocol):
    """The fields of a link that pricing reads."""

    @property
    def currency(self) -> str | None: ...
    @property
    def allow_coupons(self) -> bool | None: ...
    @property
    def items(self) -> Sequence[LinkItemRecord]: ...


class CouponRecord(Protocol):
    """The fields of a stored coupon that pricing reads."""

    @property
    def id(self) -> int | None: ...
    @property
    def code(self) -> str: ...
    @property
    def percent_off_bp(self) -> int | None: ...
    @property
    def amount_off(self) -> int | None: ...
    @property
    def currency(self) -> str | None: ...
    @property
    def product_ids(self) -> set[int]: ...
    @property
    def applies_to_all(self) -> bool | None: ...
    @property
    def duration(self) -> str | None: ...
    @property
    def duration_in_months(self) -> int | None: ...
    @property
    def valid_from(self) -> datetime | None: ...
    @property
    def valid_until(self) -> datetime | None: ...
    @property
    def max_redemptions(self) -> int | None: ...
    @property
    def times_redeemed(self) -> int | None: ...
    @property
    def active(self) -> bool | None: ...


@dataclass(frozen=True, slots=True)
class Recurrence:
    """How often a recurring product is charged: every *count* *interval*."""

    interval: str
    count: int = 1


@dataclass(frozen=True, slots=True)
class OfferItem:
    """One product on a link, as priced and shown at checkout."""

    #: Names the item in the form (``qty-<key>``, ``plan=<key>``): the product id.
    key: str
    product_id: int | None
    name: str
    description: str
    image_url: str | None
    unit_amount: int
    currency: str
    recurring: Recurrence | None
    #: The quantity bought when the customer cannot choose; the preselected one
    #: when they can.
    quantity: int = 1
    adjustable: bool = False
    min_quantity: int = 1
    max_quantity: int = 1


@dataclass(frozen=True, slots=True)
class Offer:
    """What a link sells, read from the link and its products."""

    currency: str
    items: tuple[OfferItem, ...]
    allow_coupons: bool = False

    @property
    def plans(self) -> tuple[OfferItem, ...]:
        """The recurring items; the customer buys exactly one of them."""
        return tuple(item for item in self.items if item.recurring is not None)

    @property
    def one_time(self) -> tuple[OfferItem, ...]:
        """The items bought once, all of them."""
        return tuple(item for item in self.items if item.recurring is None)

    @property
    def offers_plan_choice(self) -> bool:
        """Whether the customer picks one of several recurring products."""
        return len(self.plans) > 1

    def item(self, key: str) -> OfferItem | None:
        """The item *key* names, or ``None``."""
        return next((item for item in self.items if item.key == key), None)


@dataclass(frozen=True, slots=True)
class Choices:
    """What the customer picked. There is deliberately no amount in it."""

    #: Item key -> quantity, for the items whose quantity the customer chose.
    quantities: Mapping[str, int] = field(default_factory=dict)
    #: The key of the one recurring item chosen, where there are several.
    plan: str | None = None
    coupon_code: str = ""


@dataclass(frozen=True, slots=True)
class PricingError:
    """A choice that cannot be priced, and the form field it belongs to."""

    field: str
    message: str


class PricingRefused(InvalidInput):
    """The choices cannot be priced.

    :attr:`problems` lists every :class:`PricingError` in the order found;
    :attr:`errors` maps each form field to its first message.
    """

    def __init__(self, problems: Iterable[PricingError]) -> None:
        self.problems: tuple[PricingError, ...] = tuple(problems)
        by_field: dict[str, str] = {}
        for problem in self.problems:
            by_field.setdefault(problem.field, problem.message)
        super().__init__(by_field)


@dataclass(frozen=True, slots=True)
class CouponTerms:
    """A coupon as pricing needs it: the discount and when it may be used."""

    id: int | None
    code: str
    percent_off_bp: int | None = None
    amount_off: int | None = None
    currency: str | None = None
    #: Product ids the coupon is limited to; ``None``: every product.
    applies_to: frozenset[int] | None = None
    duration: str = "once"
    duration_in_months: int | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    max_redemptions: int | None = None
    times_redeemed: int = 0
    active: bool = True

    @classmethod
    def from_model(cls, coupon: CouponRecord) -> CouponTerms:
        """The terms of a stored coupon (a :class:`CouponRecord`)."""
        limited = coupon.product_ids
        return cls(
            id=coupon.id,
            code=coupon.code,
            percent_off_bp=coupon.percent_off_bp,
            amount_off=coupon.amount_off,
            currency=coupon.currency,
            applies_to=None
            if coupon.applies_to_all or not limited
            else frozenset(limited),
            duration=coupon.duration or "once",
            duration_in_months=coupon.duration_in_months,
            valid_from=coupon.valid_from,
            valid_until=coupon.valid_until,
            max_redemptions=coupon.max_redemptions,
            times_redeemed=coupon.times_redeemed or 0,
            active=coupon.active if coupon.active is not None else True,
        )

    def covers(self, product_id: int | None) -> bool:
        """Whether the coupon discounts this product."""
        return self.applies_to is None or product_id in self.applies_to

    def discount_on(self, amount: int) -> int:
        """The discount on *amount* minor units: never negative, never above it."""
        if amount <= 0:
            return 0
        if self.percent_off_bp is not None:
            # Round half up, in integers: 0.5 cent and above is a cent.
            off = (amount * self.percent_off_bp + 5000) // 10000
        else:
            off = self.amount_off or 0
        return max(0, min(off, amount))

    def as_dict(self) -> dict[str, Any]:
        """What a payment's snapshot keeps of the coupon."""
        return {
            "id": self.id,
            "code": self.code,
            "percent_off_bp": self.percent_off_bp,
            "amount_off": self.amount_off,
            "currency": self.currency,
            "duration": self.duration,
            "duration_in_months": self.duration_in_months,
        }


def coupon_rejection(
    terms: CouponTerms,
    *,
    now: datetime,
    currency: str,
    product_ids: Iterable[int | None],
    reserved: int = 0,
) -> str | None:
    """Why *terms* cannot be used now on these products, or ``None`` when it can.

    The reason (``inactive``, ``not_yet_valid``, ``expired``, ``exhausted``,
    ``wrong_currency``, ``wrong_product``) is for logs and tests; the customer
    is always told :data:`COUPON_REJECTED`. *reserved* counts checkouts that
    hold the coupon but have not finished: they count against
    ``max_redemptions`` as if they had.
    """
    if not terms.active:
        return "inactive"
    if terms.valid_from is not None and now < terms.valid_from:
        return "not_yet_valid"
    if terms.valid_until is not None and now >= terms.valid_until:
        return "expired"
    if (
        terms.max_redemptions is not None
        and terms.times_redeemed + reserved >= terms.max_redemptions
    ):
        return "exhausted"
    if terms.amount_off is not None and terms.currency != currency:
        return "wrong_currency"
    if not any(terms.covers(pid) for pid in product_ids):
        return "wrong_product"
    return None


@dataclass(frozen=True, slots=True)
class QuoteLine:
    """One product bought: its unit price times the quantity."""

    key: str
    product_id: int | None
    name: str
    unit_amount: int
    quantity: int
    amount: int
    recurring: Recurrence | None = None

    def as_dict(self) -> dict[str, Any]:
        """The line as a payment's snapshot keeps it."""
        return {
            "product_id": self.product_id,
            "name": self.name,
            "unit_amount": self.unit_amount,
            "quantity": self.quantity,
            "amount": self.amount,
            "interval": self.recurring.interval if self.recurring else None,
            "interval_count": self.recurring.count if self.recurring else None,
        }


@dataclass(frozen=True, slots=True)
class RecurringCharge:
    """What is charged again every period after the first charge."""

    amount: int
    interval: str
    interval_count: int
    #: Taken off each discounted later period.
    discount: int = 0
    #: How many later periods get :attr:`discount`; ``None``: all of them.
    discount_periods: int | None = 0

    @property
    def discounted_amount(self) -> int:
        """The charge of a period that gets the discount."""
        return self.amount - self.discount

    @property
    def discount_forever(self) -> bool:
        """Whether every later period is discounted."""
        return self.discount > 0 and self.discount_periods is None

    def as_dict(self) -> dict[str, Any]:
        """The recurring part as a payment's snapshot keeps it."""
        return {
            "amount": self.amount,
            "interval": self.interval,
            "interval_count": self.interval_count,
            "discount": self.discount,
            "discount_periods": self.discount_periods,
        }


@dataclass(frozen=True, slots=True)
class Quote:
    """The price of a set of choices: what is charged now and later."""

    currency: str
    lines: tuple[QuoteLine, ...]
    subtotal: int
    discount: int
    #: Charged now: the one-time lines plus the first period of the plan.
    total: int
    recurring: RecurringCharge | None = None
    coupon: CouponTerms | None = None

    def as_dict(self) -> dict[str, Any]:
        """The quote as a payment's snapshot keeps it."""
        return {
            "currency": self.currency,
            "lines": [line.as_dict() for line in self.lines],
            "subtotal": self.subtotal,
            "discount": self.discount,
            "total": self.total,
            "recurring": self.recurring.as_dict() if self.recurring else None,
            "coupon": self.coupon.as_dict() if self.coupon else None,
        }


# -- reading a link ------------------------------------------------------------


def _int(value: Any, default: int) -> int:
    # A transient (unsaved) row has None where the column default would go.
    return default if value is None else int(value)


def offer_from_link(link: LinkRecord) -> Offer:
    """The link's items as an :class:`Offer`; works on unsaved links too.

    Each item is keyed by its product id (``new<N>`` for an unsaved product);
    a product listed twice gets ``<id>.<N>`` for the repeats.
    """
    items: list[OfferItem] = []
    seen: dict[str, int] = {}
    currency = link.currency or ""
    for index, link_item in enumerate(link.items):
        product = link_item.product
        base = f"new{index}" if product.id is None else str(product.id)
        repeat = seen.get(base, 0)
        seen[base] = repeat + 1
        key = base if repeat == 0 else f"{base}.{repeat}"
        recurring = None
        if product.kind == "recurring" and product.interval:
            recurring = Recurrence(product.interval, _int(product.interval_count, 1))
        adjustable = bool(link_item.adjustable)
        quantity = max(1, _int(link_item.quantity, 1))
        low = max(1, _int(link_item.min_quantity, 1)) if adjustable else quantity
        high = max(low, _int(link_item.max_quantity, low)) if adjustable else quantity
        items.append(
            OfferItem(
                key=key,
                product_id=product.id,
                name=product.name or "",
                description=product.description or "",
                image_url=product.image_url,
                unit_amount=_int(product.unit_amount, 0),
                currency=product.currency or currency,
                recurring=recurring,
                quantity=min(max(quantity, low), high),
                adjustable=adjustable,
                min_quantity=low,
                max_quantity=high,
            )
        )
    return Offer(
        currency=currency, items=tuple(items), allow_coupons=bool(link.allow_coupons)
    )


# -- reading the browser's choices ---------------------------------------------


def _quantity_message(item: OfferItem) -> str:
    if item.min_quantity == item.max_quantity:
        return f"The quantity of {item.name} is {item.min_quantity}."
    return f"Choose a quantity from {item.min_quantity} to {item.max_quantity}."


def choices_from_form(offer: Offer, form: Any) -> tuple[Choices, list[PricingError]]:
    """Read quantities, the plan and the coupon code from a submitted form.

    *form* is anything with ``keys()`` and ``getlist(key)``, such as
    Werkzeug's ``request.form``. Fields named like ours but not on the link
    (``qty-999``), several plans, and quantities that are not whole numbers
    within the item's bounds are errors; every other field, including any
    amount the browser may send, is ignored.
    """
    errors: list[PricingError] = []
    quantities: dict[str, int] = {}
    for name in form:
        if not name.startswith(QUANTITY_PREFIX):
            continue
        key = name[len(QUANTITY_PREFIX) :]
        item = offer.item(key)
        values = form.getlist(name)
        if item is None:
            errors.append(
                PricingError(
                    ITEMS_FIELD,
                    "This page is out of date: an item on it is no longer sold "
                    "here. Check your order and try again.",
                )
            )
            continue
        raw = values[0].strip() if len(values) == 1 else ""
        if not raw.isascii() or not raw.isdigit() or len(raw) > MAX_QUANTITY_DIGITS:
            errors.append(PricingError(name, _quantity_message(item)))
            continue
        quantities[key] = int(raw)

    plan: str | None = None
    plan_values = [v.strip() for v in form.getlist(PLAN_FIELD)]
    if len(plan_values) > 1:
        errors.append(PricingError(PLAN_FIELD, "Choose one plan."))
    elif plan_values:
        plan = plan_values[0]

    codes = form.getlist(COUPON_FIELD)
    coupon_code = codes[0].strip() if len(codes) == 1 else ""
    if len(codes) > 1:
        errors.append(PricingError(COUPON_FIELD, COUPON_REJECTED))
    return Choices(quantities=quantities, plan=plan, coupon_code=coupon_code), errors


# -- pricing ---------------------------------------------------------------------


def _validate_choices(offer: Offer, choices: Choices) -> list[PricingError]:
    errors: list[PricingError] = []
    if not offer.items:
        errors.append(PricingError(ITEMS_FIELD, "There is nothing to buy here."))
    for item in offer.items:
        if item.currency != offer.currency:
            errors.append(
                PricingError(
                    ITEMS_FIELD,
                    "This link cannot take payments: its prices are in "
                    "different currencies.",
                )
            )
            break
    for key, quantity in choices.quantities.items():
        bought = offer.item(key)
        field_name = QUANTITY_PREFIX + key
        if bought is None:
            errors.append(
                PricingError(
                    ITEMS_FIELD,
                    "This page is out of date: an item on it is no longer sold "
                    "here. Check your order and try again.",
                )
            )
        elif not bought.min_quantity <= quantity <= bought.max_quantity:
            errors.append(PricingError(field_name, _quantity_message(bought)))
    plans = offer.plans
    if choices.plan is not None:
        chosen = offer.item(choices.plan)
        if chosen is None or chosen.recurring is None:
            errors.append(PricingError(PLAN_FIELD, "Choose one of the plans shown."))
    elif len(plans) > 1:
        errors.append(PricingError(PLAN_FIELD, "Choose a plan."))
    if choices.coupon_code and not offer.allow_coupons:
        errors.append(PricingError(COUPON_FIELD, COUPON_REJECTED))
    return errors


def _chosen_plan(offer: Offer, choices: Choices) -> OfferItem | None:
    if choices.plan is not None:
        return offer.item(choices.plan)
    plans = offer.plans
    return plans[0] if len(plans) == 1 else None


def chosen_items(offer: Offer, choices: Choices) -> tuple[OfferItem, ...]:
    """The items the customer buys: every one-time item and the one plan."""
    plan = _chosen_plan(offer, choices)
    return tuple(item for item in offer.items if item.recurring is None or item is plan)


def _later_discount_periods(terms: CouponTerms, recurrence: Recurrence) -> int | None:
    """How many periods after the first a coupon's duration still discounts."""
    if terms.duration == "forever":
        return None
    if terms.duration != "repeating" or not terms.duration_in_months:
        return 0
    months = terms.duration_in_months
    count = max(1, recurrence.count)
    if recurrence.interval == "month":
        covered = -(-months // count)
    elif recurrence.interval == "year":
        covered = -(-months // (12 * count))
    else:
        days = count * (7 if recurrence.interval == "week" else 1)
        covered = -(-(months * 30) // days)
    return max(0, covered - 1)


def quote(
    offer: Offer,
    choices: Choices,
    coupon: CouponTerms | None = None,
) -> Quote:
    """Price *choices* on *offer*, with *coupon* already found applicable.

    The caller checks the coupon with :func:`coupon_rejection` first (it
    needs the clock and the redemption count); here it only discounts the
    lines it covers. The discount never exceeds what it applies to and the
    total is never negative. Raises :class:`PricingRefused` when the
    choices cannot be priced on this offer.
    """
    errors = _validate_choices(offer, choices)
    if errors:
        raise PricingRefused(errors)
    lines: list[QuoteLine] = []
    for item in chosen_items(offer, choices):
        quantity = (
            choices.quantities.get(item.key, item.quantity)
            if item.adjustable
            else item.quantity
        )
        lines.append(
            QuoteLine(
                key=item.key,
                product_id=item.product_id,
                name=item.name,
                unit_amount=item.unit_amount,
                quantity=quantity,
                amount=item.unit_amount * quantity,
                recurring=item.recurring,
            )
        )
    subtotal = sum(line.amount for line in lines)
    discount = 0
    if coupon is not None:
        eligible = sum(line.amount for line in lines if coupon.covers(line.product_id))
        discount = coupon.discount_on(eligible)
    recurring = None
    plan_line = next((line for line in lines if line.recurring is not None), None)
    if plan_line is not None and plan_line.recurring is not None:
        later_discount = 0
        periods: int | None = 0
        if coupon is not None and coupon.covers(plan_line.product_id):
            periods = _later_discount_periods(coupon, plan_line.recurring)
            if periods is None or periods > 0:
                later_discount = coupon.discount_on(plan_line.amount)
        recurring = RecurringCharge(
            amount=plan_line.amount,
            interval=plan_line.recurring.interval,
            interval_count=plan_line.recurring.count,
            discount=later_discount,
            discount_periods=periods if later_discount else 0,
        )
    return Quote(
        currency=offer.currency,
        lines=tuple(lines),
        subtotal=subtotal,
        discount=discount,
        total=subtotal - discount,
        recurring=recurring,
        coupon=coupon,
    )


def terms_digest(priced: Quote) -> str:
    """A digest of every term of *priced* the customer sees and agrees to.

    Each line (product, name, unit amount, quantity, amount, interval), the
    currency, the discount and the code, the total, and each recurring amount
    and interval. The page carries it; paying is refused when the terms the
    server computes now give another digest, so a merchant's edit between
    page load and Pay (another currency, a daily instead of a monthly plan)
    is never charged on terms the customer did not see.
    """
    terms = priced.as_dict()
    coupon = terms.pop("coupon")
    terms["coupon"] = (
        None
        if coupon is None
        else {key: value for key, value in coupon.items() if key != "id"}
    )
    canonical = json.dumps(terms, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def default_choices(offer: Offer) -> Choices:
    """What the page preselects: each item's quantity and the first plan."""
    plans = offer.plans
    return Choices(
        quantities={i.key: i.quantity for i in offer.items if i.adjustable},
        plan=plans[0].key if len(plans) > 1 else None,
    )
