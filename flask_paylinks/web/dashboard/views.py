"""Dashboard pages for payment links: the table, create/edit, detail, actions."""

from __future__ import annotations

import base64
from typing import Any

from flask import (
    Response,
    current_app,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from flask_paylinks import payments, uploads
from flask_paylinks.catalog import service as catalog
from flask_paylinks.catalog.presenters import interval_label
from flask_paylinks.core.errors import InvalidInput, NotFound
from flask_paylinks.db.models import LinkSource, PaymentLink, Product
from flask_paylinks.db.scoping import current_owner
from flask_paylinks.links import presenters
from flask_paylinks.links import service as link_service
from flask_paylinks.links.service import LinkFilters
from flask_paylinks.payments import history as payment_history
from flask_paylinks.state import paylinks_state
from flask_paylinks.web import qr
from flask_paylinks.web.checkout.rendering import render_checkout_page
from flask_paylinks.web.dashboard import blueprint
from flask_paylinks.web.dashboard import sends as sends_views
from flask_paylinks.web.dashboard.formflow import Answer, FormFlow
from flask_paylinks.web.dashboard.forms import LinkFilterForm, LinkForm, LinkItemForm
from flask_paylinks.web.dashboard.helpers import (
    UNPROCESSABLE,
    ActionForm,
    back,
    form_class,
    notice,
    require_action,
    uploaded,
    uploaded_stream,
)
from flask_paylinks.web.rendering.branding import logo_url
from flask_paylinks.web.urls import public_url


def _config(key: str) -> Any:
    return current_app.config[f"PAYLINKS_{key}"]


# -- the table -----------------------------------------------------------------


@blueprint.get("/")
def index() -> Answer:
    """The payment links table: search, filters, sort, pages, row actions."""
    form = LinkFilterForm(request.args)
    valid = form.validate()
    filters = _filters(form)
    owner = current_owner()
    page = link_service.link_table(
        owner, filters, per_page=_config("PAGE_SIZE"), **_cursor()
    )
    html = render_template(
        "paylinks/dashboard/links.html",
        page=page,
        form=form,
        filters=filters,
        kept={k: v for k, v in request.args.items() if k not in _cursor() and v},
        action=ActionForm(),
        rows=[_row(link) for link in page.items],
        conversions=sends_views.link_conversions(owner, page.items),
    )
    return html if valid else (html, UNPROCESSABLE)


def _cursor() -> dict[str, str | None]:
    """The keyset cursor of the page asked for (``after`` or ``before``)."""
    return {"after": request.args.get("after"), "before": request.args.get("before")}


def _filters(form: LinkFilterForm) -> LinkFilters:
    """What the table is narrowed to: the filters that were typed well."""
    bad = {field.name for field in form if field.errors}
    if {"created_from", "created_to"} & bad:
        bad |= {"created_from", "created_to"}
    value = {field.name: None if field.name in bad else field.data for field in form}
    return LinkFilters(
        search=value["q"] or "",
        status=value["status"] or "",
        source=value["source"] or "",
        created_from=value["created_from"],
        created_to=value["created_to"],
        sort=value["sort"] or link_service.DEFAULT_SORT,
    )


def _row(link: PaymentLink) -> dict[str, Any]:
    return {
        "link": link,
        "url": public_url(link),
        "price": presenters.price_summary(link, _config("LOCALE")),
        "status": presenters.status_label(link),
        "source": presenters.source_label(link),
    }


# -- create and edit -----------------------------------------------------------


@blueprint.route("/links/new", methods=["GET", "POST"])
def link_create() -> Answer:
    """The link builder: products, quantities, options, branding, live preview."""
    owner = current_owner()
    form = form_class("link", LinkForm)()
    if request.method == "GET" and (product := _requested_product(owner)):
        form.start_with(product)
    return _link_flow(owner, form, None).run(
        lambda: link_service.create_link(
            owner, form.to_data(), logo=uploaded_stream(form.logo_file.data)
        ),
        lambda link: (
            f"Created “{link.name}”. Share its URL to get paid.",
            url_for(".link_detail", link_id=link.id),
        ),
    )


@blueprint.route("/links/<int:link_id>/edit", methods=["GET", "POST"])
def link_edit(link_id: int) -> Answer:
    """Change a link; its URL stays the same and past payments keep their snapshot."""
    owner = current_owner()
    link = link_service.get_link(owner, link_id)
    if link.source == LinkSource.TEXT_TO_PAY:
        # A request is what the contact was texted: it is cancelled or resent,
        # never edited under them.
        return redirect(url_for(".request_detail", link_id=link.id))
    form = form_class("link", LinkForm)()
    if request.method == "GET":
        form.fill_from(link)
    return _link_flow(owner, form, link).run(
        lambda: link_service.update_link(
            owner, link.id, form.to_data(), logo=uploaded_stream(form.logo_file.data)
        ),
        lambda saved: (
            f"Saved “{saved.name}”.",
            url_for(".link_detail", link_id=saved.id),
        ),
    )


def _requested_product(owner: str) -> Product | None:
    """The active product ``?product=`` names, to start the builder with."""
    try:
        product = catalog.get_product(owner, request.args.get("product"))
    except NotFound:
        return None
    return product if product.active else None


def _link_flow(owner: str, form: LinkForm, link: PaymentLink | None) -> FormFlow[Any]:
    def render() -> str:
        products = catalog.products_by_id(owner, form.product_ids())
        preview = (
            url_for(".link_preview_existing", link_id=link.id)
            if link is not None
            else url_for(".link_preview")
        )
        return render_template(
            "paylinks/dashboard/link_form.html",
            form=form,
            link=link,
            products=products,
            prices={
                pid: catalog.price_label(p, _config("LOCALE"))
                for pid, p in products.items()
            },
            preview_url=preview,
            max_quantity=_config("MAX_QUANTITY"),
            max_items=_config("MAX_ITEMS_PER_LINK"),
            logo_src=logo_url(link) if link is not None else None,
            default_color=_config("BRAND_COLOR"),
            item_template=LinkItemForm(prefix="items-__i__-"),
            go_live_problem=link_service.go_live_problem(owner)
            if link is None
            else None,
        )

    return FormFlow(form, render)


# -- live preview --------------------------------------------------------------


def render_preview(link: PaymentLink) -> str:
    """The real checkout page of an unsaved link, inert.

    The checkout's own renderer draws it, from the same template customers
    get, so the preview cannot drift from what they see.
    """
    return render_checkout_page(link, preview=True)


def _preview(owner: str, link: PaymentLink | None) -> Response:
    form = form_class("link", LinkForm)(meta={"csrf": False})
    draft = link_service.draft_link(owner, form.to_data(), based_on=link)
    logo = uploaded(form.logo_file.data)
    if logo is not None:
        draft.logo_asset, draft.logo_url = None, _data_url(logo.stream)
    response = Response(render_preview(draft), mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def _data_url(stream: Any) -> str | None:
    """An uploaded logo as a ``data:`` URL, before it is saved; ``None`` if bad."""
    try:
        image = uploads.check_image(stream, field="logo_file")
    except InvalidInput:
        return None
    return f"data:{image.content_type};base64,{base64.b64encode(image.data).decode()}"


@blueprint.post("/links/preview")
def link_preview() -> Response:
    """The checkout page as the link being created would show it."""
    return _preview(current_owner(), None)


@blueprint.post("/links/<int:link_id>/preview")
def link_preview_existing(link_id: int) -> Response:
    """The checkout page as the link being edited would show it."""
    owner = current_owner()
    return _preview(owner, link_service.get_link(owner, link_id))


@blueprint.get("/products/search.json")
def product_search() -> Response:
    """Active catalogue products matching ``q``, for the link builder's picker."""
    owner = current_owner()
    found = catalog.search_products(owner, request.args.get("q", "")[:200], limit=12)
    products = [_product_json(product) for product in found]
    return Response(current_app.json.dumps(products), mimetype="application/json")


def _product_json(product: Product) -> dict[str, Any]:
    return {
        "id": product.id,
        "name": product.name,
        "price": catalog.price_label(product, _config("LOCALE")),
        "kind": product.kind,
        "currency": product.currency,
    }


# -- one link ------------------------------------------------------------------


@blueprint.get("/links/<int:link_id>")
def link_detail(link_id: int) -> str:
    """One link: its URL and QR code, its settings, and its payments."""
    owner = current_owner()
    link = link_service.get_link(owner, link_id)
    found = payment_history.link_payments(
        owner, link, per_page=_config("PAGE_SIZE"), count=False, **_cursor()
    )
    return render_template(
        "paylinks/dashboard/link_detail.html",
        **_link_context(link),
        payments=found,
        totals=payment_history.state_totals(owner, link),
        tracking=sends_views.link_tracking(owner, link),
    )


def _link_context(link: PaymentLink) -> dict[str, Any]:
    """What the detail page shows of *link* besides its payments."""
    locale = _config("LOCALE")
    return {
        "link": link,
        "url": public_url(link),
        "price": presenters.price_summary(link, locale),
        "status": presenters.status_label(link),
        "source": presenters.source_label(link),
        "logo_src": logo_url(link),
        "contact_url": paylinks_state().contact_url,
        "action": ActionForm(),
        "interval_label": interval_label,
        "price_label": lambda product: catalog.price_label(product, locale),
    }


@blueprint.get("/links/<int:link_id>/payments.csv")
def link_payments_csv(link_id: int) -> Response:
    """Every payment of the link as a CSV file, streamed."""
    owner = current_owner()
    link = link_service.get_link(owner, link_id)
    response = Response(
        stream_with_context(payment_history.payments_csv(owner, link)),
        mimetype="text/csv",
    )
    disposition = f'attachment; filename="payments-{link.id}.csv"'
    response.headers["Content-Disposition"] = disposition
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
    link = link_service.get_link(current_owner(), link_id)
    url = public_url(link)
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


def _set_link_active(link_id: int, active: bool, message: str) -> Answer:
    owner = current_owner()
    link_service.get_link(owner, link_id)  # a missing link is a 404 before a 400
    require_action()
    try:
        link = link_service.set_link_active(owner, link_id, active)
    except link_service.NotLive as refused:
        return not_live(refused.problem)
    notice(message.format(name=link.name))
    return back(".index")


def not_live(problem: str) -> tuple[str, int]:
    """The page saying a link cannot go live, and why, with the way to fix it."""
    html = render_template(
        "paylinks/dashboard/refused.html",
        title="This link cannot take payments yet",
        message=problem,
        settings_url=url_for(".settings_payments"),
    )
    return html, 409


@blueprint.post("/links/<int:link_id>/deactivate")
def link_deactivate(link_id: int) -> Answer:
    """Stop the link taking payments; its checkout says it is no longer available."""
    return _set_link_active(
        link_id, False, "Deactivated “{name}”. Its URL no longer takes payments."
    )


@blueprint.post("/links/<int:link_id>/activate")
def link_activate(link_id: int) -> Answer:
    """Let the link take payments again, at the same URL."""
    return _set_link_active(
        link_id, True, "Activated “{name}”. Its URL takes payments again."
    )


@blueprint.route("/links/<int:link_id>/delete", methods=["GET", "POST"])
def link_delete(link_id: int) -> Answer:
    """Ask, then delete the link; its payments are kept."""
    owner = current_owner()
    link = link_service.get_link(owner, link_id)
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
