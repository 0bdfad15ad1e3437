"""Dashboard pages for coupons."""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from flask_paylinks.catalog import service as catalog
from flask_paylinks.coupons import service as coupon_service
from flask_paylinks.db.models import Coupon
from flask_paylinks.db.scoping import current_owner
from flask_paylinks.localtime import last_day
from flask_paylinks.web.dashboard import blueprint
from flask_paylinks.web.dashboard.formflow import Answer, FormFlow
from flask_paylinks.web.dashboard.forms import CouponForm, options
from flask_paylinks.web.dashboard.helpers import (
    ActionForm,
    back,
    form_class,
    notice,
    paging,
    require_action,
)
from flask_paylinks.web.templating import format_day

#: Products offered as checkboxes on the coupon form.
MAX_PRODUCT_CHOICES = 500


@blueprint.get("/coupons")
def coupon_list() -> str:
    """Coupons, newest first, with how often each was redeemed."""
    show = request.args.get("show", "")
    search = request.args.get("q", "")[:64]
    active = {"active": True, "inactive": False}.get(show)
    page = coupon_service.list_coupons(
        current_owner(), search=search, active=active, **paging()
    )
    return render_template(
        "paylinks/dashboard/coupons.html",
        page=page,
        show=show,
        search=search,
        **_labels(page.items),
        action=ActionForm(),
    )


def _labels(coupons: list[Coupon]) -> dict[str, dict[int, str]]:
    """The discount, duration and validity of each coupon, in words."""
    locale = current_app.config["PAYLINKS_LOCALE"]
    return {
        "discounts": {c.id: coupon_service.discount_label(c, locale) for c in coupons},
        "durations": {c.id: coupon_service.duration_label(c) for c in coupons},
        "validity": {c.id: _validity(c) for c in coupons},
    }


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


def _coupon_flow(
    owner: str, form: CouponForm, coupon: Coupon | None
) -> FormFlow[Coupon]:
    form.products.choices = _product_choices(owner, form.products.data or [])

    def render() -> str:
        return render_template(
            "paylinks/dashboard/coupon_form.html",
            form=form,
            coupon=coupon,
            action=ActionForm(),
        )

    return FormFlow(form, render)


@blueprint.route("/coupons/new", methods=["GET", "POST"])
def coupon_create() -> Answer:
    """Make a coupon."""
    owner = current_owner()
    form = form_class("coupon", CouponForm)()
    return _coupon_flow(owner, form, None).run(
        lambda: coupon_service.create_coupon(owner, form.to_data()),
        lambda coupon: (f"Created coupon {coupon.code}.", url_for(".coupon_list")),
    )


@blueprint.route("/coupons/<int:coupon_id>/edit", methods=["GET", "POST"])
def coupon_edit(coupon_id: int) -> Answer:
    """Change a coupon; payments that used it keep the discount they got."""
    owner = current_owner()
    coupon = coupon_service.get_coupon(owner, coupon_id)
    form = form_class("coupon", CouponForm)()
    if request.method == "GET":
        form.fill_from(coupon)
    return _coupon_flow(owner, form, coupon).run(
        lambda: coupon_service.update_coupon(owner, coupon.id, form.to_data()),
        lambda saved: (f"Saved coupon {saved.code}.", url_for(".coupon_list")),
    )


def _set_coupon_active(coupon_id: int, active: bool, verb: str) -> BaseResponse:
    owner = current_owner()
    coupon_service.get_coupon(
        owner, coupon_id
    )  # a missing coupon is a 404 before a 400
    require_action()
    coupon = coupon_service.set_coupon_active(owner, coupon_id, active)
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
