"""Checkout pages: thin views over pricing, payments and rendering.

``GET /<slug>`` shows the page; ``POST /<slug>`` pays; ``POST /<slug>/quote``
reprices the order (the page script asks for JSON; without JavaScript the
"Apply" and "Update total" buttons get the whole page back);
``GET /<slug>/receipt/<token>`` is the receipt and the interim screen before a
redirect; ``GET /assets/<token>`` serves an uploaded logo.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from flask_paylinks import signals
from flask_paylinks.core.pricing import (
    Choices,
    Offer,
    Quote,
    choices_from_form,
    default_choices,
    offer_from_link,
    quote,
    terms_digest,
)
from flask_paylinks.db.models import PaymentLink, PaymentState
from flask_paylinks.db.session import reset_session
from flask_paylinks.links import service as link_service
from flask_paylinks.payments import service as payments
from flask_paylinks.web import db_outage
from flask_paylinks.web.checkout import blueprint
from flask_paylinks.web.checkout.assets import find_asset
from flask_paylinks.web.checkout.receipt_links import receipt_url_for, reference_of
from flask_paylinks.web.checkout.redirects import redirect_target
from flask_paylinks.web.checkout.rendering import (
    card_form_for,
    customer_page,
    error_map,
    new_checkout_form,
    render_checkout_page,
    render_summary,
)
from flask_paylinks.web.ratelimit import mark_coupon_refused
from flask_paylinks.web.rendering.branding import branding
from flask_paylinks.web.rendering.labels import pay_label, then_text, total_text
from flask_paylinks.web.rendering.page_cache import cached_page

View = ResponseReturnValue
CSRF_NOTICE = (
    "This page was open too long. Check your details and press Pay again; "
    "you have not been charged."
)


def _test_mode() -> bool:
    return bool(getattr(current_app.extensions["paylinks"].gateway, "test_mode", False))


def _layout(link: PaymentLink) -> dict[str, Any]:
    return {"brand": branding(link), "test_mode": _test_mode(), "preview": False}


def _active_link(slug: str) -> PaymentLink:
    """The link *slug* names: 404 when unknown, 410 when it stopped taking payments."""
    link = link_service.find_by_slug(slug)
    if link is None:
        abort(404)
    if not link.is_active:
        html = render_template("paylinks/checkout/unavailable.html", **_layout(link))
        abort(Response(html, status=410, mimetype="text/html"))
    return link


def receipt_url(link: PaymentLink, reference: str) -> str:
    """Where the customer sees the receipt of a payment on *link*."""
    return receipt_url_for(link.slug, reference)


def _display_quote(
    link: PaymentLink, offer: Offer, choices: Choices, priced: Quote | list[Any]
) -> Quote | None:
    """The summary to show beside errors: the valid part of the customer's choices."""
    if isinstance(priced, Quote):
        return priced
    without_code = payments.price(link, replace(choices, coupon_code=""))
    if isinstance(without_code, Quote):
        return without_code
    fallback = quote(offer, default_choices(offer))
    return fallback if isinstance(fallback, Quote) else None


@blueprint.get("/<slug>")
def show(slug: str) -> View:
    """The checkout page of one link."""
    token = request.args.get("r", "")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not token and not signals.checkout_viewed.has_receivers_for(app):
        cached = cached_page(slug)
        if cached is not None:
            return cached.fill(payments.new_attempt())
    link = _active_link(slug)
    recipient = payments.recipient_opened(link, token)
    signals.send_guarded(signals.checkout_viewed, app, link=link, recipient=recipient)
    return customer_page(
        link,
        attempt=payments.new_attempt(),
        recipient=token if recipient is not None else "",
    )


def _reshow(
    link: PaymentLink,
    *,
    offer: Offer,
    form: Any,
    card_form: Any,
    choices: Choices,
    priced: Quote | list[Any],
    status: int,
    notice: str | None = None,
) -> tuple[str, int]:
    errors = error_map(priced) if isinstance(priced, list) else {}
    if "coupon" in errors and choices.coupon_code:
        mark_coupon_refused()
    html = render_checkout_page(
        link,
        offer=offer,
        form=form,
        card_form=card_form,
        choices=choices,
        quote=_display_quote(link, offer, choices, priced),
        errors=errors,
        notice=notice,
    )
    return html, status


