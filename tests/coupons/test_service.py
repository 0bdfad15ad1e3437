"""The coupon service: codes in any case, products of the owner, not found."""

from __future__ import annotations

from typing import Any

import pytest

from flask_paylinks.core.errors import InvalidInput, NotFound
from flask_paylinks.core.rules import normalise_code
from flask_paylinks.coupons.service import (
    CouponData,
    create_coupon,
    discount_label,
    duration_label,
    find_by_code,
    get_coupon,
    list_coupons,
    set_coupon_active,
)

from ..dashboard.conftest import OWNER_A, OWNER_B
from ..factories import make_coupon, make_product


def test_coupon_codes_are_unique_per_owner_in_any_case(ctx: Any) -> None:
    create_coupon(OWNER_A, CouponData(code="Summer", percent_off_bp=1250))
    with pytest.raises(InvalidInput) as error:
        create_coupon(OWNER_A, CouponData(code="SUMMER", percent_off_bp=500))
    assert "code" in error.value.errors
    create_coupon(OWNER_B, CouponData(code="summer", amount_off=500, currency="USD"))
    found = find_by_code(OWNER_A, " summer ")
    assert found is not None
    assert found.code == "Summer"
    assert discount_label(found) == "12.5% off"
    theirs = find_by_code(OWNER_B, "SUMMER")
    assert theirs is not None
    assert discount_label(theirs) == "$5.00 off"
    assert duration_label(theirs) == "Once"


def test_coupon_limited_to_products_of_its_owner(ctx: Any) -> None:
    mine = make_product(OWNER_A)
    theirs = make_product(OWNER_B)
    with pytest.raises(InvalidInput) as error:
        create_coupon(
            OWNER_A,
            CouponData(
                code="ONLYMINE",
                percent_off_bp=1000,
                applies_to_all=False,
                product_ids=[mine.id, theirs.id],
            ),
        )
    assert error.value.errors == {"products": "Choose products from your catalogue."}
    coupon = create_coupon(
        OWNER_A,
        CouponData(
            code="ONLYMINE",
            percent_off_bp=1000,
            applies_to_all=False,
            product_ids=[mine.id],
            duration="repeating",
            duration_in_months=3,
        ),
    )
    assert coupon.product_ids == {mine.id}
    assert duration_label(coupon) == "For 3 months"


def test_codes_are_looked_up_as_the_checkout_looks_them_up(ctx: Any) -> None:
    create_coupon(OWNER_A, CouponData(code="Spring-26", percent_off_bp=500))
    coupon = find_by_code(OWNER_A, "  spring-26 ")
    assert coupon.code_key == normalise_code("  spring-26 ") == "SPRING-26"
    for code in ("", "   ", "X" * 65, "spring\x0026", "nothing"):
        with pytest.raises(NotFound):
            find_by_code(OWNER_A, code)


def test_another_owners_coupon_is_not_found(ctx: Any) -> None:
    theirs = make_coupon(OWNER_B)
    with pytest.raises(NotFound):
        get_coupon(OWNER_A, theirs.id)
    with pytest.raises(NotFound):
        set_coupon_active(OWNER_A, theirs.id, False)
    assert theirs.active


def test_search_takes_like_wildcards_literally(ctx: Any) -> None:
    make_coupon(OWNER_A, code="TEN_OFF")
    make_coupon(OWNER_A, code="TENXOFF")
    assert [c.code for c in list_coupons(OWNER_A, search="n_o").items] == ["TEN_OFF"]
