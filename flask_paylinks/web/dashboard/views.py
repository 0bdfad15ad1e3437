"""Dashboard pages for payment links: the table, create/edit, detail, actions."""

from __future__ import annotations

import base64
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from flask_paylinks import uploads
from flask_paylinks.catalog import service as catalog
from flask_paylinks.catalog.presenters import interval_label
from flask_paylinks.core.errors import InvalidInput
from flask_paylinks.db.models import PaymentLink, Product
from flask_paylinks.db.scoping import current_owner
from flask_paylinks.db.session import session
from flask_paylinks.links import service as link_service
from flask_paylinks.links.service import LinkData, LinkFilters
from flask_paylinks.payments import history as payment_history
from flask_paylinks.payments import service as payments
from flask_paylinks.web import qr
from flask_paylinks.web.checkout.rendering import render_checkout_page
from flask_paylinks.web.dashboard import blueprint
from flask_paylinks.web.dashboard.forms import (
    LinkFilterForm,
    LinkForm,
    LinkItemForm,
    mark_errors,
)
from flask_paylinks.web.dashboard.helpers import (
    UNPROCESSABLE,
    ActionForm,
    back,
    form_class,
    notice,
    require_action,
    uploaded,
)
from flask_paylinks.web.rendering.branding import logo_url

Page = str | tuple[str, int]


def _link_or_404(owner: str, link_id: int) -> PaymentLink:
    link = link_service.get_link(owner, link_id)
    if link is None:
        abort(404)
    return link


def _per_page() -> int:
    per_page: int = current_app.config["PAYLINKS_PAGE_SIZE"]
    return per_page


# -- the table -----------------------------------------------------------------


@blueprint.get("/")
def index() -> Page:
    """The payment links table: search, filters, sort, pages, row actions."""
    owner = current_owner()
    form = LinkFilterForm(request.args)
    valid = form.validate()
    bad = {field.name for field in form if field.errors}

    def value(name: str) -> Any:
        return None if name in bad else form[name].data

    filters = LinkFilters(
        search=value("q") or "",
        status=value("status") or "",
        source=value("source") or "",
        created_from=None
        if {"created_from", "created_to"} & bad
        else value("created_from"),
        created_to=None
        if {"created_from", "created_to"} & bad
        else value("created_to"),
        sort=value("sort") or link_service.DEFAULT_SORT,
    )
    page = link_service.link_table(
        owner,
        filters,
        after=request.args.get("after"),
        before=request.args.get("before"),
        per_page=_per_page(),
    )
    kept = {
        key: val
        for key, val in request.args.items()
        if key not in {"after", "before"} and val
    }
    html = render_template(
        "paylinks/dashboard/links.html",
        page=page,
        form=form,
        filters=filters,
        kept=kept,
        action=ActionForm(),
        rows=[_row(link) for link in page.items],
    )
    return html if valid else (html, UNPROCESSABLE)


def _row(link: PaymentLink) -> dict[str, Any]:
    locale = current_app.config["PAYLINKS_LOCALE"]
    return {
        "link": link,
        "url": link_service.public_url(link),
        "price": link_service.price_summary(link, locale),
        "status": link_service.status_label(link),
        "source": link_service.SOURCE_LABELS.get(link.source, link.source),  # type: ignore[call-overload]
    }


# -- create and edit -----------------------------------------------------------


@blueprint.route("/links/new", methods=["GET", "POST"])
def link_create() -> Page | BaseResponse:
    """The link builder: products, quantities, options, branding, live preview."""
    owner = current_owner()
    form = form_class("link", LinkForm)()
    if request.method == "POST":
        link = _save(owner, form, None)
        if link is not None:
            notice(f"Created “{link.name}”. Share its URL to get paid.")
            return redirect(url_for(".link_detail", link_id=link.id))
        return _render_form(owner, form, None), UNPROCESSABLE
    product = catalog.get_product(owner, request.args.get("product"))
    if product is not None and product.active:
        form.items.append_entry({"product_id": product.id, "quantity": 1})
        form.name.data = product.name
    return _render_form(owner, form, None)


