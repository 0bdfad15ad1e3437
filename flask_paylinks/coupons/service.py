"""Coupons: discount codes a customer types at checkout.

A code is unique per merchant regardless of case (``SUMMER`` and ``summer``
are the same coupon; :attr:`Coupon.code_key` holds the form
:func:`~flask_paylinks.core.rules.normalise_code` gives, as the checkout's
look-up does). A
coupon takes a percentage (in basis points, 12.5 % is 1250) or a fixed amount
in one currency off, may be limited to some products, a window of dates and a
number of redemptions, and for recurring products applies once, forever or for
a number of months. Coupons are deactivated, never deleted, so payments that
used one keep pointing at it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from flask_paylinks.catalog.service import products_by_id
from flask_paylinks.core.errors import InvalidInput, NotFound
from flask_paylinks.core.money import Money, is_currency
from flask_paylinks.core.rules import INT32_MAX, normalise_code
from flask_paylinks.db.models import Coupon, CouponDuration, CouponProduct
from flask_paylinks.db.pagination import Page, page_window
from flask_paylinks.db.queries import LIKE_ESCAPE, contains_pattern
from flask_paylinks.db.scoping import owned, require_owned
from flask_paylinks.db.session import session

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$")
MAX_REPEATING_MONTHS = 120
#: Largest fixed amount off, in minor units.
MAX_AMOUNT_OFF = 99_999_999
#: The validity window must lie in these years: a day after the last one must
#: still be a date in every timezone.
FIRST_YEAR, LAST_YEAR = 1970, 9998


@dataclass(frozen=True)
class CouponData:
    """What a merchant enters for a coupon: a percentage or an amount off."""

    code: str
    percent_off_bp: int | None = None
    amount_off: int | None = None
    currency: str | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    max_redemptions: int | None = None
    applies_to_all: bool = True
    product_ids: Sequence[int] = field(default_factory=tuple)
    duration: str = CouponDuration.ONCE
    duration_in_months: int | None = None


def coupon_problems(
    owner: str, data: CouponData, coupon: Coupon | None = None
) -> dict[str, str]:
    """What breaks the rules in *data*, by form field; empty when it can be saved."""
    errors: dict[str, str] = {}
    for rule in (_code_rule, _discount_rule, _window_rule, _limit_rule, _scope_rule):
        for name, message in rule(owner, data, coupon).items():
            errors.setdefault(name, message)
    return errors


def _code_rule(owner: str, data: CouponData, coupon: Coupon | None) -> dict[str, str]:
    code = data.code.strip()
    if not code:
        return {"code": "Enter a code."}
    if not CODE.match(code):
        return {
            "code": "Use 3 to 64 letters, digits, dashes or underscores, starting "
            "with a letter or digit."
        }
    clash = session().scalar(
        owned(Coupon, owner)
        .where(Coupon.code_key == normalise_code(code))
        .with_only_columns(Coupon.id)
    )
    if clash is not None and (coupon is None or clash != coupon.id):
        return {"code": "You already have a coupon with this code."}
    return {}


def _discount_rule(_owner: str, data: CouponData, _c: Coupon | None) -> dict[str, str]:
    if (data.percent_off_bp is None) == (data.amount_off is None):
        return {"percent_off": "Enter a percentage or an amount off."}
    if data.percent_off_bp is not None:
        if data.percent_off_bp <= 0:
            return {"percent_off": "Enter a percentage above zero."}
        if data.percent_off_bp > 10_000:
            return {"percent_off": "A discount can be 100 % at most."}
        return {}
    errors: dict[str, str] = {}
    amount = data.amount_off or 0
    if amount < 0:
        errors["amount_off"] = "An amount off cannot be negative."
    elif amount == 0:
        errors["amount_off"] = "Enter an amount above zero."
    elif amount > MAX_AMOUNT_OFF:
        errors["amount_off"] = "This amount is too high."
    if not data.currency or not is_currency(data.currency):
        errors["currency"] = "Choose the currency of the amount off."
    return errors


def _window_rule(_owner: str, data: CouponData, _c: Coupon | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    for name, moment in (
        ("valid_from", data.valid_from),
        ("valid_until", data.valid_until),
    ):
        if moment is not None and not FIRST_YEAR <= moment.year <= LAST_YEAR + 1:
            errors[name] = (
                f"Choose a date between {FIRST_YEAR}-01-01 and {LAST_YEAR}-12-31."
            )
    start, end = data.valid_from, data.valid_until
    if start and end and end <= start and "valid_until" not in errors:
        errors["valid_until"] = "The end date cannot be before the start date."
    return errors


def _limit_rule(_owner: str, data: CouponData, coupon: Coupon | None) -> dict[str, str]:
    limit = data.max_redemptions
    if limit is None:
        return {}
    if limit < 1:
        return {"max_redemptions": "Allow at least 1 redemption, or leave empty."}
    if limit > INT32_MAX:
        return {
            "max_redemptions": f"Allow {INT32_MAX:,} redemptions at most, "
            "or leave empty."
        }
    if coupon is not None and limit < coupon.times_redeemed:
        return {
            "max_redemptions": "This coupon was already redeemed "
            f"{coupon.times_redeemed} times."
        }
    return {}


def _scope_rule(owner: str, data: CouponData, _c: Coupon | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not data.applies_to_all:
        wanted = set(data.product_ids)
        if not wanted:
            errors["products"] = "Choose at least one product, or apply it to all."
        elif set(products_by_id(owner, list(wanted))) != wanted:
            errors["products"] = "Choose products from your catalogue."
    if data.duration not in set(CouponDuration):
        errors["duration"] = "Choose how long the discount lasts."
    elif data.duration == CouponDuration.REPEATING:
        months = data.duration_in_months
        if months is None or months < 1:
            errors["duration_in_months"] = "Enter a number of months of 1 or more."
        elif months > MAX_REPEATING_MONTHS:
            errors["duration_in_months"] = (
                f"A discount can repeat for {MAX_REPEATING_MONTHS} months at most."
            )
    return errors


def _apply(owner: str, coupon: Coupon, data: CouponData) -> None:
    coupon.code = data.code.strip()
    key = normalise_code(data.code)
    assert key is not None  # the code passed CODE
    coupon.code_key = key
    coupon.percent_off_bp = data.percent_off_bp
    coupon.amount_off = data.amount_off if data.percent_off_bp is None else None
    coupon.currency = data.currency if data.percent_off_bp is None else None
    coupon.valid_from = data.valid_from
    coupon.valid_until = data.valid_until
    coupon.max_redemptions = data.max_redemptions
    coupon.applies_to_all = data.applies_to_all
    coupon.duration = data.duration
    coupon.duration_in_months = (
        data.duration_in_months if data.duration == CouponDuration.REPEATING else None
    )
    wanted = set() if data.applies_to_all else set(data.product_ids)
    coupon.product_links = [
        row for row in coupon.product_links if row.product_id in wanted
    ] + [
        CouponProduct(owner_id=owner, product_id=product_id)
        for product_id in sorted(wanted - coupon.product_ids)
    ]


def _save(coupon: Coupon) -> None:
    try:
        session().commit()
    except IntegrityError:
        # Another request took the code between the check and the insert.
        session().rollback()
        raise InvalidInput(
            {"code": "You already have a coupon with this code."}
        ) from None


def create_coupon(owner: str, data: CouponData) -> Coupon:
    """Make a coupon for *owner*; :class:`InvalidInput` when *data* is bad."""
    errors = coupon_problems(owner, data)
    if errors:
        raise InvalidInput(errors)
    coupon = Coupon(owner_id=owner, times_redeemed=0, active=True)
    _apply(owner, coupon, data)
    session().add(coupon)
    _save(coupon)
    return coupon


def update_coupon(owner: str, coupon_id: object, data: CouponData) -> Coupon:
    """Change one of *owner*'s coupons; :class:`NotFound` when there is none."""
    coupon = get_coupon(owner, coupon_id)
    errors = coupon_problems(owner, data, coupon)
    if errors:
        raise InvalidInput(errors)
    _apply(owner, coupon, data)
    _save(coupon)
    return coupon


