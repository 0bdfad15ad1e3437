"""Dashboard pages for the product catalogue."""

from __future__ import annotations

from flask import current_app, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from flask_paylinks.catalog import service as catalog
from flask_paylinks.catalog.service import ImageUpload
from flask_paylinks.db.models import PaymentLink, Product
from flask_paylinks.db.scoping import current_owner
from flask_paylinks.web.dashboard import blueprint
from flask_paylinks.web.dashboard.formflow import Answer, FormFlow
from flask_paylinks.web.dashboard.forms import ProductForm
from flask_paylinks.web.dashboard.helpers import (
    ActionForm,
    back,
    form_class,
    notice,
    paging,
    require_action,
    uploaded,
)
from flask_paylinks.web.urls import asset_url


@blueprint.get("/products")
def product_list() -> str:
    """The catalogue (or its archive), searchable, by name."""
    archived = request.args.get("archived") == "1"
    search = request.args.get("q", "")[:200]
    page = catalog.list_products(
        current_owner(), search=search, archived=archived, **paging()
    )
    return render_template(
        "paylinks/dashboard/products.html",
        page=page,
        archived=archived,
        search=search,
        prices=_prices(page.items),
        action=ActionForm(),
    )


def _prices(products: list[Product]) -> dict[int, str]:
    locale = current_app.config["PAYLINKS_LOCALE"]
    return {product.id: catalog.price_label(product, locale) for product in products}


@blueprint.route("/products/new", methods=["GET", "POST"])
def product_create() -> Answer:
    """Add a product to the catalogue."""
    owner = current_owner()
    form = form_class("product", ProductForm)()
    return _product_flow(owner, form, None).run(
        lambda: catalog.create_product(owner, form.to_data(), image=_image(form)),
        lambda product: (f"Added “{product.name}” to your products.", _next(product)),
    )


@blueprint.route("/products/<int:product_id>/edit", methods=["GET", "POST"])
def product_edit(product_id: int) -> Answer:
    """Change a product; payments already made keep the price they were made at."""
    owner = current_owner()
    product = catalog.get_product(owner, product_id)
    form = form_class("product", ProductForm)()
    if request.method == "GET":
        form.fill_from(product)
    return _product_flow(owner, form, product).run(
        lambda: catalog.update_product(
            owner, product.id, form.to_data(), image=_image(form)
        ),
        lambda saved: (f"Saved “{saved.name}”.", url_for(".product_list")),
    )


def _image(form: ProductForm) -> ImageUpload | None:
    """The image file chosen on the form, to be served at :func:`asset_url`."""
    file = uploaded(form.image_file.data)
    return ImageUpload(file.stream, asset_url) if file is not None else None


def _next(product: Product) -> str:
    """The builder when "Save and create a link" was pressed, else the catalogue."""
    if request.form.get("then") == "link":
        return url_for(".link_create", product=product.id)
    return url_for(".product_list")


def _product_flow(
    owner: str, form: ProductForm, product: Product | None
) -> FormFlow[Product]:
    def render() -> str:
        using = catalog.links_using(owner, product.id) if product is not None else []
        return render_template(
            "paylinks/dashboard/product_form.html",
            form=form,
            product=product,
            using=using,
            action=ActionForm(),
        )

    return FormFlow(form, render)


@blueprint.post("/products/<int:product_id>/archive")
def product_archive(product_id: int) -> BaseResponse:
    """Take a product out of the catalogue; links and payments keep it."""
    owner = current_owner()
    catalog.get_product(owner, product_id)  # a missing product is a 404 before a 400
    require_action()
    product = catalog.archive_product(owner, product_id)
    notice(_archived(product, catalog.links_using(owner, product.id)))
    return back(".product_list")


def _archived(product: Product, using: list[PaymentLink]) -> str:
    """What archiving *product* means for the links that still sell it."""
    if not using:
        return f"Archived “{product.name}”."
    names = ", ".join(f"“{link.name}”" for link in using[:5])
    more = f" and {len(using) - 5} more" if len(using) > 5 else ""
    return (
        f"Archived “{product.name}”. {len(using)} link"
        f"{'s' if len(using) != 1 else ''} still sell it: {names}{more}. "
        "Their past payments are unchanged."
    )


@blueprint.post("/products/<int:product_id>/restore")
def product_restore(product_id: int) -> BaseResponse:
    """Put an archived product back in the catalogue."""
    owner = current_owner()
    catalog.get_product(owner, product_id)
    require_action()
    product = catalog.restore_product(owner, product_id)
    notice(f"Restored “{product.name}” to your products.")
    return back(".product_list")
