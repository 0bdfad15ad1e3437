"""Rendering the checkout page, for customers and as the dashboard's preview.

:func:`render_checkout_page` is the one way the page is drawn: the public
``GET /pay/<slug>`` view uses it, and so does the dashboard's live preview,
which passes a transient (unsaved) link and ``preview=True``.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from babel.dates import format_date
from flask import Flask, current_app, render_template, request, url_for

from flask_paylinks import signals
from flask_paylinks.config import BUTTON_STYLES
from flask_paylinks.core.pricing import (
    Choices,
    Offer,
    PricingError,
    PricingRefused,
    Quote,
    Recurrence,
    RecurringCharge,
    default_choices,
    offer_from_link,
    quote,
)
from flask_paylinks.db.models import Payment, PaymentLink, utcnow
from flask_paylinks.localtime import add_interval, local_day, today
from flask_paylinks.merchants import MerchantProfile, merchant_profile, zone_named
from flask_paylinks.web.checkout.forms import CheckoutForm, country_options
from flask_paylinks.web.checkout.security import csp_nonce
from flask_paylinks.web.templating import format_money

PAGE_TEMPLATE = "paylinks/checkout/page.html"
_HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")
WHITE = "#FFFFFF"
DARK = "#111827"


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def luminance(color: str) -> float:
    """Relative luminance of ``#RRGGBB`` (WCAG 2)."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    """The WCAG contrast ratio of two colours, 1 to 21."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _darken(color: str, factor: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return "#{:02X}{:02X}{:02X}".format(*(int(c * factor) for c in (r, g, b)))


@dataclass(frozen=True, slots=True)
class Branding:
    """How one link looks: its colour, the text on it, its buttons and logo."""

    color: str
    #: Text on a :attr:`color` background: white or near-black, whichever reads.
    on_color: str
    #: :attr:`color`, darkened until it reads as text on white (4.5:1).
    ink: str
    button_style: str
    logo_url: str | None
    #: Who is being paid: the name, support contacts and timezone of the owner.
    merchant: MerchantProfile


@lru_cache(maxsize=512)
def palette(color: str) -> tuple[str, str, str]:
    """``(color, on_color, ink)`` for a brand colour, each readable where used."""
    color = color.upper()
    on_color = WHITE if contrast(color, WHITE) >= contrast(color, DARK) else DARK
    ink = color
    factor = 1.0
    while contrast(ink, WHITE) < 4.5 and factor > 0:
        factor -= 0.05
        ink = _darken(color, factor)
    return color, on_color, ink


def logo_url(link: PaymentLink) -> str | None:
    """The link's uploaded logo, else its logo URL, else the configured default."""
    asset = link.logo_asset
    if asset is not None and asset.token:
        return url_for("paylinks_checkout.asset", token=asset.token)
    default: str | None = current_app.config.get("PAYLINKS_LOGO_URL")
    return link.logo_url or default


def branding(link: PaymentLink) -> Branding:
    """The link's branding, falling back to the configured defaults."""
    config = current_app.config
    color = (
        link.brand_color if link.brand_color and _HEX.match(link.brand_color) else None
    )
    style = link.button_style if link.button_style in BUTTON_STYLES else None
    brand, on_color, ink = palette(color or config["PAYLINKS_BRAND_COLOR"])
    return Branding(
        color=brand,
        on_color=on_color,
        ink=ink,
        button_style=style or config["PAYLINKS_BUTTON_STYLE"],
        logo_url=logo_url(link),
        merchant=merchant_profile(link.owner_id),
    )


_SINGULAR = {"day": "day", "week": "week", "month": "month", "year": "year"}


def interval_label(interval: str, count: int = 1) -> str:
    """``/ month`` for one month, ``every 3 months`` for three."""
    unit = _SINGULAR.get(interval, interval)
    return f"/ {unit}" if count <= 1 else f"every {count} {unit}s"


def recurrence_label(recurrence: Recurrence | None) -> str:
    """The interval of a recurring price, or ``""`` for a one-time one."""
    if recurrence is None:
        return ""
    return interval_label(recurrence.interval, recurrence.count)