def set_coupon_active(owner: str, coupon_id: object, active: bool) -> Coupon:
    """Turn a coupon off (customers can no longer use it) or back on."""
    coupon = get_coupon(owner, coupon_id)
    coupon.active = active
    session().commit()
    return coupon


def get_coupon(owner: str, coupon_id: object) -> Coupon:
    """One of *owner*'s coupons; :class:`NotFound` when there is none."""
    return require_owned(Coupon, owner, coupon_id)


def find_by_code(owner: str, code: str) -> Coupon:
    """*owner*'s coupon with this code in any case, active or not.

    :class:`NotFound` when there is none.
    """
    key = normalise_code(code)
    found = None
    if key is not None:
        stmt = owned(Coupon, owner).where(Coupon.code_key == key)
        found = session().scalars(stmt).first()
    if found is None:
        raise NotFound("No coupon with this code.")
    return found


def list_coupons(
    owner: str,
    *,
    search: str = "",
    active: bool | None = None,
    page: int = 1,
    per_page: int = 25,
) -> Page[Coupon]:
    """*owner*'s coupons, newest first, one numbered page."""
    stmt = owned(Coupon, owner)
    if active is not None:
        stmt = stmt.where(Coupon.active.is_(active))
    text = search.strip()
    if text:
        pattern = contains_pattern(text.upper())
        stmt = stmt.where(Coupon.code_key.like(pattern, escape=LIKE_ESCAPE))
    total = session().scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page, offset = page_window(page, per_page, total)
    rows = session().scalars(
        stmt.order_by(Coupon.created_at.desc(), Coupon.id.desc())
        .offset(offset)
        .limit(per_page)
    )
    return Page(items=list(rows), total=total, number=page, per_page=per_page)


def discount_label(coupon: Coupon, locale: str = "en_US") -> str:
    """``25% off``, ``12.5% off`` or ``$5.00 off``."""
    if coupon.percent_off_bp is not None:
        percent = (Decimal(coupon.percent_off_bp) / 100).normalize()
        return f"{percent:f}% off"
    assert coupon.amount_off is not None
    assert coupon.currency is not None
    return f"{Money(coupon.amount_off, coupon.currency).format(locale)} off"


def duration_label(coupon: Coupon) -> str:
    """How long the discount applies to a subscription, in words."""
    if coupon.duration == CouponDuration.FOREVER:
        return "Forever"
    if coupon.duration == CouponDuration.REPEATING:
        months = coupon.duration_in_months or 1
        return f"For {months} month{'s' if months != 1 else ''}"
    return "Once"
