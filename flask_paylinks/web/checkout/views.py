"""Checkout pages: thin views over pricing, payments and rendering.

``GET /<slug>`` shows the page; ``POST /<slug>`` pays; ``POST /<slug>/quote``
reprices the order (the page script asks for JSON; without JavaScript the
"Apply" and "Update total" buttons get the whole page back);
``GET /<slug>/receipt/<token>`` is the receipt and the interim screen before a
redirect; ``GET /assets/<token>`` serves an uploaded logo.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

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
from werkzeug.exceptions import NotFound as HTTPNotFound
from werkzeug.wrappers import Response as BaseResponse

from flask_paylinks import payments, signals
from flask_paylinks.core.errors import NotFound
from flask_paylinks.core.pricing import (
    Choices,
    Offer,
    PricingError,
    Quote,
    RecurringCharge,
    choices_from_form,
    offer_from_link,
    terms_digest,
)
from flask_paylinks.db.models import PaymentLink, PaymentState
from flask_paylinks.db.session import reset_session
from flask_paylinks.links import service as link_service
from flask_paylinks.sends import tracking
from flask_paylinks.state import paylinks_state
from flask_paylinks.text_to_pay.service import closed_request
from flask_paylinks.web import db_outage
from flask_paylinks.web.checkout import blueprint
from flask_paylinks.web.checkout.assets import find_asset
from flask_paylinks.web.checkout.receipt_links import receipt_url_for, reference_of
from flask_paylinks.web.checkout.redirects import redirect_target
from flask_paylinks.web.checkout.rendering import (
    card_form_for,
    customer_page,
    new_checkout_form,
    personal_page,
    render_checkout_page,
    render_summary,
)
from flask_paylinks.web.ratelimit import mark_coupon_refused
from flask_paylinks.web.rendering.branding import branding
from flask_paylinks.web.rendering.labels import pay_label, then_text, total_text
from flask_paylinks.web.rendering.page_cache import cached_page

View = ResponseReturnValue
T = TypeVar("T")
#: The cookie that names this browser to personal URLs (a random value).
DEVICE_COOKIE = "paylinks_device"
CSRF_NOTICE = (
    "This page was open too long. Check your details and press Pay again; "
    "you have not been charged."
)


def _test_mode() -> bool:
    return bool(getattr(paylinks_state().gateway, "test_mode", False))


def _layout(link: PaymentLink) -> dict[str, Any]:
    return {"brand": branding(link), "test_mode": _test_mode(), "preview": False}


def _active_link(slug: str) -> PaymentLink:
    """The link *slug* names: 404 when unknown, 410 when it stopped taking payments."""
    link = link_service.find_by_slug(slug)
    if link is None:
        abort(404)
    if not link.is_active:
        html = render_template(
            "paylinks/checkout/unavailable.html",
            request_status=closed_request(link),  # a Text-to-Pay request says why
            **_layout(link),
        )
        abort(Response(html, status=410, mimetype="text/html"))
    return link


def receipt_url(link: PaymentLink, reference: str) -> str:
    """Where the customer sees the receipt of a payment on *link*."""
    return receipt_url_for(link.slug, reference)


@blueprint.get("/<slug>")
def show(slug: str) -> View:
    """The checkout page of one link: an anonymous visit, counted and nothing kept."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not signals.checkout_viewed.has_receivers_for(app):
        cached = cached_page(slug)
        if cached is not None:
            return _counted(cached.link_id, cached.fill(payments.new_attempt()))
    link = _active_link(slug)
    signals.send_guarded(signals.checkout_viewed, app, link=link, recipient=None)
    return _counted(link.id, customer_page(link, attempt=payments.new_attempt()))


def _checkout_path() -> str:
    return url_for("paylinks_checkout.show", slug="x").rsplit("/", 1)[0] + "/"


def _counted(link_id: int, page: str) -> BaseResponse:
    """*page*, counting the visit as an anonymous open once per browser and link."""
    response = current_app.make_response(page)
    seen = f"paylinks_seen_{link_id}"
    if seen not in request.cookies:
        tracking.count_anonymous_open(link_id)
        response.set_cookie(
            seen,
            "1",
            max_age=30 * 24 * 3600,
            path=_checkout_path(),
            secure=request.is_secure,
            httponly=True,
            samesite="Lax",
        )
    return response


