"""Rendering the checkout page, for customers and as the dashboard's preview.

:func:`render_checkout_page` is the one way the page is drawn: the public
``GET /pay/<slug>`` view uses it (through :func:`customer_page`, which keeps
it in the page cache), and so does the dashboard's live preview, which
passes a transient (unsaved) link and ``preview=True``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import current_app, render_template, request, url_for

from flask_paylinks.catalog.presenters import recurrence_label
from flask_paylinks.contacts import Contact
from flask_paylinks.core.pricing import (
    Choices,
    Offer,
    PricingError,
    PricingRefused,
    Quote,
    default_choices,
    offer_from_link,
    quote,
)
from flask_paylinks.db.models import PaymentLink
from flask_paylinks.localtime import today
from flask_paylinks.merchants import merchant_profile
from flask_paylinks.state import paylinks_state
from flask_paylinks.web.checkout.forms import CheckoutForm, country_options
from flask_paylinks.web.rendering.branding import branding
from flask_paylinks.web.rendering.labels import consent_text, pay_label, then_text
from flask_paylinks.web.rendering.page_cache import (
    ATTEMPT_MARK,
    CSRF_MARK,
    NONCE_MARK,
    keep_page,
    page_cache,
)

PAGE_TEMPLATE = "paylinks/checkout/page.html"


def problems(
    form: Any, card_form: Any, errors: Mapping[str, str], offer: Offer
) -> list[tuple[str | None, str]]:
    """Every error on the page, in page order, with the id of its field."""
    found: list[tuple[str | None, str]] = []
    for key, message in errors.items():
        if key == "items":
            found.append((None, message))
        elif key == "plan":
            first = offer.plans[0].key if offer.plans else None
            found.append((f"plan-{first}" if first else None, message))
        elif key != "coupon":
            found.append((key, message))
    if "coupon" in errors:
        found.append(("coupon", errors["coupon"]))
    for source in (form, card_form):
        if source is None:
            continue
        for item in source:
            if item.errors and item.type not in ("CSRFTokenField", "HiddenField"):
                found.append((item.id, item.errors[0]))
    return found


def error_map(errors: Iterable[PricingError]) -> dict[str, str]:
    """Pricing errors by form field (the first one of each field)."""
    found: dict[str, str] = {}
    for error in errors:
        found.setdefault(error.field, error.message)
    return found


def new_checkout_form(
    link: PaymentLink, *, formdata: Any = None, preview: bool = False, **data: Any
) -> CheckoutForm:
    """The host's checkout form (or ours), configured for *link*'s options."""
    state = paylinks_state()
    form_class = state.form_class("checkout", CheckoutForm)
    kwargs: dict[str, Any] = {"formdata": formdata, **data}
    if preview:
        kwargs["meta"] = {**kwargs.get("meta", {}), "csrf": False}
    form: CheckoutForm = form_class(**kwargs)
    form.configure(
        require_phone=bool(link.require_phone),
        collect_address=bool(link.collect_address),
        locale=current_app.config["PAYLINKS_LOCALE"],
        region=current_app.config["PAYLINKS_PHONE_REGION"],
    )
    return form


def card_form_for(formdata: Any = None) -> Any:
    """The gateway's payment fields, or ``None`` when it takes cards itself."""
    return paylinks_state().gateway.payment_fields(formdata)


def quantity_options(low: int, high: int) -> list[int] | None:
    """The choices of a quantity ``<select>``, or ``None`` for a number input."""
    return list(range(low, high + 1)) if high - low < 30 else None