def then_text(recurring: RecurringCharge | None, currency: str) -> str:
    """What is charged after today, e.g. ``$8.00 / month for 2 more months,
    then $10.00 / month``; ``""`` for a one-time purchase."""
    if recurring is None:
        return ""
    every = interval_label(recurring.interval, recurring.interval_count)
    full = f"{format_money(recurring.amount, currency)} {every}"
    if not recurring.discount:
        return full
    cut = f"{format_money(recurring.discounted_amount, currency)} {every}"
    periods = recurring.discount_periods
    if periods is None:
        return cut
    unit = _SINGULAR.get(recurring.interval, recurring.interval)
    count = periods * max(1, recurring.interval_count)
    more = f"{count} more {unit}{'' if count == 1 else 's'}"
    return f"{cut} for {more}, then {full}"


def _every(interval: str, count: int) -> str:
    """``every month``, ``every 3 months``."""
    unit = _SINGULAR.get(interval, interval)
    return f"every {unit}" if count <= 1 else f"every {count} {unit}s"


def long_date(day: date) -> str:
    """*day* written out in the configured locale: ``November 27, 2026``."""
    locale = current_app.config["PAYLINKS_LOCALE"]
    return str(format_date(day, format="long", locale=locale))


def consent_text(shown: Quote | None, day: date) -> str:
    """What the customer agrees to be charged, as one sentence.

    For a subscription: ``By paying you agree to be charged $49.00 today,
    November 27, 2026, and $49.00 every month after that until you cancel.``
    (a coupon with a duration names both later amounts); for a one-time
    purchase ``You are charged once.``
    """
    if shown is None or shown.recurring is None:
        return "You are charged once."
    recurring = shown.recurring
    currency = shown.currency
    every = _every(recurring.interval, recurring.interval_count)
    now = f"{total_text(shown)} today, {long_date(day)}"
    full = format_money(recurring.amount, currency)
    periods = recurring.discount_periods
    if recurring.discount and periods is None:
        later = f"{format_money(recurring.discounted_amount, currency)} {every}"
        return (
            f"By paying you agree to be charged {now}, and {later} after that "
            "until you cancel."
        )
    if recurring.discount and periods:
        unit = _SINGULAR.get(recurring.interval, recurring.interval)
        count = periods * max(1, recurring.interval_count)
        span = f"the next {count} {unit}s" if count > 1 else f"the next {unit}"
        cut = format_money(recurring.discounted_amount, currency)
        return (
            f"By paying you agree to be charged {now}, {cut} {every} for {span}, "
            f"and {full} {every} after that until you cancel."
        )
    return (
        f"By paying you agree to be charged {now}, and {full} {every} after that "
        "until you cancel."
    )


@dataclass(frozen=True, slots=True)
class NextCharge:
    """The next charge of a subscription: how much, and on which day."""

    amount: int
    currency: str
    on: date

    @property
    def text(self) -> str:
        """``$49.00 on December 27, 2026``."""
        return f"{format_money(self.amount, self.currency)} on {long_date(self.on)}"


def next_charge(payment: Payment, merchant: MerchantProfile) -> NextCharge | None:
    """When a subscription payment charges next, in the merchant's calendar.

    ``None`` for a one-time payment, or one that is not paid (or was refunded).
    """
    recurring = (payment.snapshot or {}).get("recurring")
    if not isinstance(recurring, dict) or payment.state != "succeeded":
        return None
    try:
        charge = RecurringCharge(**recurring)
        paid = payment.succeeded_at or payment.created_at
        on = add_interval(
            local_day(paid, merchant.zone), charge.interval, charge.interval_count
        )
    except (TypeError, ValueError, OverflowError):
        return None
    discounted = charge.discount and charge.discount_periods != 0
    amount = charge.discounted_amount if discounted else charge.amount
    return NextCharge(amount, payment.currency, on)


def total_text(shown: Quote) -> str:
    """What is charged now, formatted: ``$45.00``."""
    return format_money(shown.total, shown.currency)


def pay_label(shown: Quote | None) -> str:
    """The pay button's words: ``Pay $45.00``."""
    return "Pay" if shown is None else f"Pay {total_text(shown)}"


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
    state = current_app.extensions["paylinks"]
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
    return current_app.extensions["paylinks"].gateway.payment_fields(formdata)


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
    gateway = current_app.extensions["paylinks"].gateway
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


# -- the page cache ---------------------------------------------------------------

#: Stand-ins for what differs per response, random per process so that no
#: merchant text can contain them.
_MARK = secrets.token_hex(12)
NONCE_MARK = f"pl-nonce-{_MARK}"
CSRF_MARK = f"pl-csrf-{_MARK}"
ATTEMPT_MARK = f"pl-attempt-{_MARK}"