@blueprint.post("/<slug>")
def pay(slug: str) -> View:
    """Price the order, start the payment once, and pay it (sandbox: the card).

    Once the charge is committed nothing more is read from the database to
    answer: the receipt URL is built from the slug and reference read
    before, so a database that drops right after the charge cannot turn the
    customer's answer into an error (see :mod:`flask_paylinks.web.db_outage`).
    """
    link = _active_link(slug)
    slug = link.slug
    offer = offer_from_link(link)
    form = new_checkout_form(link, formdata=request.form)
    card_form = card_form_for(request.form)
    choices, choice_errors = choices_from_form(offer, request.form)
    details_ok = form.validate()
    card_ok = card_form.validate() if card_form is not None else True
    args: dict[str, Any] = {
        "offer": offer,
        "form": form,
        "card_form": card_form,
        "choices": choices,
    }
    if "csrf_token" in form.errors:
        return _reshow(
            link,
            **args,
            priced=[],
            status=400,
            notice=CSRF_NOTICE,
        )
    priced: Quote | list[Any] = choice_errors or payments.price(link, choices)
    if isinstance(priced, list) or not details_ok or not card_ok:
        return _reshow(link, **args, priced=priced, status=422)
    if form.terms.data != terms_digest(priced):
        return _terms_changed(link, args, priced)
    customer = payments.Customer(
        name=form.name.data,
        email=form.email.data,
        phone=form.phone_e164,
        address=form.address(),
    )
    try:
        checkout = payments.start_checkout(
            link,
            choices=choices,
            customer=customer,
            attempt=form.attempt.data or "",
            agreed_terms=form.terms.data or "",
            recipient_token=form.recipient.data or None,
        )
    except payments.CheckoutRefused as refused:
        return _reshow(link, **args, priced=refused.errors, status=422)
    except payments.TermsChanged as changed:
        return _terms_changed(link, args, changed.quote)
    except payments.LinkTaken as taken:
        return _link_taken(link, in_progress=taken.in_progress)
    except payments.PaymentNotStarted:
        form.attempt.data = payments.new_attempt()
        return _reshow(
            link,
            **args,
            priced=priced,
            status=503,
            notice="We could not reach the payment provider. You have not been "
            "charged; please try again.",
        )
    payment = checkout.payment
    reference = payment.reference
    if payment.state == PaymentState.PENDING and card_form is not None:
        payment = payments.confirm_test_card(payment, card_form.number.data or "")
        if db_outage.charged_reference() == reference:
            # Committed as succeeded: answer from what was read before.
            return redirect(receipt_url_for(slug, reference), code=303)
    if payment.state == PaymentState.FAILED:
        # This attempt is over; paying again is a new attempt.
        form.attempt.data = payments.new_attempt()
        message = payment.failure_message or "Your payment did not go through."
        if card_form is not None:
            card_form.number.data = ""
            card_form.cvc.data = ""
            card_form.number.errors = [message]
        return _reshow(
            link,
            **args,
            priced=priced,
            status=402,
            notice=f"{message} You have not been charged. Try another card.",
        )
    return redirect(receipt_url_for(slug, reference), code=303)


def _terms_changed(link: PaymentLink, args: dict[str, Any], priced: Quote) -> View:
    """Re-show the page on the new terms; nothing was charged."""
    args["form"].terms.data = terms_digest(priced)
    return _reshow(
        link,
        **args,
        priced=priced,
        status=409,
        notice="This order changed since you opened the page. It now costs "
        f"{total_text(priced)}{_then_suffix(priced)}. Check it below and press "
        "Pay again; you have not been charged.",
    )


def _then_suffix(priced: Quote) -> str:
    if priced.recurring is None:
        return ""
    return f" today, then {then_text(priced.recurring, priced.currency)}"


def _link_taken(link: PaymentLink, *, in_progress: bool) -> View:
    """A single-use link someone else paid, or is paying right now."""
    html = render_template(
        "paylinks/checkout/already_paid.html", in_progress=in_progress, **_layout(link)
    )
    return html, 409


@blueprint.app_template_filter("paylinks_terms")
def terms_filter(priced: Quote) -> str:
    """``{{ quote|paylinks_terms }}``: the digest the pay form carries."""
    return terms_digest(priced)


