"""Pricing: pure functions from a link and the customer's choices to a quote.

Every expected value here is exact (amounts, periods, keys, messages), and
every boundary is tried on both sides, so that a wrong value which stays in
range fails a test; ``make mutation`` measures it (``docs/development.rst``).
Rejections are read through :func:`errors_of` and prices through
:func:`priced`, the only two places that know how :func:`quote` answers.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from flask_paylinks.core.pricing import (
    COUPON_REJECTED,
    MAX_QUANTITY_DIGITS,
    Choices,
    CouponTerms,
    Offer,
    OfferItem,
    PricingError,
    PricingRefused,
    Quote,
    QuoteLine,
    Recurrence,
    RecurringCharge,
    choices_from_form,
    chosen_items,
    coupon_rejection,
    default_choices,
    offer_from_link,
    quote,
    terms_digest,
)
from flask_paylinks.core.rules import MAX_CODE_LENGTH, normalise_code
from flask_paylinks.db.models import (
    Coupon,
    CouponProduct,
    LinkItem,
    PaymentLink,
    Product,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
OUT_OF_DATE = (
    "This page is out of date: an item on it is no longer sold here. "
    "Check your order and try again."
)


def errors_of(
    offer: Offer, choices: Choices, coupon: CouponTerms | None = None
) -> list[PricingError]:
    """The errors :func:`quote` refuses *choices* with; fails if it prices them."""
    with pytest.raises(PricingRefused) as refused:
        quote(offer, choices, coupon)
    problems = list(refused.value.problems)
    # The form's view of the same refusal: each field's first message.
    first: dict[str, str] = {}
    for problem in problems:
        first.setdefault(problem.field, problem.message)
    assert refused.value.errors == first
    return problems


def priced(offer: Offer, choices: Choices, coupon: CouponTerms | None = None) -> Quote:
    """The :class:`Quote` for *choices*; fails if :func:`quote` refuses them."""
    return quote(offer, choices, coupon)


def item(key: str, amount: int, **values: object) -> OfferItem:
    defaults: dict[str, object] = {
        "key": key,
        "product_id": int(key),
        "name": f"Product {key}",
        "description": "",
        "image_url": None,
        "unit_amount": amount,
        "currency": "USD",
        "recurring": None,
    }
    defaults.update(values)
    return OfferItem(**defaults)  # type: ignore[arg-type]


def terms(**values: object) -> CouponTerms:
    defaults: dict[str, object] = {"id": 1, "code": "X", "percent_off_bp": 1000}
    defaults.update(values)
    return CouponTerms(**defaults)  # type: ignore[arg-type]


# -- the offer ---------------------------------------------------------------------


def test_offer_splits_plans_from_one_time_items() -> None:
    mug, monthly, yearly = (
        item("1", 500),
        item("3", 900, recurring=Recurrence("month")),
        item("4", 9000, recurring=Recurrence("year")),
    )
    offer = Offer("USD", (mug, monthly, yearly))
    assert offer.plans == (monthly, yearly)
    assert offer.one_time == (mug,)
    assert offer.offers_plan_choice is True
    assert Offer("USD", (mug, monthly)).offers_plan_choice is False
    assert offer.item("4") is yearly
    assert offer.item("5") is None
    assert chosen_items(offer, Choices(plan="4")) == (mug, yearly)
    assert chosen_items(offer, Choices()) == (mug,)
    assert chosen_items(Offer("USD", (mug, monthly)), Choices()) == (mug, monthly)


def test_default_choices_preselect_quantities_and_the_first_of_several_plans() -> None:
    offer = Offer(
        "USD",
        (
            item("1", 500, adjustable=True, quantity=3, min_quantity=1, max_quantity=5),
            item("2", 700, quantity=2, min_quantity=2, max_quantity=2),
            item("3", 900, recurring=Recurrence("month")),
            item("4", 9000, recurring=Recurrence("year")),
        ),
    )
    assert default_choices(offer) == Choices(quantities={"1": 3}, plan="3")
    one_plan = Offer("USD", offer.items[:3])
    assert default_choices(one_plan) == Choices(quantities={"1": 3}, plan=None)


# -- quotes ------------------------------------------------------------------------


def test_one_time_items_add_up() -> None:
    offer = Offer(
        "USD",
        (
            item(
                "1", 2500, adjustable=True, quantity=1, min_quantity=1, max_quantity=5
            ),
            item("2", 1000, quantity=2, min_quantity=2, max_quantity=2),
        ),
    )
    result = priced(offer, Choices(quantities={"1": 3}))
    assert result == Quote(
        currency="USD",
        lines=(
            QuoteLine("1", 1, "Product 1", 2500, 3, 7500),
            QuoteLine("2", 2, "Product 2", 1000, 2, 2000),
        ),
        subtotal=9500,
        discount=0,
        total=9500,
        recurring=None,
        coupon=None,
    )


def test_an_adjustable_item_left_alone_keeps_its_preselected_quantity() -> None:
    offer = Offer(
        "EUR",
        (
            item(
                "1",
                250,
                currency="EUR",
                adjustable=True,
                quantity=2,
                min_quantity=1,
                max_quantity=5,
            ),
        ),
    )
    result = priced(offer, Choices())
    assert result.currency == "EUR"
    assert result.lines == (QuoteLine("1", 1, "Product 1", 250, 2, 500),)


def test_a_quantity_sent_for_an_item_that_is_not_adjustable_is_ignored() -> None:
    # The bounds admit 4, but the customer cannot choose: the link's 2 holds.
    offer = Offer("USD", (item("1", 100, quantity=2, min_quantity=1, max_quantity=5),))
    result = priced(offer, Choices(quantities={"1": 4}))
    assert result.lines == (QuoteLine("1", 1, "Product 1", 100, 2, 200),)


@pytest.mark.parametrize(
    ("quantity", "accepted"),
    [(1, False), (2, True), (3, True), (5, True), (6, False)],
)
def test_quantity_bounds_are_inclusive(quantity: int, accepted: bool) -> None:
    offer = Offer(
        "USD",
        (item("1", 100, adjustable=True, quantity=2, min_quantity=2, max_quantity=5),),
    )
    choices = Choices(quantities={"1": quantity})
    if accepted:
        assert priced(offer, choices).total == 100 * quantity
    else:
        assert errors_of(offer, choices) == [
            PricingError("qty-1", "Choose a quantity from 2 to 5.")
        ]


def test_exactly_one_plan_is_bought_and_recurs() -> None:
    monthly = item("3", 900, recurring=Recurrence("month"))
    yearly = item("4", 9000, recurring=Recurrence("year", 2))
    offer = Offer("USD", (item("1", 500), monthly, yearly))
    result = priced(offer, Choices(plan="4"))
    assert [line.key for line in result.lines] == ["1", "4"]
    assert result.lines[1].recurring == Recurrence("year", 2)
    assert result.total == 9500
    assert result.recurring == RecurringCharge(
        amount=9000,
        interval="year",
        interval_count=2,
        discount=0,
        discount_periods=0,
    )
    assert errors_of(offer, Choices()) == [PricingError("plan", "Choose a plan.")]
    for wrong in ("1", "9", ""):
        assert errors_of(offer, Choices(plan=wrong)) == [
            PricingError("plan", "Choose one of the plans shown.")
        ]


def test_a_single_plan_needs_no_choice() -> None:
    offer = Offer("USD", (item("3", 900, recurring=Recurrence("month", 3)),))
    result = priced(offer, Choices())
    assert result.recurring == RecurringCharge(900, "month", 3, 0, 0)
    assert priced(offer, Choices(plan="3")) == result


def test_an_empty_offer_is_refused() -> None:
    assert errors_of(Offer("USD", ()), Choices()) == [
        PricingError("items", "There is nothing to buy here.")
    ]


def test_an_offer_in_mixed_currencies_is_refused_once() -> None:
    offer = Offer(
        "USD",
        (item("1", 100), item("2", 100, currency="EUR"), item("3", 1, currency="GBP")),
    )
    message = "This link cannot take payments: its prices are in different currencies."
    assert errors_of(offer, Choices()) == [PricingError("items", message)]
    # Checked before the choices, and the choices are still checked.
    assert errors_of(offer, Choices(quantities={"9": 1})) == [
        PricingError("items", message),
        PricingError("items", OUT_OF_DATE),
    ]


def test_a_quantity_for_an_item_not_on_the_link_is_refused() -> None:
    offer = Offer("USD", (item("1", 100),))
    assert errors_of(offer, Choices(quantities={"9": 1})) == [
        PricingError("items", OUT_OF_DATE)
    ]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("0", "qty-1"),
        ("-1", "qty-1"),
        ("6", "qty-1"),
        ("two", "qty-1"),
        ("1.5", "qty-1"),
        ("", "qty-1"),
        ("9" * 40, "qty-1"),
        ("٣", "qty-1"),  # an Arabic-Indic digit is not ours to read
    ],
)
def test_bad_quantities_are_errors_at_their_field(raw: str, field: str) -> None:
    offer = Offer(
        "USD",
        (item("1", 2500, adjustable=True, min_quantity=1, max_quantity=5),),
    )
    choices, errors = choices_from_form(offer, MultiDict({"qty-1": raw}))
    if not errors:
        errors = errors_of(offer, choices)
    assert errors == [PricingError(field, "Choose a quantity from 1 to 5.")]


def test_a_fixed_quantity_cannot_be_changed() -> None:
    offer = Offer("USD", (item("1", 2500, quantity=2, min_quantity=2, max_quantity=2),))
    assert errors_of(offer, Choices(quantities={"1": 50})) == [
        PricingError("qty-1", "The quantity of Product 1 is 2.")
    ]


# -- reading the form ----------------------------------------------------------------


def test_form_reading_refuses_foreign_ids_and_two_plans_and_ignores_amounts() -> None:
    offer = Offer(
        "USD",
        (
            item("1", 2500, adjustable=True, min_quantity=1, max_quantity=5),
            item("3", 900, recurring=Recurrence("month")),
            item("4", 9000, recurring=Recurrence("year")),
        ),
    )
    form = MultiDict(
        [
            ("amount", "1"),
            ("qty-1", " 2 "),
            ("plan", " 3 "),
            ("total", "1"),
            ("price-1", "0"),
        ]
    )
    choices, errors = choices_from_form(offer, form)
    assert errors == []
    assert choices == Choices(quantities={"1": 2}, plan="3", coupon_code="")

    _, errors = choices_from_form(offer, MultiDict([("qty-999", "1")]))
    assert errors == [PricingError("items", OUT_OF_DATE)]
    _, errors = choices_from_form(offer, MultiDict([("plan", "3"), ("plan", "4")]))
    assert errors == [PricingError("plan", "Choose one plan.")]


def test_form_reading_goes_on_after_an_error() -> None:
    offer = Offer(
        "USD",
        (
            item("1", 100, adjustable=True, min_quantity=1, max_quantity=5),
            item("2", 100, adjustable=True, min_quantity=1, max_quantity=5),
        ),
    )
    form = MultiDict([("qty-999", "1"), ("qty-1", "x"), ("qty-2", "3")])
    choices, errors = choices_from_form(offer, form)
    assert errors == [
        PricingError("items", OUT_OF_DATE),
        PricingError("qty-1", "Choose a quantity from 1 to 5."),
    ]
    assert choices.quantities == {"2": 3}


def test_a_quantity_sent_twice_is_refused() -> None:
    offer = Offer(
        "USD", (item("1", 100, adjustable=True, min_quantity=1, max_quantity=5),)
    )
    choices, errors = choices_from_form(
        offer, MultiDict([("qty-1", "2"), ("qty-1", "3")])
    )
    assert errors == [PricingError("qty-1", "Choose a quantity from 1 to 5.")]
    assert choices.quantities == {}


def test_quantities_have_at_most_six_digits() -> None:
    assert MAX_QUANTITY_DIGITS == 6
    offer = Offer(
        "USD", (item("1", 1, adjustable=True, min_quantity=1, max_quantity=10**6),)
    )
    choices, errors = choices_from_form(offer, MultiDict({"qty-1": "000002"}))
    assert (choices.quantities, errors) == ({"1": 2}, [])
    choices, errors = choices_from_form(offer, MultiDict({"qty-1": "0000002"}))
    assert choices.quantities == {}
    assert errors == [PricingError("qty-1", "Choose a quantity from 1 to 1000000.")]


def test_one_coupon_code_is_read_as_typed_and_two_are_refused() -> None:
    offer = Offer("USD", (item("1", 100),), allow_coupons=True)
    choices, errors = choices_from_form(offer, MultiDict({"coupon": "  save10 "}))
    assert (choices, errors) == (Choices(coupon_code="save10"), [])
    choices, errors = choices_from_form(
        offer, MultiDict([("coupon", "A"), ("coupon", "B")])
    )
    assert (choices, errors) == (Choices(), [PricingError("coupon", COUPON_REJECTED)])
    choices, errors = choices_from_form(
        offer, MultiDict([("coupon", "A"), ("coupon", "B"), ("coupon", "C")])
    )
    assert errors == [PricingError("coupon", COUPON_REJECTED)]


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("  save10 ", "SAVE10"),
        ("Été", "ÉTÉ"),
        ("", None),
        ("   ", None),
        ("A" * MAX_CODE_LENGTH, "A" * 64),
        ("a" * (MAX_CODE_LENGTH + 1), None),
        ("A\tB", None),
        ("A\u200bB", None),
    ],
)
def test_normalise_code(typed: str, key: str | None) -> None:
    assert MAX_CODE_LENGTH == 64
    assert normalise_code(typed) == key


# -- coupons -------------------------------------------------------------------------


def test_percent_and_amount_coupons() -> None:
    offer = Offer(
        "USD",
        (item("1", 1999, quantity=3, min_quantity=3, max_quantity=3),),
        allow_coupons=True,
    )
    ten = CouponTerms(id=1, code="TEN", percent_off_bp=1000)
    result = priced(offer, Choices(coupon_code="TEN"), ten)
    # 10 % of 59.97 is 5.997: rounded half up to 6.00.
    assert (result.subtotal, result.discount, result.total) == (5997, 600, 5397)
    assert result.coupon == ten
    big = CouponTerms(id=2, code="BIG", amount_off=100_000, currency="USD")
    result = priced(offer, Choices(coupon_code="BIG"), big)
    assert (result.discount, result.total) == (5997, 0)


@pytest.mark.parametrize(
    ("amount", "percent_off_bp", "off"),
    [
        (4999, 1, 0),  # 0.4999 of a cent: down
        (5000, 1, 1),  # exactly half a cent: up
        (5001, 1, 1),
        (14999, 1, 1),
        (15000, 1, 2),
        (1, 5000, 1),  # half of one cent is a cent
        (1, 4999, 0),
        (3, 5000, 2),  # 1.5 cents: 2
        (1000, 1, 0),  # a discount that rounds to nothing is nothing
        (10000, 10000, 10000),
        (12345, 10000, 12345),
        (987654321, 10000, 987654321),
        (100, 20000, 100),  # never more than the amount
        (0, 5000, 0),
        (-100, 5000, 0),
    ],
)
def test_percent_discounts_round_half_up(
    amount: int, percent_off_bp: int, off: int
) -> None:
    assert terms(percent_off_bp=percent_off_bp).discount_on(amount) == off


@pytest.mark.parametrize(
    ("amount", "amount_off", "off"),
    [(1, 500, 1), (499, 500, 499), (500, 500, 500), (501, 500, 500), (0, 500, 0)],
)
def test_amount_discounts_stop_at_the_amount(
    amount: int, amount_off: int, off: int
) -> None:
    coupon = terms(percent_off_bp=None, amount_off=amount_off, currency="USD")
    assert coupon.discount_on(amount) == off


def test_a_coupon_with_neither_percent_nor_amount_discounts_nothing() -> None:
    assert terms(percent_off_bp=None).discount_on(1000) == 0


def test_coupon_only_discounts_the_products_it_covers() -> None:
    offer = Offer("USD", (item("1", 1000), item("2", 3000)), allow_coupons=True)
    half_of_two = CouponTerms(
        id=1, code="HALF", percent_off_bp=5000, applies_to=frozenset({2})
    )
    result = priced(offer, Choices(coupon_code="HALF"), half_of_two)
    assert (result.discount, result.total) == (1500, 2500)
    assert half_of_two.covers(2) is True
    assert half_of_two.covers(1) is False
    assert half_of_two.covers(None) is False
    assert terms().covers(None) is True


def test_coupon_on_a_link_that_takes_none_is_refused() -> None:
    offer = Offer("USD", (item("1", 1000),), allow_coupons=False)
    assert errors_of(offer, Choices(coupon_code="ANY")) == [
        PricingError("coupon", COUPON_REJECTED)
    ]
    assert COUPON_REJECTED == "This code is not valid."


def test_every_coupon_rejection_reason() -> None:
    check = {"now": NOW, "currency": "USD", "product_ids": [1]}
    assert coupon_rejection(terms(), **check) is None  # type: ignore[arg-type]
    cases = {
        "inactive": terms(active=False, valid_until=NOW),
        "not_yet_valid": terms(valid_from=NOW + SECOND, valid_until=NOW),
        "expired": terms(valid_until=NOW, max_redemptions=1, times_redeemed=1),
        "exhausted": terms(max_redemptions=2, times_redeemed=2, applies_to={2}),
        "wrong_currency": terms(
            percent_off_bp=None, amount_off=5, currency="EUR", applies_to={2}
        ),
        "wrong_product": terms(applies_to=frozenset({2})),
    }
    for reason, coupon in cases.items():
        assert coupon_rejection(coupon, **check) == reason  # type: ignore[arg-type]


def rejection(coupon: CouponTerms, **values: object) -> str | None:
    check: dict[str, object] = {"now": NOW, "currency": "USD", "product_ids": [1]}
    check.update(values)
    return coupon_rejection(coupon, **check)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("now", "reason"),
    [(NOW - SECOND, "not_yet_valid"), (NOW, None), (NOW + SECOND, None)],
)
def test_valid_from_is_the_first_valid_moment(
    now: datetime, reason: str | None
) -> None:
    assert rejection(terms(valid_from=NOW), now=now) == reason


@pytest.mark.parametrize(
    ("now", "reason"),
    [(NOW - SECOND, None), (NOW, "expired"), (NOW + SECOND, "expired")],
)
def test_valid_until_is_the_first_invalid_moment(
    now: datetime, reason: str | None
) -> None:
    assert rejection(terms(valid_until=NOW), now=now) == reason


@pytest.mark.parametrize(
    ("redeemed", "reserved", "reason"),
    [
        (2, None, None),
        (3, None, "exhausted"),
        (4, None, "exhausted"),
        (1, 1, None),
        (2, 1, "exhausted"),
        (0, 3, "exhausted"),
    ],
)
def test_max_redemptions_counts_redeemed_and_reserved(
    redeemed: int, reserved: int | None, reason: str | None
) -> None:
    coupon = terms(max_redemptions=3, times_redeemed=redeemed)
    extra = {} if reserved is None else {"reserved": reserved}
    assert rejection(coupon, **extra) == reason


def test_currency_matters_only_for_amount_coupons() -> None:
    amount = terms(percent_off_bp=None, amount_off=500, currency="USD")
    assert rejection(amount) is None
    assert rejection(amount, currency="EUR") == "wrong_currency"
    assert rejection(terms(currency="EUR")) is None


def test_a_limited_coupon_needs_one_covered_product() -> None:
    limited = terms(applies_to=frozenset({2, 5}))
    assert rejection(limited, product_ids=[2]) is None
    assert rejection(limited, product_ids=[None, 1, 5]) is None
    assert rejection(limited, product_ids=[1, None]) == "wrong_product"
    assert rejection(limited, product_ids=[]) == "wrong_product"
    assert rejection(terms(), product_ids=[None]) is None


def test_coupon_terms_from_a_stored_coupon() -> None:
    stored = Coupon(
        id=9,
        code="Save10",
        percent_off_bp=1000,
        amount_off=None,
        currency=None,
        applies_to_all=False,
        product_links=[CouponProduct(product_id=3), CouponProduct(product_id=4)],
        duration="repeating",
        duration_in_months=3,
        valid_from=NOW - SECOND,
        valid_until=NOW + SECOND,
        max_redemptions=10,
        times_redeemed=3,
        active=False,
    )
    assert CouponTerms.from_model(stored) == CouponTerms(
        id=9,
        code="Save10",
        percent_off_bp=1000,
        amount_off=None,
        currency=None,
        applies_to=frozenset({3, 4}),
        duration="repeating",
        duration_in_months=3,
        valid_from=NOW - SECOND,
        valid_until=NOW + SECOND,
        max_redemptions=10,
        times_redeemed=3,
        active=False,
    )
    amount = Coupon(id=2, code="FIVE", amount_off=500, currency="EUR", active=True)
    assert CouponTerms.from_model(amount) == CouponTerms(
        id=2, code="FIVE", amount_off=500, currency="EUR"
    )


@pytest.mark.parametrize(
    ("applies_to_all", "limited", "applies_to"),
    [
        (True, [3], None),  # "all products" wins over stale rows
        (True, [], None),
        (False, [], None),  # limited to nothing listed: every product
        (False, [3], frozenset({3})),
        (None, [3], frozenset({3})),
    ],
)
def test_coupon_terms_product_limits(
    applies_to_all: bool | None, limited: list[int], applies_to: frozenset[int] | None
) -> None:
    stored = Coupon(
        id=1,
        code="X",
        applies_to_all=applies_to_all,
        product_links=[CouponProduct(product_id=pid) for pid in limited],
    )
    assert CouponTerms.from_model(stored).applies_to == applies_to


def test_coupon_terms_of_an_unsaved_coupon_use_the_column_defaults() -> None:
    terms_ = CouponTerms.from_model(Coupon(code="NEW", percent_off_bp=500))
    assert terms_ == CouponTerms(
        id=None,
        code="NEW",
        percent_off_bp=500,
        duration="once",
        times_redeemed=0,
        active=True,
    )


# -- coupons on a plan ---------------------------------------------------------------


def plan_quote(
    coupon: CouponTerms, recurrence: Recurrence, amount: int = 1000
) -> RecurringCharge:
    offer = Offer("USD", (item("3", amount, recurring=recurrence),), allow_coupons=True)
    result = priced(offer, Choices(coupon_code=coupon.code), coupon)
    assert result.recurring is not None
    return result.recurring


def test_coupon_durations_on_a_plan() -> None:
    offer = Offer(
        "USD", (item("3", 1000, recurring=Recurrence("month")),), allow_coupons=True
    )
    cases = {
        ("once", None): (200, 0, 0),
        ("once", 3): (200, 0, 0),  # months only count for "repeating"
        ("forever", None): (200, 200, None),
        ("forever", 3): (200, 200, None),
        ("repeating", None): (200, 0, 0),
        ("repeating", 0): (200, 0, 0),
        ("repeating", 1): (200, 0, 0),  # the first charge is the one month
        ("repeating", 2): (200, 200, 1),
        ("repeating", 3): (200, 200, 2),
    }
    for (duration, months), (now_off, later_off, periods) in cases.items():
        coupon = terms(
            percent_off_bp=2000, duration=duration, duration_in_months=months
        )
        result = priced(offer, Choices(coupon_code="X"), coupon)
        assert result.discount == now_off
        assert result.recurring == RecurringCharge(
            amount=1000,
            interval="month",
            interval_count=1,
            discount=later_off,
            discount_periods=periods,
        ), (duration, months)


@pytest.mark.parametrize(
    ("interval", "count", "months", "later_periods"),
    [
        ("month", 1, 3, 2),
        ("month", 2, 3, 1),  # two periods of two months cover three
        ("month", 3, 3, 0),
        ("month", 3, 7, 2),
        ("year", 1, 12, 0),
        ("year", 1, 13, 1),
        ("year", 1, 25, 2),
        ("year", 2, 24, 0),
        ("year", 2, 25, 1),
        ("week", 1, 1, 4),  # 30 days: five weeks
        ("week", 2, 1, 2),  # 30 days: three fortnights
        ("week", 1, 2, 8),  # 60 days: nine weeks
        ("day", 1, 1, 29),
        ("day", 7, 1, 4),
        ("day", 30, 1, 0),
        ("day", 31, 1, 0),
        ("day", 29, 1, 1),
        ("month", 0, 3, 2),  # a count below one counts as one
    ],
)
def test_repeating_coupon_periods_after_the_first_charge(
    interval: str, count: int, months: int, later_periods: int
) -> None:
    coupon = terms(duration="repeating", duration_in_months=months)
    charge = plan_quote(coupon, Recurrence(interval, count))
    if later_periods:
        assert (charge.discount, charge.discount_periods) == (100, later_periods)
        assert type(charge.discount_periods) is int
        assert charge.discounted_amount == 900
    else:
        assert (charge.discount, charge.discount_periods) == (0, 0)
        assert charge.discounted_amount == 1000
    assert charge.discount_forever is False


def test_a_coupon_limited_to_the_plan_discounts_its_renewals() -> None:
    coupon = terms(applies_to=frozenset({3}), duration="forever")
    charge = plan_quote(coupon, Recurrence("month"))
    assert (charge.discount, charge.discount_periods) == (100, None)
    assert charge.discount_forever is True
    other = terms(applies_to=frozenset({1}), duration="forever")
    offer = Offer(
        "USD",
        (item("1", 500), item("3", 1000, recurring=Recurrence("month"))),
        allow_coupons=True,
    )
    result = priced(offer, Choices(coupon_code="X"), other)
    assert result.discount == 50
    assert result.recurring == RecurringCharge(1000, "month", 1, 0, 0)
    assert result.recurring.discount_forever is False


def test_a_renewal_discount_that_rounds_to_nothing_has_no_periods() -> None:
    # 0.01 % of $10.00 is 0.1 cent: nothing, so no discounted periods either.
    coupon = terms(percent_off_bp=1, duration="repeating", duration_in_months=3)
    assert plan_quote(coupon, Recurrence("month")) == RecurringCharge(
        1000, "month", 1, 0, 0
    )
    forever = terms(percent_off_bp=1, duration="forever")
    charge = plan_quote(forever, Recurrence("month"))
    assert (charge.discount, charge.discount_periods) == (0, 0)
    assert charge.discount_forever is False


def test_an_amount_coupon_on_a_plan_and_an_item() -> None:
    offer = Offer(
        "USD",
        (item("1", 300), item("3", 1000, recurring=Recurrence("month"))),
        allow_coupons=True,
    )
    coupon = terms(
        percent_off_bp=None, amount_off=1200, currency="USD", duration="forever"
    )
    result = priced(offer, Choices(coupon_code="X"), coupon)
    assert (result.subtotal, result.discount, result.total) == (1300, 1200, 100)
    assert result.recurring == RecurringCharge(1000, "month", 1, 1000, None)
    assert result.recurring.discounted_amount == 0


# -- the snapshot and its digest -----------------------------------------------------


def snapshot_case() -> Quote:
    offer = Offer(
        "USD",
        (
            item("1", 1999, adjustable=True, min_quantity=1, max_quantity=5),
            item("3", 900, recurring=Recurrence("month")),
        ),
        allow_coupons=True,
    )
    coupon = CouponTerms(
        id=9,
        code="SAVE",
        percent_off_bp=1000,
        duration="repeating",
        duration_in_months=3,
    )
    return priced(offer, Choices(quantities={"1": 2}, coupon_code="SAVE"), coupon)


def test_every_field_of_the_snapshot() -> None:
    result = snapshot_case()
    # 10 % of 48.98 is 4.898: 4.90; of 9.00 is 0.90, for the two months after.
    assert result.as_dict() == {
        "currency": "USD",
        "lines": [
            {
                "product_id": 1,
                "name": "Product 1",
                "unit_amount": 1999,
                "quantity": 2,
                "amount": 3998,
                "interval": None,
                "interval_count": None,
            },
            {
                "product_id": 3,
                "name": "Product 3",
                "unit_amount": 900,
                "quantity": 1,
                "amount": 900,
                "interval": "month",
                "interval_count": 1,
            },
        ],
        "subtotal": 4898,
        "discount": 490,
        "total": 4408,
        "recurring": {
            "amount": 900,
            "interval": "month",
            "interval_count": 1,
            "discount": 90,
            "discount_periods": 2,
        },
        "coupon": {
            "id": 9,
            "code": "SAVE",
            "percent_off_bp": 1000,
            "amount_off": None,
            "currency": None,
            "duration": "repeating",
            "duration_in_months": 3,
        },
    }


def test_a_snapshot_without_plan_or_coupon() -> None:
    result = priced(Offer("JPY", (item("1", 500, currency="JPY"),)), Choices())
    assert result.as_dict() == {
        "currency": "JPY",
        "lines": [
            {
                "product_id": 1,
                "name": "Product 1",
                "unit_amount": 500,
                "quantity": 1,
                "amount": 500,
                "interval": None,
                "interval_count": None,
            }
        ],
        "subtotal": 500,
        "discount": 0,
        "total": 500,
        "recurring": None,
        "coupon": None,
    }


def digest_of(canonical: str) -> str:
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def test_terms_digest_is_of_the_sorted_compact_terms_without_the_coupon_id() -> None:
    result = snapshot_case()
    canonical = (
        '{"coupon":{"amount_off":null,"code":"SAVE","currency":null,'
        '"duration":"repeating","duration_in_months":3,"percent_off_bp":1000},'
        '"currency":"USD","discount":490,'
        '"lines":[{"amount":3998,"interval":null,"interval_count":null,'
        '"name":"Product 1","product_id":1,"quantity":2,"unit_amount":1999},'
        '{"amount":900,"interval":"month","interval_count":1,'
        '"name":"Product 3","product_id":3,"quantity":1,"unit_amount":900}],'
        '"recurring":{"amount":900,"discount":90,"discount_periods":2,'
        '"interval":"month","interval_count":1},'
        '"subtotal":4898,"total":4408}'
    )
    digest = terms_digest(result)
    assert digest == digest_of(canonical)
    assert len(digest) == 32
    # Another coupon row with the same terms gives the same digest.
    assert result.coupon is not None
    same_terms = Quote(
        currency=result.currency,
        lines=result.lines,
        subtotal=result.subtotal,
        discount=result.discount,
        total=result.total,
        recurring=result.recurring,
        coupon=CouponTerms(
            id=10,
            code="SAVE",
            percent_off_bp=1000,
            duration="repeating",
            duration_in_months=3,
        ),
    )
    assert terms_digest(same_terms) == digest


def test_terms_digest_without_a_coupon() -> None:
    result = priced(Offer("JPY", (item("1", 500, currency="JPY"),)), Choices())
    canonical = (
        '{"coupon":null,"currency":"JPY","discount":0,'
        '"lines":[{"amount":500,"interval":null,"interval_count":null,'
        '"name":"Product 1","product_id":1,"quantity":1,"unit_amount":500}],'
        '"recurring":null,"subtotal":500,"total":500}'
    )
    assert terms_digest(result) == digest_of(canonical)


# -- reading a link ------------------------------------------------------------------


def test_offer_from_a_transient_link_uses_column_defaults() -> None:
    product = Product(name="Mug", unit_amount=1200, currency="EUR", kind="one_time")
    plan = Product(
        name="Club", unit_amount=500, currency="EUR", kind="recurring", interval="month"
    )
    link = PaymentLink(name="internal", currency="EUR")
    link.items = [
        LinkItem(product=product),
        LinkItem(product=plan, adjustable=True, min_quantity=2, max_quantity=4),
    ]
    offer = offer_from_link(link)
    assert offer == Offer(
        currency="EUR",
        items=(
            OfferItem(
                key="new0",
                product_id=None,
                name="Mug",
                description="",
                image_url=None,
                unit_amount=1200,
                currency="EUR",
                recurring=None,
                quantity=1,
                adjustable=False,
                min_quantity=1,
                max_quantity=1,
            ),
            OfferItem(
                key="new1",
                product_id=None,
                name="Club",
                description="",
                image_url=None,
                unit_amount=500,
                currency="EUR",
                recurring=Recurrence("month", 1),
                quantity=2,  # the preselected quantity is within bounds
                adjustable=True,
                min_quantity=2,
                max_quantity=4,
            ),
        ),
        allow_coupons=False,
    )
    assert priced(offer, default_choices(offer)).total == 1200 + 2 * 500


def test_offer_from_a_link_of_saved_products_keys_repeats_apart() -> None:
    tea = Product(
        id=7,
        name="Tea",
        description="Green",
        image_url="https://cdn.test/tea.png",
        unit_amount=350,
        currency="USD",
        kind="one_time",
    )
    box = Product(
        id=8,
        name="Box",
        unit_amount=4000,
        currency="USD",
        kind="recurring",
        interval="week",
        interval_count=2,
    )
    link = PaymentLink(name="tea", currency="USD", allow_coupons=True)
    link.items = [
        LinkItem(product=tea, quantity=3),
        LinkItem(product=box),
        LinkItem(product=tea, adjustable=True, quantity=1, min_quantity=1),
        LinkItem(product=tea, adjustable=True, quantity=9, max_quantity=5),
    ]
    offer = offer_from_link(link)
    assert offer.allow_coupons is True
    assert [i.key for i in offer.items] == ["7", "8", "7.1", "7.2"]
    assert offer.items[0] == OfferItem(
        key="7",
        product_id=7,
        name="Tea",
        description="Green",
        image_url="https://cdn.test/tea.png",
        unit_amount=350,
        currency="USD",
        recurring=None,
        quantity=3,
        adjustable=False,
        min_quantity=3,
        max_quantity=3,
    )
    assert offer.items[1].recurring == Recurrence("week", 2)
    assert offer.items[1].product_id == 8
    # No maximum given: the minimum is the maximum too.
    assert (offer.items[2].min_quantity, offer.items[2].max_quantity) == (1, 1)
    # No minimum: one; the preselected 9 is cut to the maximum 5.
    bounds = offer.items[3]
    assert (bounds.quantity, bounds.min_quantity, bounds.max_quantity) == (5, 1, 5)


def test_offer_from_link_bounds_and_fallbacks() -> None:
    odd = Product(
        id=1,
        name=None,
        unit_amount=None,
        currency=None,
        kind="one_time",
        interval="day",
    )
    half = Product(id=2, name="Half", unit_amount=10, currency="GBP", kind="recurring")
    link = PaymentLink(name="odd", currency="GBP")
    link.items = [
        # Not adjustable: the bounds given are ignored, the quantity is fixed.
        LinkItem(
            product=odd, quantity=2, adjustable=False, min_quantity=1, max_quantity=9
        ),
        # Bounds below one are one; a maximum below the minimum is the minimum.
        LinkItem(
            product=half, quantity=0, adjustable=True, min_quantity=0, max_quantity=-3
        ),
    ]
    first, second = offer_from_link(link).items
    assert (first.name, first.unit_amount, first.currency) == ("", 0, "GBP")
    assert first.recurring is None  # an interval on a one-time product is stale
    assert (first.quantity, first.min_quantity, first.max_quantity) == (2, 2, 2)
    assert second.recurring is None  # recurring without an interval is not a plan
    assert (second.quantity, second.min_quantity, second.max_quantity) == (1, 1, 1)
    assert second.adjustable is True


def test_offer_from_a_link_without_currency_cannot_be_priced() -> None:
    product = Product(id=1, name="Mug", unit_amount=100, currency="EUR")
    link = PaymentLink(name="draft", currency=None)
    link.items = [LinkItem(product=product)]
    offer = offer_from_link(link)
    assert offer.currency == ""
    assert errors_of(offer, Choices()) == [
        PricingError(
            "items",
            "This link cannot take payments: its prices are in different currencies.",
        )
    ]


# -- properties ------------------------------------------------------------------

amounts = st.integers(min_value=0, max_value=10**9)


@st.composite
def offers_and_choices(draw: st.DrawFn) -> tuple[Offer, Choices, CouponTerms | None]:
    count = draw(st.integers(min_value=1, max_value=6))
    items = []
    for index in range(count):
        low = draw(st.integers(min_value=1, max_value=5))
        high = draw(st.integers(min_value=low, max_value=low + 20))
        recurring = draw(
            st.one_of(
                st.none(),
                st.builds(
                    Recurrence,
                    st.sampled_from(["day", "week", "month", "year"]),
                    st.integers(min_value=1, max_value=12),
                ),
            )
        )
        items.append(
            item(
                str(index + 1),
                draw(amounts),
                recurring=recurring,
                adjustable=draw(st.booleans()),
                quantity=low,
                min_quantity=low,
                max_quantity=high,
            )
        )
    offer = Offer("USD", tuple(items), allow_coupons=True)
    quantities = {
        i.key: draw(st.integers(min_value=i.min_quantity, max_value=i.max_quantity))
        for i in offer.items
        if i.adjustable
    }
    plan = draw(st.sampled_from(offer.plans)).key if offer.plans else None
    coupon = draw(
        st.one_of(
            st.none(),
            st.builds(
                CouponTerms,
                id=st.just(1),
                code=st.just("C"),
                percent_off_bp=st.integers(min_value=1, max_value=10_000),
                applies_to=st.one_of(
                    st.none(),
                    st.frozensets(st.integers(min_value=1, max_value=6), min_size=1),
                ),
                duration=st.sampled_from(["once", "forever", "repeating"]),
                duration_in_months=st.integers(min_value=1, max_value=36),
            ),
            st.builds(
                CouponTerms,
                id=st.just(2),
                code=st.just("D"),
                amount_off=st.integers(min_value=1, max_value=10**10),
                currency=st.just("USD"),
                applies_to=st.one_of(
                    st.none(),
                    st.frozensets(st.integers(min_value=1, max_value=6), min_size=1),
                ),
                duration=st.sampled_from(["once", "forever", "repeating"]),
                duration_in_months=st.integers(min_value=1, max_value=36),
            ),
        )
    )
    return offer, Choices(quantities, plan, "C" if coupon else ""), coupon


@settings(max_examples=300, deadline=None)
@given(offers_and_choices())
def test_quote_properties(case: tuple[Offer, Choices, CouponTerms | None]) -> None:
    offer, choices, coupon = case
    result = priced(offer, choices, coupon)
    # Integers only, all the way through.
    numbers = [result.subtotal, result.discount, result.total]
    numbers += [
        n
        for line in result.lines
        for n in (line.unit_amount, line.quantity, line.amount)
    ]
    if result.recurring is not None:
        numbers += [result.recurring.amount, result.recurring.discount]
    assert all(type(n) is int for n in numbers)
    # Never negative; the discount never above what it applies to.
    assert result.total >= 0
    assert 0 <= result.discount <= result.subtotal
    if coupon is not None:
        covered = sum(
            line.amount for line in result.lines if coupon.covers(line.product_id)
        )
        assert result.discount <= covered
    assert result.subtotal == sum(line.amount for line in result.lines)
    assert result.total == result.subtotal - result.discount
    if result.recurring is not None:
        assert 0 <= result.recurring.discount <= result.recurring.amount
        assert result.recurring.discounted_amount >= 0
    # Exactly one plan at most, and the same choices always give the same quote.
    assert sum(1 for line in result.lines if line.recurring) <= 1
    assert priced(offer, choices, coupon) == result