@blueprint.route("/links/<int:link_id>/edit", methods=["GET", "POST"])
def link_edit(link_id: int) -> Page | BaseResponse:
    """Change a link; its URL stays the same and past payments keep their snapshot."""
    owner = current_owner()
    link = _link_or_404(owner, link_id)
    form_type = form_class("link", LinkForm)
    if request.method == "POST":
        form = form_type()
        saved = _save(owner, form, link)
        if saved is not None:
            notice(f"Saved “{saved.name}”.")
            return redirect(url_for(".link_detail", link_id=saved.id))
        return _render_form(owner, form, link), UNPROCESSABLE
    form = form_type(data=_form_data(link))
    return _render_form(owner, form, link)


def _form_data(link: PaymentLink) -> dict[str, Any]:
    return {
        "name": link.name,
        "items": [
            {
                "product_id": item.product_id,
                "quantity": item.quantity,
                "adjustable": item.adjustable,
                "min_quantity": item.min_quantity,
                "max_quantity": item.max_quantity,
            }
            for item in link.items
        ],
        "require_phone": link.require_phone,
        "collect_address": link.collect_address,
        "allow_coupons": link.allow_coupons,
        "after_payment": "redirect" if link.redirect_url else "confirmation",
        "redirect_url": link.redirect_url or "",
        "redirect_target": "new" if link.redirect_new_tab else "same",
        "brand_color": link.brand_color or "",
        "logo_url": link.logo_url or "",
        "button_style": link.button_style
        or current_app.config["PAYLINKS_BUTTON_STYLE"],
    }


def _item_errors_by_name(form: LinkForm, errors: dict[str, str]) -> dict[str, str]:
    """Services count items by position; the form's names keep their indexes."""
    named: dict[str, str] = {}
    for key, message in errors.items():
        head, _, rest = key.partition("-")
        if head == "items" and rest:
            position, _, field = rest.partition("-")
            if position.isdigit() and int(position) < len(form.items.entries):
                key = f"{form.items.entries[int(position)].name}-{field}"
        named[key] = message
    return named


def _logo_asset(owner: str, form: LinkForm, link: PaymentLink | None) -> int | None:
    """The logo upload to save with the link (raises InvalidInput on a bad one)."""
    file = uploaded(form.logo_file.data)
    if file is not None:
        return uploads.store_image(owner, file.stream, field="logo_file").id
    keep = link is not None and link.logo_asset_id is not None
    if keep and not form.remove_logo.data and not (form.logo_url.data or "").strip():
        assert link is not None
        return link.logo_asset_id
    return None


def _save(owner: str, form: LinkForm, link: PaymentLink | None) -> PaymentLink | None:
    """Check and save the form; ``None`` with the fields marked when it is refused."""
    valid = form.validate()
    asset_id: int | None = None
    try:
        asset_id = _logo_asset(owner, form, link)
    except InvalidInput as error:
        mark_errors(form, error.errors)
        valid = False
    data = form.to_data(logo_asset_id=asset_id)
    errors = link_service.check_link(owner, data, existing=link)
    if not valid or errors:
        mark_errors(form, _item_errors_by_name(form, errors))
        session().rollback()
        return None
    try:
        if link is None:
            return link_service.create_link(owner, data)
        return link_service.update_link(owner, link.id, data)
    except InvalidInput as error:
        session().rollback()
        mark_errors(form, _item_errors_by_name(form, error.errors))
        return None


def _render_form(owner: str, form: LinkForm, link: PaymentLink | None) -> str:
    locale = current_app.config["PAYLINKS_LOCALE"]
    products = catalog.products_by_id(owner, form.product_ids())
    prices = {pid: catalog.price_label(p, locale) for pid, p in products.items()}
    preview_url = (
        url_for(".link_preview_existing", link_id=link.id)
        if link is not None
        else url_for(".link_preview")
    )
    return render_template(
        "paylinks/dashboard/link_form.html",
        form=form,
        link=link,
        products=products,
        prices=prices,
        preview_url=preview_url,
        max_quantity=current_app.config["PAYLINKS_MAX_QUANTITY"],
        max_items=current_app.config["PAYLINKS_MAX_ITEMS_PER_LINK"],
        logo_src=logo_url(link) if link is not None else None,
        default_color=current_app.config["PAYLINKS_BRAND_COLOR"],
        item_template=LinkItemForm(prefix="items-__i__-"),
    )