@blueprint.get("/p/<token>")
def personal(token: str) -> View:
    """A recipient's own URL: their details filled in, their visit recorded.

    A first visit without the device cookie gets it and comes straight back
    (``?c=1``): a browser keeps it, a link scanner does not, so only the
    recipient's own browser can claim the URL.
    """
    cookie = request.cookies.get(DEVICE_COOKIE)
    try:
        if cookie is None and "c" not in request.args:
            tracking.check_personal(token)
            response = redirect(
                url_for("paylinks_checkout.personal", token=token, c="1"), 302
            )
            _set_device_cookie(response, tracking.new_device_cookie())
            response.headers["Cache-Control"] = "private, no-store"
            return response
        visit = tracking.open_personal(token, cookie)
    except NotFound:
        abort(404)
    link = _active_link(visit.link.slug)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    signals.send_guarded(
        signals.checkout_viewed, app, link=link, recipient=visit.recipient
    )
    page = personal_page(
        link,
        attempt=payments.new_attempt(),
        token=token if visit.recipient is not None else "",
        contact=visit.contact,
    )
    response = current_app.make_response(page)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _set_device_cookie(response: BaseResponse, value: str) -> None:
    response.set_cookie(
        DEVICE_COOKIE,
        value,
        max_age=400 * 24 * 3600,
        path=_checkout_path(),
        secure=request.is_secure,
        httponly=True,
        samesite="Lax",
    )


@dataclass
class _Posted:
    """The pay form as posted: the customer's details, payment fields and choices."""

    link: PaymentLink
    offer: Offer
    form: Any
    card_form: Any
    choices: Choices
    choice_errors: list[PricingError]

    @classmethod
    def read(cls, link: PaymentLink, formdata: Any) -> _Posted:
        """Read (without checking) what was posted to pay on *link*."""
        offer = offer_from_link(link)
        form = new_checkout_form(link, formdata=formdata)
        card_form = card_form_for(formdata)
        choices, choice_errors = choices_from_form(offer, formdata)
        return cls(link, offer, form, card_form, choices, choice_errors)

    def validate(self) -> bool:
        """Check the details and the payment fields; each keeps its own errors."""
        details_ok = self.form.validate()
        card_ok = self.card_form.validate() if self.card_form is not None else True
        return bool(details_ok and card_ok)

    def command(self, *, form_valid: bool) -> payments.PayCommand:
        """What the customer asks :func:`~flask_paylinks.payments.pay` to do."""
        form = self.form
        return payments.PayCommand(
            choices=self.choices,
            customer=payments.Customer(
                name=form.name.data or "",
                email=form.email.data or "",
                phone=form.phone_e164,
                address=form.address(),
            ),
            attempt=form.attempt.data or "",
            agreed_terms=form.terms.data or "",
            recipient_token=self.recipient_token(),
            payment_fields=self.card_form.data if self.card_form else {},
            choice_errors=tuple(self.choice_errors),
            form_valid=form_valid,
        )

    def recipient_token(self) -> str | None:
        """The personal URL's token, when this browser is the one it was opened on."""
        token = self.form.recipient.data or None
        recipient = tracking.verified_recipient(
            self.link, token, request.cookies.get(DEVICE_COOKIE)
        )
        return token if recipient is not None else None

    def render(
        self,
        *,
        quote: Quote | None,
        errors: Mapping[str, str] | None = None,
        notice: str | None = None,
    ) -> str:
        """The checkout page again, with what was typed, *errors* and *notice*."""
        if errors and "coupon" in errors and self.choices.coupon_code:
            mark_coupon_refused()
        return render_checkout_page(
            self.link,
            offer=self.offer,
            form=self.form,
            card_form=self.card_form,
            choices=self.choices,
            quote=quote,
            errors=errors or {},
            notice=notice,
        )

    def expired(self) -> tuple[str, int]:
        """The page again after a refused CSRF token: nothing was charged."""
        shown = payments.fallback_quote(self.link, self.choices)
        return self.render(quote=shown, notice=CSRF_NOTICE), 400


@blueprint.post("/<slug>")
def pay(slug: str) -> View:
    """Pay on the link: build the command, call payments, answer by the result.

    The receipt URL of a success is built from values read before the charge
    was committed (see :mod:`flask_paylinks.web.db_outage`).
    """
    posted = _Posted.read(_active_link(slug), request.form)
    valid = posted.validate()
    if "csrf_token" in posted.form.errors:
        return posted.expired()
    result = payments.pay(posted.link, posted.command(form_valid=valid))
    status, answer = ANSWERS[type(result)]
    return answer(posted, result), status


def _paid(posted: _Posted, result: payments.Paid) -> BaseResponse:
    return redirect(receipt_url_for(result.slug, result.reference), code=303)


def _confirm_in_browser(
    posted: _Posted, result: payments.ConfirmInBrowser
) -> BaseResponse:
    """The gateway's own payment step, on its own page (safe to reload)."""
    from flask_paylinks.web.checkout.payment_step import step_url_for

    return redirect(step_url_for(result.slug, result.reference, result.attempt), 303)


def _declined(posted: _Posted, result: payments.Declined) -> str:
    posted.form.attempt.data = result.new_attempt  # paying again is a new attempt
    if posted.card_form is not None:
        posted.card_form.declined(result.message)
    notice = f"{result.message} You have not been charged. Try another card."
    return posted.render(quote=result.quote, notice=notice)