@blueprint.post("/<slug>/quote", endpoint="quote")
def quote_view(slug: str) -> View:
    """Reprice the order: JSON for the page script, the whole page without it."""
    link = _active_link(slug)
    offer = offer_from_link(link)
    form = new_checkout_form(link, formdata=request.form)
    if form.meta.csrf and not form.csrf_token.validate(form):
        abort(400, "This page was open too long; reload it.")
    choices, choice_errors = choices_from_form(offer, request.form)
    priced: Quote | list[Any] = choice_errors or payments.price(link, choices)
    errors = error_map(priced) if isinstance(priced, list) else {}
    if "coupon" in errors and choices.coupon_code:
        mark_coupon_refused()
    shown = _display_quote(link, offer, choices, priced)
    status = 422 if errors else 200
    if request.accept_mimetypes.best == "application/json":
        body = {
            "summary": render_summary(shown),
            "pay_label": pay_label(shown),
            "terms": "" if shown is None else terms_digest(shown),
            "then_text": then_text(shown.recurring, shown.currency) if shown else "",
            "errors": errors,
        }
        return jsonify(body), status
    if shown is not None:
        form.terms.data = terms_digest(shown)
    card_form = card_form_for(request.form)
    html = render_checkout_page(
        link,
        offer=offer,
        form=form,
        card_form=card_form,
        choices=choices,
        quote=shown,
        errors=errors,
    )
    return html, status


@blueprint.get("/<slug>/receipt/<token>")
def receipt(slug: str, token: str) -> View:
    """The receipt; before a redirect, the brief "taking you on" screen."""
    link = link_service.find_by_slug(slug)
    if link is None:
        abort(404)
    reference = reference_of(token)
    if reference is None:
        abort(404)
    payment = payments.get_by_reference(link, reference)
    if payment is None:
        abort(404)
    settled = payment.state in (PaymentState.SUCCEEDED, PaymentState.REFUNDED)
    target = redirect_target(link) if settled else None
    snapshot = payment.snapshot or {}
    recurring = snapshot.get("recurring")
    return render_template(
        "paylinks/checkout/receipt.html",
        payment=payment,
        redirect=target,
        retry_url=url_for("paylinks_checkout.show", slug=link.slug)
        if link.is_active
        else None,
        then_text=_receipt_then_text(recurring, payment.currency),
        **_layout(link),
    )


def _receipt_then_text(recurring: dict[str, Any] | None, currency: str) -> str:
    from flask_paylinks.core.pricing import RecurringCharge

    if not recurring:
        return ""
    return then_text(RecurringCharge(**recurring), currency)


@blueprint.get("/assets/<token>")
def asset(token: str) -> Response:
    """An uploaded logo, by its unguessable token, cached for a year."""
    found = find_asset(token)
    if found is None:
        abort(404)
    response = Response(found.data, mimetype=found.content_type)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    )
    return response


@blueprint.errorhandler(CSRFError)
def csrf_refused(error: CSRFError) -> ResponseReturnValue:
    """A host-wide ``CSRFProtect`` refused the token before our view ran.

    The pay form comes back with what was typed and a fresh token, as our
    own form check does; other checkout posts get a plain 400.
    """
    slug = request.view_args.get("slug") if request.view_args else None
    if request.endpoint != "paylinks_checkout.pay" or not slug:
        return "This page was open too long; reload it.", 400
    try:
        link = _active_link(slug)
    except HTTPException as gone:
        # An error handler that raises answers 500: hand the 404/410 back
        # through the app's own handlers instead.
        return current_app.handle_http_exception(gone)
    except db_outage.HANDLED as error:
        if not db_outage.is_outage(error):
            raise
        return db_outage.respond(error, db_outage.render_checkout)
    offer = offer_from_link(link)
    choices, _ = choices_from_form(offer, request.form)
    return _reshow(
        link,
        offer=offer,
        form=new_checkout_form(link, formdata=request.form),
        card_form=card_form_for(request.form),
        choices=choices,
        priced=[],
        status=400,
        notice=CSRF_NOTICE,
    )


@blueprint.errorhandler(429)
def rate_limited(error: Exception) -> tuple[str, int]:
    """A readable page when a customer tried too often."""
    slug = request.view_args.get("slug") if request.view_args else None
    try:
        link = link_service.find_by_slug(slug) if slug else None
    except db_outage.HANDLED as failure:
        if not db_outage.is_outage(failure):
            raise
        reset_session()
        link = None  # the page needs no link: the default branding will do
    layout = (
        _layout(link)
        if link is not None
        else {
            "brand": branding(PaymentLink()),
            "test_mode": _test_mode(),
            "preview": False,
        }
    )
    back = url_for("paylinks_checkout.show", slug=slug) if link is not None else None
    return render_template(
        "paylinks/checkout/rate_limited.html", back_url=back, **layout
    ), 429


db_outage.register(blueprint, db_outage.render_checkout)
