"""Dashboard pages for coupons."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import abort, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from flask_paylinks.catalog import service as catalog
from flask_paylinks.core.errors import InvalidInput
from flask_paylinks.coupons import service as coupon_service
from flask_paylinks.db.models import Coupon
from flask_paylinks.db.scoping import current_owner
from flask_paylinks.db.session import session
from flask_paylinks.localtime import end_of_day, last_day, local_day, start_of_day
from flask_paylinks.web.dashboard import blueprint
from flask_paylinks.web.dashboard.forms import CouponForm, mark_errors, options
from flask_paylinks.web.dashboard.helpers import (
    UNPROCESSABLE,
    ActionForm,
    back,
    form_class,
    notice,
    page_number,
    require_action,
)
from flask_paylinks.web.templating import format_day

Page = str | tuple[str, int]

#: Products offered as checkboxes on the coupon form.
MAX_PRODUCT_CHOICES = 500


def _coupon_or_404(owner: str, coupon_id: int) -> Coupon:
    coupon = coupon_service.get_coupon(owner, coupon_id)
    if coupon is None:
        abort(404)
    return coupon


@blueprint.get("/coupons")
def coupon_list() -> str:
    """Coupons, newest first, with how often each was redeemed."""
    owner = current_owner()
    show = request.args.get("show", "")
    active = {"active": True, "inactive": False}.get(show)
    search = request.args.get("q", "")[:64]
    page = coupon_service.list_coupons(
        owner,
        search=search,
        active=active,
        page=page_number(),
        per_page=current_app.config["PAYLINKS_PAGE_SIZE"],
    )
    locale = current_app.config["PAYLINKS_LOCALE"]
    return render_template(
        "paylinks/dashboard/coupons.html",
        page=page,
        show=show,
        search=search,
        discounts={c.id: coupon_service.discount_label(c, locale) for c in page.items},
        durations={c.id: coupon_service.duration_label(c) for c in page.items},
        validity={c.id: _validity(c) for c in page.items},
        action=ActionForm(),
    )


def _validity(coupon: Coupon) -> str:
    """``Always``, ``From Mar 1, 2026``, ``Until Mar 31, 2026`` or both ends."""
    start = format_day(coupon.valid_from) if coupon.valid_from else None
    # valid_until is the first moment it stops working: show the last day.
    end = format_day(last_day(coupon.valid_until)) if coupon.valid_until else None
    if start and end:
        return f"{start} to {end}"
    if start:
        return f"From {start}"
    if end:
        return f"Until {end}"
    return "Always"


def _product_choices(owner: str, selected: list[int]) -> list[Any]:
    locale = current_app.config["PAYLINKS_LOCALE"]
    products = catalog.list_products(owner, per_page=MAX_PRODUCT_CHOICES).items
    chosen = catalog.products_by_id(owner, selected)
    for product in chosen.values():
        if product not in products:
            products.append(product)
    return options(
        *(
            (
                product.id,
                f"{product.name} ({catalog.price_label(product, locale)})"
                + ("" if product.active else " — archived"),
            )
            for product in products
        )
    )


def _render(owner: str, form: CouponForm, coupon: Coupon | None) -> str:
    return render_template(
        "paylinks/dashboard/coupon_form.html",
        form=form,
        coupon=coupon,
        action=ActionForm(),
    )


def _save(owner: str, form: CouponForm, coupon: Coupon | None) -> Coupon | None:
    valid = form.validate()
    # The days picked are the merchant's days, in the merchant's timezone.
    data = replace(
        form.to_data(),
        valid_from=start_of_day(form.valid_from.data),
        valid_until=end_of_day(form.valid_until.data),
    )
    shape_errors = any(field.errors for field in form)
    errors = coupon_service.check_coupon(owner, data, existing=coupon)
    if not valid or shape_errors or errors:
        mark_errors(form, errors)
        session().rollback()
        return None
    try:
        if coupon is None:
            return coupon_service.create_coupon(owner, data)
        return coupon_service.update_coupon(owner, coupon.id, data)
    except InvalidInput as error:
        session().rollback()
        mark_errors(form, error.errors)
        return None


@blueprint.route("/coupons/new", methods=["GET", "POST"])
def coupon_create() -> Page | BaseResponse:
    """Make a coupon."""
    owner = current_owner()
    form = form_class("coupon", CouponForm)()
    form.products.choices = _product_choices(owner, form.products.data or [])
    if request.method == "POST":
        coupon = _save(owner, form, None)
        if coupon is not None:
            notice(f"Created coupon {coupon.code}.")
            return redirect(url_for(".coupon_list"))
        return _render(owner, form, None), UNPROCESSABLE
    return _render(owner, form, None)


@blueprint.route("/coupons/<int:coupon_id>/edit", methods=["GET", "POST"])
def coupon_edit(coupon_id: int) -> Page | BaseResponse:
    """Change a coupon; payments that used it keep the discount they got."""
    owner = current_owner()
    coupon = _coupon_or_404(owner, coupon_id)
    form = form_class("coupon", CouponForm)()
    if request.method == "GET":
        form.fill_from(coupon)
        form.valid_from.data = (
            local_day(coupon.valid_from) if coupon.valid_from else None
        )
        form.valid_until.data = (
            last_day(coupon.valid_until) if coupon.valid_until else None
        )
    form.products.choices = _product_choices(owner, form.products.data or [])
    if request.method == "POST":
        saved = _save(owner, form, coupon)
        if saved is not None:
            notice(f"Saved coupon {saved.code}.")
            return redirect(url_for(".coupon_list"))
        return _render(owner, form, coupon), UNPROCESSABLE
    return _render(owner, form, coupon)


def _set_coupon_active(coupon_id: int, active: bool, verb: str) -> BaseResponse:
    owner = current_owner()
    _coupon_or_404(owner, coupon_id)
    require_action()
    coupon = coupon_service.set_coupon_active(owner, coupon_id, active)
    assert coupon is not None
    notice(f"{verb} coupon {coupon.code}.")
    return back(".coupon_list")


@blueprint.post("/coupons/<int:coupon_id>/deactivate")
def coupon_deactivate(coupon_id: int) -> BaseResponse:
    """Stop customers using the coupon."""
    return _set_coupon_active(coupon_id, False, "Deactivated")


@blueprint.post("/coupons/<int:coupon_id>/activate")
def coupon_activate(coupon_id: int) -> BaseResponse:
    """Let customers use the coupon again."""
    return _set_coupon_active(coupon_id, True, "Activated")
