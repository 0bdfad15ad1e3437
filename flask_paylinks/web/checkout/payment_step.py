"""The browser's payment step: the gateway's own widget confirms the payment.

After Pay, a gateway that confirms in the browser (Stripe's Payment Element)
gets ``GET /<slug>/confirm/<token>``: the token is signed and names the
payment's reference and its checkout attempt. The page is safe to reload:
the gateway is asked again with the payment's idempotency key and answers
with the same PaymentIntent. Once confirmed, the gateway sends the customer
to the receipt, which says "confirming" until the webhook settles it.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from itsdangerous import BadSignature, URLSafeSerializer

from flask_paylinks import payments
from flask_paylinks.core.errors import NotFound
from flask_paylinks.db.models import PaymentLink
from flask_paylinks.links import service as link_service
from flask_paylinks.state import paylinks_state
from flask_paylinks.web.checkout import blueprint
from flask_paylinks.web.checkout.receipt_links import receipt_token
from flask_paylinks.web.rendering.branding import branding

STEP_SALT = "paylinks.payment-step"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key or "", salt=STEP_SALT)


def step_url_for(slug: str, reference: str, attempt: str) -> str:
    """Where the customer confirms the payment *reference* of *attempt*."""
    token = _serializer().dumps({"r": reference, "a": attempt})
    return url_for("paylinks_checkout.payment_step", slug=slug, token=token)


def _step_of(token: str) -> tuple[str, str] | None:
    """The reference and attempt *token* was signed for, or ``None``."""
    try:
        named = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(named, dict):
        return None
    reference, attempt = named.get("r"), named.get("a")
    if not isinstance(reference, str) or not isinstance(attempt, str):
        return None
    return reference, attempt


def _layout(link: PaymentLink) -> dict[str, Any]:
    gateway = paylinks_state().gateway
    return {"brand": branding(link), "test_mode": gateway.test_mode, "preview": False}


@blueprint.get("/<slug>/confirm/<token>", endpoint="payment_step")
def payment_step(slug: str, token: str) -> ResponseReturnValue:
    """The gateway's payment widget and a Pay button; the receipt once settled."""
    link = link_service.find_by_slug(slug)
    named = _step_of(token)
    if link is None or named is None:
        abort(404)
    reference, attempt = named
    receipt = url_for(
        "paylinks_checkout.receipt",
        slug=link.slug,
        token=receipt_token(reference),
        _external=True,
    )
    brand = branding(link)
    try:
        shown = payments.payment_step(
            link, reference, attempt, brand_color=brand.ink, return_url=receipt
        )
    except NotFound:
        abort(404)
    except payments.PaymentNotStarted as error:
        html = render_template(
            "paylinks/checkout/payment_step.html",
            payment=None,
            step=None,
            problem=str(error),
            retry_url=url_for("paylinks_checkout.show", slug=link.slug),
            **_layout(link),
        )
        # Unanswered is a 503 (try again); an expired page is gone; refused
        # is the provider's no.
        return html, 503 if error.retryable else 410 if error.expired else 402
    if shown.step is None:
        return redirect(receipt, code=303)
    return render_template(
        "paylinks/checkout/payment_step.html",
        payment=shown.payment,
        step=shown.step,
        problem=None,
        retry_url=url_for("paylinks_checkout.show", slug=link.slug),
        **_layout(link),
    )
