"""Dashboard pages for the product catalogue."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from flask_paylinks import uploads
from flask_paylinks.catalog import service as catalog
from flask_paylinks.catalog.service import ProductData
from flask_paylinks.core.errors import InvalidInput
from flask_paylinks.db.models import Product, ProductKind
from flask_paylinks.db.scoping import current_owner
from flask_paylinks.db.session import session
from flask_paylinks.web.dashboard import blueprint
from flask_paylinks.web.dashboard.forms import ProductForm, mark_errors, parse_amount
from flask_paylinks.web.dashboard.helpers import (
    UNPROCESSABLE,
    ActionForm,
    back,
    form_class,
    notice,
    page_number,
    require_action,
    uploaded,
)

Page = str | tuple[str, int]


def _product_or_404(owner: str, product_id: int) -> Product:
    product = catalog.get_product(owner, product_id)
    if product is None or not product.listed:
        abort(404)
    return product


@blueprint.get("/products")
def product_list() -> str:
    """The catalogue (or its archive), searchable, by name."""
    owner = current_owner()
    archived = request.args.get("archived") == "1"
    search = request.args.get("q", "")[:200]
    page = catalog.list_products(
        owner,
        search=search,
        archived=archived,
        page=page_number(),
        per_page=current_app.config["PAYLINKS_PAGE_SIZE"],
    )
    locale = current_app.config["PAYLINKS_LOCALE"]
    return render_template(
        "paylinks/dashboard/products.html",
        page=page,
        archived=archived,
        search=search,
        prices={p.id: catalog.price_label(p, locale) for p in page.items},
        action=ActionForm(),
    )


@blueprint.route("/products/new", methods=["GET", "POST"])
def product_create() -> Page | BaseResponse:
    """Add a product to the catalogue."""
    owner = current_owner()
    form = form_class("product", ProductForm)()
    if request.method == "POST":
        product = _save(owner, form, None)
        if product is not None:
            notice(f"Added “{product.name}” to your products.")
            return redirect(_after_save(product))
        return _render(form, None), UNPROCESSABLE
    return _render(form, None)


@blueprint.route("/products/<int:product_id>/edit", methods=["GET", "POST"])
def product_edit(product_id: int) -> Page | BaseResponse:
    """Change a product; payments already made keep the price they were made at."""
    owner = current_owner()
    product = _product_or_404(owner, product_id)
    form_type = form_class("product", ProductForm)
    if request.method == "POST":
        form = form_type()
        saved = _save(owner, form, product)
        if saved is not None:
            notice(f"Saved “{saved.name}”.")
            return redirect(url_for(".product_list"))
        return _render(form, product), UNPROCESSABLE
    form = form_type(data=_form_data(product))
    return _render(form, product)


def _after_save(product: Product) -> str:
    if request.form.get("then") == "link":
        return url_for(".link_create", product=product.id)
    return url_for(".product_list")


def _form_data(product: Product) -> dict[str, Any]:
    from flask_paylinks.core.money import Money

    image = product.image_url or ""
    return {
        "name": product.name,
        "description": product.description,
        "kind": product.kind,
        "price": f"{Money(product.unit_amount, product.currency).to_decimal():f}",
        "currency": product.currency,
        "interval": product.interval or "month",
        "interval_count": product.interval_count or 1,
        "image_url": "" if image.startswith("/") else image,
    }


def _image(owner: str, form: ProductForm, product: Product | None) -> str | None:
    file = uploaded(form.image_file.data)
    if file is not None:
        return uploads.asset_path(
            uploads.store_image(owner, file.stream, field="image_file")
        )
    typed = (form.image_url.data or "").strip()
    if typed:
        return typed
    current = product.image_url if product is not None else None
    if current and current.startswith("/") and not form.remove_image.data:
        return current
    return None


def _save(owner: str, form: ProductForm, product: Product | None) -> Product | None:
    valid = form.validate()
    image: str | None = None
    try:
        image = _image(owner, form, product)
    except InvalidInput as error:
        mark_errors(form, error.errors)
        valid = False
    currency = form.currency.data or ""
    amount = parse_amount(form.price, currency)
    if amount is None and not form.price.errors:
        form.price.errors = ["Enter a price such as 49.00"]
    recurring = form.kind.data == ProductKind.RECURRING
    data = ProductData(
        name=form.name.data or "",
        unit_amount=amount if amount is not None else 0,
        currency=currency,
        kind=form.kind.data or ProductKind.ONE_TIME,
        interval=form.interval.data if recurring else None,
        interval_count=form.interval_count.data if recurring else None,
        description=form.description.data or "",
        image_url=image,
    )
    errors = catalog.check_product(data)
    valid = valid and not form.price.errors
    if not valid or errors:
        mark_errors(form, errors)
        session().rollback()
        return None
    try:
        if product is None:
            return catalog.create_product(owner, data)
        return catalog.update_product(owner, product.id, data)
    except InvalidInput as error:
        session().rollback()
        mark_errors(form, error.errors)
        return None


def _render(form: ProductForm, product: Product | None) -> str:
    owner = current_owner()
    using = catalog.links_using(owner, product.id) if product is not None else []
    return render_template(
        "paylinks/dashboard/product_form.html",
        form=form,
        product=product,
        using=using,
        action=ActionForm(),
    )


@blueprint.post("/products/<int:product_id>/archive")
def product_archive(product_id: int) -> BaseResponse:
    """Take a product out of the catalogue; links and payments keep it."""
    owner = current_owner()
    _product_or_404(owner, product_id)
    require_action()
    product = catalog.archive_product(owner, product_id)
    assert product is not None
    using = catalog.links_using(owner, product.id)
    if using:
        names = ", ".join(f"“{link.name}”" for link in using[:5])
        more = f" and {len(using) - 5} more" if len(using) > 5 else ""
        notice(
            f"Archived “{product.name}”. {len(using)} link"
            f"{'s' if len(using) != 1 else ''} still sell it: {names}{more}. "
            "Their past payments are unchanged."
        )
    else:
        notice(f"Archived “{product.name}”.")
    return back(".product_list")


@blueprint.post("/products/<int:product_id>/restore")
def product_restore(product_id: int) -> BaseResponse:
    """Put an archived product back in the catalogue."""
    owner = current_owner()
    _product_or_404(owner, product_id)
    require_action()
    product = catalog.restore_product(owner, product_id)
    assert product is not None
    notice(f"Restored “{product.name}” to your products.")
    return back(".product_list")