# -- live preview --------------------------------------------------------------


def render_preview(link: PaymentLink) -> str:
    """The real checkout page of an unsaved link, inert.

    The checkout's own renderer draws it, from the same template customers
    get, so the preview cannot drift from what they see.
    """
    return render_checkout_page(link, preview=True)


def _preview(owner: str, link: PaymentLink | None) -> Response:
    form = form_class("link", LinkForm)(meta={"csrf": False})
    data = form.to_data(logo_asset_id=None)
    logo = uploaded(form.logo_file.data)
    replace: dict[str, Any] = {}
    if logo is not None:
        limit: int = current_app.config["PAYLINKS_LOGO_MAX_BYTES"]
        content = uploads.read_limited(logo.stream, limit)
        kind = uploads.image_type(content) if content else None
        if content and kind:
            encoded = base64.b64encode(content).decode()
            replace["logo_url"] = f"data:{kind};base64,{encoded}"
    elif (
        link is not None
        and link.logo_asset_id is not None
        and not form.remove_logo.data
        and not data.logo_url
    ):
        replace["logo_asset_id"] = link.logo_asset_id
    if replace:
        data = LinkData(**{**data.__dict__, **replace})
    draft = link_service.draft_link(owner, data, based_on=link)
    html = render_preview(draft)
    response = Response(html, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.post("/links/preview")
def link_preview() -> Response:
    """The checkout page as the link being created would show it."""
    return _preview(current_owner(), None)


@blueprint.post("/links/<int:link_id>/preview")
def link_preview_existing(link_id: int) -> Response:
    """The checkout page as the link being edited would show it."""
    owner = current_owner()
    return _preview(owner, _link_or_404(owner, link_id))


@blueprint.get("/products/search.json")
def product_search() -> Response:
    """Active catalogue products matching ``q``, for the link builder's picker."""
    owner = current_owner()
    locale = current_app.config["PAYLINKS_LOCALE"]
    found = catalog.search_products(owner, request.args.get("q", "")[:200], limit=12)
    return Response(
        _json([_product_json(product, locale) for product in found]),
        mimetype="application/json",
    )


def _product_json(product: Product, locale: str) -> dict[str, Any]:
    return {
        "id": product.id,
        "name": product.name,
        "price": catalog.price_label(product, locale),
        "kind": product.kind,
        "currency": product.currency,
    }


def _json(value: Any) -> str:
    return current_app.json.dumps(value)


# -- one link ------------------------------------------------------------------


@blueprint.get("/links/<int:link_id>")
def link_detail(link_id: int) -> str:
    """One link: its URL and QR code, its settings, and its payments."""
    owner = current_owner()
    link = _link_or_404(owner, link_id)
    locale = current_app.config["PAYLINKS_LOCALE"]
    payments = payment_history.link_payments(
        owner,
        link,
        after=request.args.get("after"),
        before=request.args.get("before"),
        per_page=_per_page(),
        count=False,
    )
    contact_url = current_app.extensions["paylinks"].contact_url
    return render_template(
        "paylinks/dashboard/link_detail.html",
        link=link,
        url=link_service.public_url(link),
        price=link_service.price_summary(link, locale),
        status=link_service.status_label(link),
        source=link_service.SOURCE_LABELS.get(link.source, link.source),  # type: ignore[call-overload]
        logo_src=logo_url(link),
        payments=payments,
        totals=payment_history.state_totals(owner, link),
        contact_url=contact_url,
        action=ActionForm(),
        interval_label=interval_label,
        price_label=lambda product: catalog.price_label(product, locale),
    )


@blueprint.get("/links/<int:link_id>/payments.csv")
def link_payments_csv(link_id: int) -> Response:
    """Every payment of the link as a CSV file, streamed."""
    owner = current_owner()
    link = _link_or_404(owner, link_id)
    filename = f"payments-{link.id}.csv"
    response = Response(
        stream_with_context(payment_history.payments_csv(owner, link)),
        mimetype="text/csv",
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/links/<int:link_id>/qr.png")
def link_qr_png(link_id: int) -> Response:
    """The QR code of the link's URL as a PNG; ``?download=1`` saves it."""
    return _qr(link_id, "png")


@blueprint.get("/links/<int:link_id>/qr.svg")
def link_qr_svg(link_id: int) -> Response:
    """The QR code of the link's URL as an SVG; ``?download=1`` saves it."""
    return _qr(link_id, "svg")


def _qr(link_id: int, kind: str) -> Response:
    owner = current_owner()
    link = _link_or_404(owner, link_id)
    url = link_service.public_url(link)
    if kind == "png":
        response = Response(qr.qr_png(url), mimetype="image/png")
    else:
        svg = qr.qr_svg(url, title=f"QR code of {url}")
        response = Response(svg, mimetype="image/svg+xml")
    if request.args.get("download"):
        response.headers["Content-Disposition"] = (
            f'attachment; filename="payment-link-{link.id}-qr.{kind}"'
        )
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


# -- actions -------------------------------------------------------------------


def _set_link_active(link_id: int, active: bool, message: str) -> BaseResponse:
    owner = current_owner()
    _link_or_404(owner, link_id)
    require_action()
    link = link_service.set_link_active(owner, link_id, active)
    assert link is not None
    notice(message.format(name=link.name))
    return back(".index")


@blueprint.post("/links/<int:link_id>/deactivate")
def link_deactivate(link_id: int) -> BaseResponse:
    """Stop the link taking payments; its checkout says it is no longer available."""
    return _set_link_active(
        link_id, False, "Deactivated “{name}”. Its URL no longer takes payments."
    )


@blueprint.post("/links/<int:link_id>/activate")
def link_activate(link_id: int) -> BaseResponse:
    """Let the link take payments again, at the same URL."""
    return _set_link_active(
        link_id, True, "Activated “{name}”. Its URL takes payments again."
    )


@blueprint.route("/links/<int:link_id>/delete", methods=["GET", "POST"])
def link_delete(link_id: int) -> Page | BaseResponse:
    """Ask, then delete the link; its payments are kept."""
    owner = current_owner()
    link = _link_or_404(owner, link_id)
    if request.method == "GET":
        return render_template(
            "paylinks/dashboard/link_delete.html",
            link=link,
            action=ActionForm(),
            payment_count=payment_history.link_payments(owner, link, per_page=1).total,
        )
    require_action()
    link_service.delete_link(owner, link_id)
    notice(f"Deleted “{link.name}”. Its payments are kept.")
    return redirect(url_for(".index"))


# -- what a customer typed that differs from the CRM ---------------------------


def _contact_changes(payment_id: int, apply: bool) -> BaseResponse:
    owner = current_owner()
    require_action()
    if apply:
        payment = payments.apply_contact_changes(owner, payment_id)
        message = "Updated the contact with what the customer entered."
    else:
        payment = payments.dismiss_contact_changes(owner, payment_id)
        message = "Kept the contact's details as they were."
    if payment is None:
        abort(404)
    notice(message)
    if payment.link_id is None:
        return back(".index")
    return back(".link_detail", link_id=payment.link_id)


@blueprint.post("/payments/<int:payment_id>/contact-changes/apply")
def contact_changes_apply(payment_id: int) -> BaseResponse:
    """Write the phone, email or address a customer typed onto the contact."""
    return _contact_changes(payment_id, apply=True)


@blueprint.post("/payments/<int:payment_id>/contact-changes/dismiss")
def contact_changes_dismiss(payment_id: int) -> BaseResponse:
    """Keep the CRM's details; forget what the customer typed."""
    return _contact_changes(payment_id, apply=False)