def render_checkout_page(
    link: PaymentLink, *, preview: bool = False, **context: Any
) -> str:
    """The checkout page of *link* as HTML, exactly as the customer sees it.

    *link* may be transient (built in memory, never saved): its ``items``
    hold :class:`~flask_paylinks.db.models.LinkItem` rows with ``.product`` set.
    With *preview* the page is inert: no working submit, no CSRF token, no
    gateway or database call, and a "Preview" marker.

    *context* may hold ``form``, ``card_form``, ``choices``, ``quote``,
    ``errors`` (pricing errors by field), ``notice`` (a message above the
    form) and ``recipient``; anything else is passed to the template.
    """
    offer: Offer = context.pop("offer", None) or offer_from_link(link)
    choices: Choices = context.pop("choices", None) or default_choices(offer)
    shown = context.pop("quote", None)
    if shown is None:
        try:
            shown = quote(offer, choices)
        except PricingRefused:
            shown = None
    form = context.pop("form", None) or new_checkout_form(link, preview=preview)
    card_form = context.pop("card_form", None)
    if card_form is None:
        card_form = card_form_for()
    errors: Mapping[str, str] = context.pop("errors", None) or {}
    gateway = paylinks_state().gateway
    context.setdefault("problems", problems(form, card_form, errors, offer))
    context.setdefault("notice", None)
    has_slug = bool(link.slug)
    locale = current_app.config["PAYLINKS_LOCALE"]
    brand = branding(link)
    return render_template(
        PAGE_TEMPLATE,
        link=link,
        offer=offer,
        choices=choices,
        quote=shown,
        form=form,
        card_form=card_form,
        errors=errors,
        brand=brand,
        merchant=brand.merchant,
        consent=consent_text(shown, today(brand.merchant.zone)),
        preview=preview,
        test_mode=bool(getattr(gateway, "test_mode", False)),
        gateway_name=getattr(gateway, "name", ""),
        pay_url=url_for("paylinks_checkout.pay", slug=link.slug)
        if has_slug and not preview
        else None,
        quote_url=url_for("paylinks_checkout.quote", slug=link.slug)
        if has_slug and not preview
        else None,
        quantity_options=quantity_options,
        recurrence_label=recurrence_label,
        country_options=lambda selected: country_options(locale, selected),
        pay_label=pay_label(shown),
        then_text=then_text(shown.recurring, shown.currency) if shown else "",
        **context,
    )


def render_summary(shown: Quote | None, link: PaymentLink | None = None) -> str:
    """The order summary alone, for the page script to swap in.

    It carries the payment terms too (in an inert ``<template>``), which the
    script moves beside the Pay button. Without *link*, the link is the one
    the request's ``slug`` names.
    """
    if link is None:
        from flask_paylinks.links.service import find_by_slug

        slug = (request.view_args or {}).get("slug")
        link = find_by_slug(slug) if slug else None
    merchant = merchant_profile(link.owner_id if link is not None else None)
    return render_template(
        "paylinks/checkout/_summary.html",
        quote=shown,
        then_text=then_text(shown.recurring, shown.currency) if shown else "",
        merchant=merchant,
        consent=consent_text(shown, today(merchant.zone)),
        with_terms=True,
    )


def personal_page(
    link: PaymentLink, *, attempt: str, token: str, contact: Contact | None
) -> str:
    """The page of a personal URL: never cached, the contact's details filled in."""
    form = new_checkout_form(link)
    form.attempt.data = attempt
    form.recipient.data = token
    if contact is not None:
        form.name.data = contact.name or None
        form.email.data = contact.email or None
        form.phone.data = contact.phone or None
    return render_checkout_page(link, form=form)


def customer_page(link: PaymentLink, *, attempt: str) -> str:
    """The page ``GET /pay/<slug>`` answers, rendered and (when on) cached."""
    if page_cache() is None:
        form = new_checkout_form(link)
        form.attempt.data = attempt
        return render_checkout_page(link, form=form)
    # Read before anything else of the page: what is drawn is never older.
    revision = link.revision
    form = new_checkout_form(link, meta={"csrf": False})
    # Whether the host's form wants CSRF (config, or its own Meta): a fresh
    # Meta of its class, without the override above.
    csrf = bool(type(form.meta)().csrf)
    form.attempt.data = ATTEMPT_MARK
    html = render_checkout_page(
        link,
        form=form,
        page_nonce=NONCE_MARK,
        csrf_marker=CSRF_MARK if csrf else None,
    )
    page = keep_page(
        link.slug,
        html,
        link_id=link.id,
        revision=revision,
        merchant=merchant_profile(link.owner_id),
    )
    return page.fill(attempt)