def _terms_changed(posted: _Posted, result: payments.TermsChanged) -> str:
    priced = result.quote
    posted.form.terms.data = terms_digest(priced)
    then = (
        f" today, then {then_text(priced.recurring, priced.currency)}"
        if priced.recurring is not None
        else ""
    )
    notice = (
        f"This order changed since you opened the page. It now costs "
        f"{total_text(priced)}{then}. Check it below and press Pay again; you "
        "have not been charged."
    )
    return posted.render(quote=priced, notice=notice)


def _refused(posted: _Posted, result: payments.Refused) -> str:
    return posted.render(quote=result.quote_for_display, errors=result.errors)


def _taken(posted: _Posted, result: payments.Taken) -> str:
    """A single-use link someone else paid, or is paying right now."""
    return render_template(
        "paylinks/checkout/already_paid.html",
        in_progress=result.in_progress,
        **_layout(posted.link),
    )


def _unavailable(posted: _Posted, result: payments.Unavailable) -> str:
    posted.form.attempt.data = result.new_attempt
    return posted.render(quote=result.quote, notice=result.message)


#: Each result of paying: its HTTP status and how it is shown.
ANSWERS: dict[type, tuple[int, Callable[[_Posted, Any], str | BaseResponse]]] = {
    payments.Paid: (303, _paid),
    payments.Declined: (402, _declined),
    payments.TermsChanged: (409, _terms_changed),
    payments.Refused: (422, _refused),
    payments.Taken: (409, _taken),
    payments.Unavailable: (503, _unavailable),
    payments.ConfirmInBrowser: (303, _confirm_in_browser),
}


@blueprint.app_template_filter("paylinks_terms")
def terms_filter(priced: Quote) -> str:
    """``{{ quote|paylinks_terms }}``: the digest the pay form carries."""
    return terms_digest(priced)


@blueprint.post("/<slug>/quote", endpoint="quote")
def quote_view(slug: str) -> View:
    """Reprice the order: JSON for the page script, the whole page without it."""
    posted = _Posted.read(_active_link(slug), request.form)
    form = posted.form
    if form.meta.csrf and not form.csrf_token.validate(form):
        abort(400, "This page was open too long; reload it.")
    priced = payments.reprice(posted.link, posted.choices, posted.choice_errors)
    status = 422 if priced.errors else 200
    if request.accept_mimetypes.best == "application/json":
        if "coupon" in priced.errors and posted.choices.coupon_code:
            mark_coupon_refused()
        return jsonify(_quote_body(priced)), status
    if priced.quote is not None:
        form.terms.data = terms_digest(priced.quote)
    return posted.render(quote=priced.quote, errors=priced.errors), status


def _quote_body(priced: payments.Priced) -> dict[str, Any]:
    shown = priced.quote
    return {
        "summary": render_summary(shown),
        "pay_label": pay_label(shown),
        "terms": "" if shown is None else terms_digest(shown),
        "then_text": then_text(shown.recurring, shown.currency) if shown else "",
        "errors": dict(priced.errors),
    }


def _found(value: T | None) -> T:
    """*value*, or a 404 when there is none."""
    if value is None:
        abort(404)
    return value


@blueprint.get("/<slug>/receipt/<token>")
def receipt(slug: str, token: str) -> View:
    """The receipt; before a redirect, the brief "taking you on" screen.

    The query string a gateway's return adds (``redirect_status``…) is never
    read: a payment still pending is looked up at the gateway first
    (rate-limited), and the page shows what is true.
    """
    link = _found(link_service.find_by_slug(slug))
    payment = payments.get_by_reference(link, _found(reference_of(token)))
    payments.check_pending(payment)
    settled = payment.state in (PaymentState.SUCCEEDED, PaymentState.REFUNDED)
    recurring = (payment.snapshot or {}).get("recurring")
    return render_template(
        "paylinks/checkout/receipt.html",
        payment=payment,
        redirect=redirect_target(link) if settled else None,
        retry_url=url_for("paylinks_checkout.show", slug=link.slug)
        if link.is_active
        else None,
        then_text=then_text(RecurringCharge(**recurring), payment.currency)
        if recurring
        else "",
        **_layout(link),
    )


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
        return _Posted.read(_active_link(slug), request.form).expired()
    except HTTPException as gone:
        # An error handler that raises answers 500: hand the 404/410 back
        # through the app's own handlers instead.
        return current_app.handle_http_exception(gone)
    except db_outage.HANDLED as error:
        if not db_outage.is_outage(error):
            raise
        return db_outage.respond(error, db_outage.render_checkout)


@blueprint.errorhandler(NotFound)
def not_found(error: NotFound) -> ResponseReturnValue:
    """A record a service did not find: the app's own 404."""
    return current_app.handle_http_exception(HTTPNotFound())


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
    back = url_for("paylinks_checkout.show", slug=slug) if link is not None else None
    return render_template(
        "paylinks/checkout/rate_limited.html",
        back_url=back,
        **_layout(link if link is not None else PaymentLink()),
    ), 429


db_outage.register(blueprint, db_outage.render_checkout)
