"""Pricing: pure functions from a link and the customer's choices to a quote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from flask_paylinks.core.pricing import (
    COUPON_REJECTED,
    Choices,
    CouponTerms,
    Offer,
    OfferItem,
    PricingError,
    Quote,
    Recurrence,
    choices_from_form,
    coupon_rejection,
    default_choices,
    offer_from_link,
    quote,
)
from flask_paylinks.db.models import LinkItem, PaymentLink, Product

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


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
    result = quote(offer, Choices(quantities={"1": 3}))
    assert isinstance(result, Quote)
    assert [(line.quantity, line.amount) for line in result.lines] == [
        (3, 7500),
        (2, 2000),
    ]
    assert (result.subtotal, result.discount, result.total) == (9500, 0, 9500)
    assert result.recurring is None


def test_exactly_one_plan_is_bought_and_recurs() -> None:
    monthly = item("3", 900, recurring=Recurrence("month"))
    yearly = item("4", 9000, recurring=Recurrence("year"))
    offer = Offer("USD", (item("1", 500), monthly, yearly))
    result = quote(offer, Choices(plan="4"))
    assert isinstance(result, Quote)
    assert [line.key for line in result.lines] == ["1", "4"]
    assert result.total == 9500
    assert result.recurring is not None
    assert (result.recurring.amount, result.recurring.interval) == (9000, "year")
    assert quote(offer, Choices()) == [PricingError("plan", "Choose a plan.")]
    assert quote(offer, Choices(plan="1")) == [
        PricingError("plan", "Choose one of the plans shown.")
    ]


def test_a_single_plan_needs_no_choice() -> None:
    offer = Offer("USD", (item("3", 900, recurring=Recurrence("month", 3)),))
    result = quote(offer, Choices())
    assert isinstance(result, Quote)
    assert result.recurring is not None
    assert result.recurring.interval_count == 3


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
        errors = quote(offer, choices)  # type: ignore[assignment]
    assert isinstance(errors, list)
    assert [e.field for e in errors] == [field]
    assert errors[0].message == "Choose a quantity from 1 to 5."


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
            ("qty-1", "2"),
            ("plan", "3"),
            ("amount", "1"),
            ("total", "1"),
            ("price-1", "0"),
        ]
    )
    choices, errors = choices_from_form(offer, form)
    assert errors == []
    assert choices == Choices(quantities={"1": 2}, plan="3", coupon_code="")

    _, errors = choices_from_form(offer, MultiDict([("qty-999", "1")]))
    assert [e.field for e in errors] == ["items"]
    _, errors = choices_from_form(offer, MultiDict([("plan", "3"), ("plan", "4")]))
    assert errors == [PricingError("plan", "Choose one plan.")]


def test_a_fixed_quantity_cannot_be_changed() -> None:
    offer = Offer("USD", (item("1", 2500, quantity=2, min_quantity=2, max_quantity=2),))
    result = quote(offer, Choices(quantities={"1": 50}))
    assert result == [PricingError("qty-1", "The quantity of Product 1 is 2.")]


def test_percent_and_amount_coupons() -> None:
    offer = Offer(
        "USD",
        (item("1", 1999, quantity=3, min_quantity=3, max_quantity=3),),
        allow_coupons=True,
    )
    ten = CouponTerms(id=1, code="TEN", percent_off_bp=1000)
    result = quote(offer, Choices(coupon_code="TEN"), ten)
    assert isinstance(result, Quote)
    # 10 % of 59.97 is 5.997: rounded half up to 6.00.
    assert (result.subtotal, result.discount, result.total) == (5997, 600, 5397)
    big = CouponTerms(id=2, code="BIG", amount_off=100_000, currency="USD")
    result = quote(offer, Choices(coupon_code="BIG"), big)
    assert isinstance(result, Quote)
    assert (result.discount, result.total) == (5997, 0)


def test_coupon_only_discounts_the_products_it_covers() -> None:
    offer = Offer("USD", (item("1", 1000), item("2", 3000)), allow_coupons=True)
    half_of_two = CouponTerms(
        id=1, code="HALF", percent_off_bp=5000, applies_to=frozenset({2})
    )
    result = quote(offer, Choices(coupon_code="HALF"), half_of_two)
    assert isinstance(result, Quote)
    assert (result.discount, result.total) == (1500, 2500)


def test_coupon_durations_on_a_plan() -> None:
    offer = Offer(
        "USD", (item("3", 1000, recurring=Recurrence("month")),), allow_coupons=True
    )
    cases = {
        ("once", None): (200, 0, 0),
        ("forever", None): (200, 200, None),
        ("repeating", 3): (200, 200, 2),
    }
    for (duration, months), (now_off, later_off, periods) in cases.items():
        terms = CouponTerms(
            id=1,
            code="X",
            percent_off_bp=2000,
            duration=duration,
            duration_in_months=months,
        )
        result = quote(offer, Choices(coupon_code="X"), terms)
        assert isinstance(result, Quote)
        assert result.discount == now_off
        assert result.recurring is not None
        assert result.recurring.discount == later_off
        assert result.recurring.discount_periods == periods


def test_every_coupon_rejection_reason() -> None:
    base = CouponTerms(id=1, code="X", percent_off_bp=1000)
    check = {"now": NOW, "currency": "USD", "product_ids": [1]}
    assert coupon_rejection(base, **check) is None  # type: ignore[arg-type]
    cases = {
        "inactive": CouponTerms(id=1, code="X", percent_off_bp=1, active=False),
        "not_yet_valid": CouponTerms(
            id=1, code="X", percent_off_bp=1, valid_from=NOW + timedelta(seconds=1)
        ),
        "expired": CouponTerms(id=1, code="X", percent_off_bp=1, valid_until=NOW),
        "exhausted": CouponTerms(
            id=1, code="X", percent_off_bp=1, max_redemptions=2, times_redeemed=2
        ),
        "wrong_currency": CouponTerms(id=1, code="X", amount_off=5, currency="EUR"),
        "wrong_product": CouponTerms(
            id=1, code="X", percent_off_bp=1, applies_to=frozenset({2})
        ),
    }
    for reason, terms in cases.items():
        assert coupon_rejection(terms, **check) == reason  # type: ignore[arg-type]
    reserved = CouponTerms(
        id=1, code="X", percent_off_bp=1, max_redemptions=2, times_redeemed=1
    )
    assert coupon_rejection(reserved, reserved=1, **check) == "exhausted"  # type: ignore[arg-type]
    assert COUPON_REJECTED == "This code is not valid."


def test_coupon_on_a_link_that_takes_none_is_refused() -> None:
    offer = Offer("USD", (item("1", 1000),), allow_coupons=False)
    assert quote(offer, Choices(coupon_code="ANY")) == [
        PricingError("coupon", COUPON_REJECTED)
    ]


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
    assert [i.key for i in offer.items] == ["new0", "new1"]
    assert offer.items[0].quantity == 1
    assert offer.items[1].quantity == 2  # the preselected quantity is within bounds
    assert offer.allow_coupons is False
    result = quote(offer, default_choices(offer))
    assert isinstance(result, Quote)
    assert result.total == 1200 + 2 * 500


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
    result = quote(offer, choices, coupon)
    assert isinstance(result, Quote)
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
    assert quote(offer, choices, coupon) == result