class PageCache:
    """Rendered checkout pages by slug, reused for a few seconds per process.

    A page differs between customers only by its CSP nonce, CSRF token and
    attempt token; those are rendered as markers and filled in per response,
    so a cached page costs no template and no database query. An entry
    lives ``PAYLINKS_CHECKOUT_CACHE_SECONDS``; the ``link_updated`` and
    ``link_deactivated`` signals drop it at once (in this process), and a
    link's ``expires_at`` is honoured on every hit. Paying never trusts the
    page: it reloads the link, prices the order afresh, and confirms a
    changed total with the customer first.
    """

    def __init__(self, seconds: float, size: int = 512) -> None:
        self.seconds = seconds
        self.size = size
        self._pages: dict[str, CachedPage] = {}
        self._lock = threading.Lock()

    def get(self, slug: str) -> CachedPage | None:
        """The page of *slug*, unless it has expired (or its link has), or
        the merchant's day it was drawn on (its terms name the date) is over."""
        found = self._pages.get(slug)
        if found is None or found.until < time.monotonic():
            return None
        if found.link_expires_at is not None and found.link_expires_at <= utcnow():
            return None
        if found.day is not None and today(zone_named(found.timezone)) != found.day:
            return None
        return found

    def put(self, slug: str, page: CachedPage) -> None:
        """Keep *page*, dropping the oldest entries when full."""
        with self._lock:
            while len(self._pages) >= self.size:
                del self._pages[next(iter(self._pages))]
            self._pages[slug] = page

    def evict(self, slug: str | None) -> None:
        """Forget the page of *slug*."""
        if slug:
            self._pages.pop(slug, None)


@dataclass(frozen=True, slots=True)
class CachedPage:
    """A rendered page with markers where per-response values go."""

    html: str
    until: float
    link_expires_at: datetime | None
    #: The merchant's date the page was drawn on, and their timezone.
    day: date | None = None
    timezone: str = "UTC"

    def fill(self, attempt: str) -> str:
        """The page for one response: its nonce, attempt and CSRF token."""
        from flask_wtf.csrf import generate_csrf

        html = self.html.replace(NONCE_MARK, csp_nonce())
        html = html.replace(ATTEMPT_MARK, attempt)
        if CSRF_MARK in html:
            html = html.replace(CSRF_MARK, generate_csrf())
        return html


def page_cache(app: Flask | None = None) -> PageCache | None:
    """The app's page cache, or ``None`` when caching is off."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    seconds = float(app.config.get("PAYLINKS_CHECKOUT_CACHE_SECONDS") or 0)
    if seconds <= 0:
        return None
    state = app.extensions["paylinks"]
    cache: PageCache | None = state.extras.get("checkout_pages")
    if cache is None or cache.seconds != seconds:
        cache = state.extras["checkout_pages"] = PageCache(seconds)
    return cache


def cached_page(slug: str) -> CachedPage | None:
    """The cached page of *slug*, if caching is on and it is fresh."""
    cache = page_cache()
    return None if cache is None else cache.get(slug)


def customer_page(link: PaymentLink, *, attempt: str, recipient: str = "") -> str:
    """The page ``GET /pay/<slug>`` answers, rendered and (when on) cached.

    A personal URL (with a recipient token) is never cached.
    """
    cache = page_cache()
    if cache is None or recipient:
        form = new_checkout_form(link)
        form.attempt.data = attempt
        form.recipient.data = recipient
        return render_checkout_page(link, form=form)
    # Whether the host's form wants CSRF (config, or its own Meta).
    csrf = bool(new_checkout_form(link).meta.csrf)
    form = new_checkout_form(link, meta={"csrf": False})
    form.attempt.data = ATTEMPT_MARK
    html = render_checkout_page(
        link,
        form=form,
        page_nonce=NONCE_MARK,
        csrf_marker=CSRF_MARK if csrf else None,
    )
    zone = merchant_profile(link.owner_id).zone
    page = CachedPage(
        html,
        time.monotonic() + cache.seconds,
        link.expires_at,
        day=today(zone),
        timezone=zone.key,
    )
    cache.put(link.slug, page)
    return page.fill(attempt)


def _forget_link(sender: Any, link: PaymentLink | None = None, **extra: Any) -> None:
    if (
        isinstance(sender, Flask)
        and "paylinks" in sender.extensions
        and link is not None
    ):
        cache = page_cache(sender)
        if cache is not None:
            cache.evict(link.slug)


signals.link_updated.connect(_forget_link)
signals.link_deactivated.connect(_forget_link)
