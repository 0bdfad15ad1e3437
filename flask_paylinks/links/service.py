"""Payment link services: create, change, switch on and off, delete, find, list.

A link sells one or more products from the merchant's catalogue, each at a
fixed quantity or a quantity the customer chooses between a minimum and a
maximum, all in one currency. Deleting a link is soft: it disappears from the
dashboard and its checkout answers "no longer available", while its payments
stay. Every change fires the matching signal in :mod:`flask_paylinks.signals`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import current_app, url_for
from sqlalchemy import ColumnElement, and_, bindparam, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from flask_paylinks import signals
from flask_paylinks.catalog.presenters import interval_label
from flask_paylinks.catalog.service import like_pattern, products_by_id
from flask_paylinks.config import BUTTON_STYLES
from flask_paylinks.core.errors import InvalidInput
from flask_paylinks.core.money import Money
from flask_paylinks.core.rules import https_url_problem, is_hex_color
from flask_paylinks.db.models import (
    Asset,
    LinkItem,
    LinkSource,
    LinkStatus,
    PaymentLink,
    Product,
    utcnow,
)
from flask_paylinks.db.pagination import KeysetOrder, Page, keyset_page, keyset_select
from flask_paylinks.db.scoping import get_owned, owned
from flask_paylinks.db.session import session
from flask_paylinks.localtime import end_of_day, start_of_day
from flask_paylinks.merchants import merchant_profile
from flask_paylinks.uploads import asset_path

#: Sort orders of the links table, by the name the URL uses.
SORTS: dict[str, KeysetOrder] = {
    "-created": KeysetOrder(
        "c-", (PaymentLink.created_at, PaymentLink.id), "di", descending=True
    ),
    "created": KeysetOrder(
        "c+", (PaymentLink.created_at, PaymentLink.id), "di", descending=False
    ),
    "name": KeysetOrder(
        "n+", (func.lower(PaymentLink.name), PaymentLink.id), "si", descending=False
    ),
    "-name": KeysetOrder(
        "n-", (func.lower(PaymentLink.name), PaymentLink.id), "si", descending=True
    ),
}
DEFAULT_SORT = "-created"
#: The table counts matching links up to this many, then says "10,000+":
#: an exact count of 100,000 rows would cost more than the page itself.
COUNT_CAP = 10_000
STATUSES = ("active", "inactive", "expired")
SOURCES = tuple(source.value for source in LinkSource)
SOURCE_LABELS = {
    LinkSource.DASHBOARD: "Dashboard",
    LinkSource.API: "API",
    LinkSource.TEXT_TO_PAY: "Text-to-Pay",
}


def new_slug() -> str:
    """An unguessable slug: 128 random bits, URL-safe (22 characters)."""
    return secrets.token_urlsafe(16)


# -- input ---------------------------------------------------------------------


@dataclass(frozen=True)
class ItemData:
    """One product on a link: a fixed quantity, or one the customer picks."""

    product_id: int | None
    quantity: int | None = 1
    adjustable: bool = False
    min_quantity: int | None = None
    max_quantity: int | None = None


@dataclass(frozen=True)
class LinkData:
    """What a merchant sets on a link.

    ``logo_asset_id`` is an uploaded :class:`~flask_paylinks.db.models.Asset`
    (see :func:`flask_paylinks.uploads.store_image`); it wins over ``logo_url``.
    """

    name: str
    items: Sequence[ItemData] = field(default_factory=tuple)
    require_phone: bool = False
    collect_address: bool = False
    allow_coupons: bool = False
    redirect_url: str | None = None
    redirect_new_tab: bool = False
    brand_color: str | None = None
    logo_url: str | None = None
    logo_asset_id: int | None = None
    button_style: str | None = None


def check_link(
    owner: str, data: LinkData, *, existing: PaymentLink | None = None
) -> dict[str, str]:
    """What is wrong with *data*, by field (``items-0-quantity`` for the first
    item's quantity); empty when :func:`create_link` would take it."""
    return _check(owner, data, existing)[0]


def _check(
    owner: str, data: LinkData, existing: PaymentLink | None
) -> tuple[dict[str, str], dict[int, Product]]:
    """Errors by field, and the products the items name."""
    config = current_app.config
    cap: int = config["PAYLINKS_MAX_QUANTITY"]
    most: int = config["PAYLINKS_MAX_ITEMS_PER_LINK"]
    errors: dict[str, str] = {}

    name = data.name.strip()
    if not name:
        errors["name"] = "Enter a name."
    elif len(name) > 200:
        errors["name"] = "A name can be 200 characters at most."

    ids = [item.product_id for item in data.items if item.product_id is not None]
    products = products_by_id(owner, ids)
    already = {item.product_id for item in existing.items} if existing else set()
    if not data.items:
        errors["items"] = "Add at least one product."
    elif len(data.items) > most:
        errors["items"] = f"A link can hold {most} products at most."
    seen: set[int] = set()
    for index, item in enumerate(data.items):
        prefix = f"items-{index}-"
        product = products.get(item.product_id) if item.product_id else None
        if product is None:
            errors[prefix + "product_id"] = "This product is not in your catalogue."
        elif not product.active and product.id not in already:
            errors[prefix + "product_id"] = (
                f"{product.name} is archived; restore it or choose another product."
            )
        elif product.id in seen:
            errors[prefix + "product_id"] = f"{product.name} is on this link twice."
        if product is not None:
            seen.add(product.id)
        if item.adjustable:
            low, high = item.min_quantity, item.max_quantity
            if low is None:
                errors[prefix + "min_quantity"] = "Enter a minimum quantity."
            elif low < 1:
                errors[prefix + "min_quantity"] = "The minimum must be 1 or more."
            if high is None:
                errors[prefix + "max_quantity"] = "Enter a maximum quantity."
            elif high > cap:
                errors[prefix + "max_quantity"] = f"The maximum can be {cap} at most."
            elif high < 1:
                errors[prefix + "max_quantity"] = "The maximum must be 1 or more."
            if (
                low is not None
                and high is not None
                and low > high
                and prefix + "min_quantity" not in errors
                and prefix + "max_quantity" not in errors
            ):
                errors[prefix + "min_quantity"] = (
                    "The minimum cannot be more than the maximum."
                )
        elif item.quantity is None or item.quantity < 1:
            errors[prefix + "quantity"] = "Enter a quantity of 1 or more."
        elif item.quantity > cap:
            errors[prefix + "quantity"] = f"The quantity can be {cap} at most."

    currencies = sorted({products[i].currency for i in ids if i in products})
    if len(currencies) > 1 and "items" not in errors:
        errors["items"] = (
            "All products on a link must be in one currency; this link mixes "
            f"{' and '.join(currencies)}. Remove the products in the other currency."
        )

    if data.redirect_url:
        problem = https_url_problem(data.redirect_url)
        if problem:
            errors["redirect_url"] = problem
    if data.brand_color and not is_hex_color(data.brand_color):
        errors["brand_color"] = (
            "Enter a colour as # followed by six hex digits, e.g. #4F46E5."
        )
    if data.logo_url and data.logo_asset_id is None:
        problem = https_url_problem(data.logo_url)
        if problem:
            errors["logo_url"] = problem
    if (
        data.logo_asset_id is not None
        and get_owned(Asset, owner, data.logo_asset_id) is None
    ):
        errors["logo_file"] = "Upload the logo again."
    if data.button_style and data.button_style not in BUTTON_STYLES:
        errors["button_style"] = "Choose a button style."
    return errors, products


def _apply(
    owner: str, link: PaymentLink, data: LinkData, products: dict[int, Product]
) -> None:
    link.name = data.name.strip()
    link.require_phone = data.require_phone
    link.collect_address = data.collect_address
    link.allow_coupons = data.allow_coupons
    link.redirect_url = data.redirect_url or None
    link.redirect_new_tab = bool(data.redirect_url) and data.redirect_new_tab
    link.brand_color = data.brand_color.upper() if data.brand_color else None
    link.logo_asset_id = data.logo_asset_id
    link.logo_url = None if data.logo_asset_id is not None else (data.logo_url or None)
    link.button_style = data.button_style or None
    items = []
    for position, item in enumerate(data.items):
        assert item.product_id is not None
        product = products[item.product_id]
        if item.adjustable:
            low, high = item.min_quantity, item.max_quantity
            row = LinkItem(
                owner_id=owner,
                product=product,
                position=position,
                quantity=low,
                adjustable=True,
                min_quantity=low,
                max_quantity=high,
            )
        else:
            row = LinkItem(
                owner_id=owner,
                product=product,
                position=position,
                quantity=item.quantity,
                adjustable=False,
            )
        items.append(row)
    link.items = items
    link.currency = next(iter(products.values())).currency


def _sender() -> Any:
    return current_app._get_current_object()  # type: ignore[attr-defined]


def create_link(
    owner: str, data: LinkData, *, source: str = LinkSource.DASHBOARD
) -> PaymentLink:
    """Make an active link; :class:`InvalidInput` names each bad field."""
    errors, products = _check(owner, data, None)
    if errors:
        raise InvalidInput(errors)
    link = PaymentLink(
        owner_id=owner, slug=new_slug(), status=LinkStatus.ACTIVE, source=source
    )
    _apply(owner, link, data, products)
    session().add(link)
    session().commit()
    signals.send_guarded(signals.link_created, _sender(), link=link)
    return link


def update_link(owner: str, link_id: object, data: LinkData) -> PaymentLink | None:
    """Change a link's settings and items; past payments keep their snapshot."""
    link = get_link(owner, link_id)
    if link is None:
        return None
    errors, products = _check(owner, data, link)
    if errors:
        raise InvalidInput(errors)
    _apply(owner, link, data, products)
    session().commit()
    signals.send_guarded(signals.link_updated, _sender(), link=link)
    return link


def set_link_active(owner: str, link_id: object, active: bool) -> PaymentLink | None:
    """Switch a link on or off; its URL keeps working once it is back on."""
    link = get_link(owner, link_id)
    if link is None:
        return None
    status = LinkStatus.ACTIVE if active else LinkStatus.INACTIVE
    if link.status == status:
        return link
    link.status = status
    session().commit()
    signal = signals.link_updated if active else signals.link_deactivated
    signals.send_guarded(signal, _sender(), link=link)
    return link


def delete_link(owner: str, link_id: object) -> PaymentLink | None:
    """Remove a link from the dashboard and stop its checkout; payments stay."""
    link = get_link(owner, link_id)
    if link is None:
        return None
    was_active = link.is_active
    link.deleted_at = utcnow()
    session().commit()
    if was_active:
        signals.send_guarded(signals.link_deactivated, _sender(), link=link)
    return link


def draft_link(
    owner: str, data: LinkData, *, based_on: PaymentLink | None = None
) -> PaymentLink:
    """An unsaved link built from *data* as far as it makes sense, for a preview.

    Unlike :func:`create_link` it refuses nothing: products of another owner
    or currency, bad quantities and bad colours are left out or clamped. The
    result is never added to the session.
    """
    cap: int = current_app.config["PAYLINKS_MAX_QUANTITY"]
    ids = [item.product_id for item in data.items if item.product_id is not None]
    products = products_by_id(owner, ids)
    link = PaymentLink(
        id=based_on.id if based_on else None,
        owner_id=owner,
        slug=based_on.slug if based_on else "preview",
        name=data.name.strip()[:200] or "New payment link",
        status=LinkStatus.ACTIVE,
        source=based_on.source if based_on else LinkSource.DASHBOARD,
        require_phone=data.require_phone,
        collect_address=data.collect_address,
        allow_coupons=data.allow_coupons,
        redirect_url=data.redirect_url
        if data.redirect_url and not https_url_problem(data.redirect_url)
        else None,
        redirect_new_tab=data.redirect_new_tab,
        brand_color=data.brand_color.upper()
        if data.brand_color and is_hex_color(data.brand_color)
        else None,
        logo_url=data.logo_url
        if data.logo_url
        and (
            data.logo_url.startswith("data:image/")
            or not https_url_problem(data.logo_url)
        )
        else None,
        button_style=data.button_style if data.button_style in BUTTON_STYLES else None,
        single_use=False,
    )
    if data.logo_asset_id is not None and data.logo_url is None:
        asset = get_owned(Asset, owner, data.logo_asset_id)
        if asset is not None:
            link.logo_url = asset_path(asset)
    items: list[LinkItem] = []
    currency: str | None = None
    seen: set[int] = set()
    for item in data.items:
        product = products.get(item.product_id) if item.product_id else None
        if product is None or product.id in seen:
            continue
        if currency is None:
            currency = product.currency
        if product.currency != currency:
            continue
        seen.add(product.id)
        low = max(1, min(item.min_quantity or 1, cap))
        high = max(low, min(item.max_quantity or low, cap))
        quantity = max(1, min(item.quantity or 1, cap))
        row = LinkItem(
            owner_id=owner,
            position=len(items),
            quantity=low if item.adjustable else quantity,
            adjustable=item.adjustable,
            min_quantity=low if item.adjustable else None,
            max_quantity=high if item.adjustable else None,
        )
        row.product = product
        items.append(row)
    link.items = items
    link.currency = currency or current_app.config["PAYLINKS_DEFAULT_CURRENCY"]
    return link


# -- reading -------------------------------------------------------------------


def list_links(owner: str) -> Sequence[PaymentLink]:
    """The owner's links that are not deleted, newest first."""
    stmt = (
        owned(PaymentLink, owner)
        .where(PaymentLink.deleted_at.is_(None))
        .order_by(PaymentLink.created_at.desc(), PaymentLink.id.desc())
    )
    return session().scalars(stmt).all()


def get_link(owner: str, link_id: object) -> PaymentLink | None:
    """One of the owner's links that is not deleted, or ``None``."""
    link = get_owned(PaymentLink, owner, link_id)
    return None if link is None or link.deleted_at is not None else link


def find_by_slug(slug: str) -> PaymentLink | None:
    """The link a public slug names, deleted or not (the checkout says which)."""
    if not slug or len(slug) > 64:
        return None
    return session().scalars(_BY_SLUG, {"slug": slug}).unique().one_or_none()


#: The checkout draws the link with its items, their products and its logo's
#: token: one query instead of one per relationship, built once (building a
#: statement with loader options costs more than running it on SQLite).
_BY_SLUG = (
    select(PaymentLink)
    .where(PaymentLink.slug == bindparam("slug"))
    .options(
        joinedload(PaymentLink.items),
        joinedload(PaymentLink.logo_asset).load_only(Asset.token),
    )
)


def public_url(link: PaymentLink) -> str:
    """The full checkout URL customers open."""
    return url_for("paylinks_checkout.show", slug=link.slug, _external=True)


@dataclass(frozen=True)
class LinkFilters:
    """What the links table is narrowed to and sorted by.

    Dates are calendar days in the merchant's timezone (their
    :class:`~flask_paylinks.MerchantProfile`), both ends included.
    """

    search: str = ""
    status: str = ""
    source: str = ""
    created_from: date | None = None
    created_to: date | None = None
    sort: str = DEFAULT_SORT

    @property
    def is_filtered(self) -> bool:
        """Whether anything narrows the table down."""
        return bool(
            self.search.strip()
            or self.status
            or self.source
            or self.created_from
            or self.created_to
        )


def _slug_in(text: str) -> str | None:
    """The slug in a pasted checkout URL or a bare slug, if *text* can be one."""
    candidate = text.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
    if 16 <= len(candidate) <= 64 and " " not in candidate:
        return candidate
    return None


def filter_conditions(owner: str, filters: LinkFilters) -> list[ColumnElement[bool]]:
    """The ``WHERE`` conditions of the links table for *filters*."""
    conditions: list[ColumnElement[bool]] = [
        PaymentLink.owner_id == owner,
        PaymentLink.deleted_at.is_(None),
    ]
    text = filters.search.strip()[:200]
    if text:
        by_name = PaymentLink.name.ilike(like_pattern(text), escape="\\")
        slug = _slug_in(text)
        conditions.append(or_(by_name, PaymentLink.slug == slug) if slug else by_name)
    now = utcnow()
    live = and_(
        PaymentLink.status == LinkStatus.ACTIVE,
        or_(PaymentLink.expires_at.is_(None), PaymentLink.expires_at > now),
    )
    if filters.status == "active":
        conditions.append(live)
    elif filters.status == "inactive":
        conditions.append(PaymentLink.status == LinkStatus.INACTIVE)
    elif filters.status == "expired":
        conditions.append(
            and_(
                PaymentLink.status == LinkStatus.ACTIVE,
                PaymentLink.expires_at <= now,
            )
        )
    if filters.source in SOURCES:
        conditions.append(PaymentLink.source == filters.source)
    zone = merchant_profile(owner).zone
    start = start_of_day(filters.created_from, zone)
    if start is not None:
        conditions.append(PaymentLink.created_at >= start)
    end = end_of_day(filters.created_to, zone)
    if end is not None:
        conditions.append(PaymentLink.created_at < end)
    return conditions


def link_table(
    owner: str,
    filters: LinkFilters,
    *,
    after: str | None = None,
    before: str | None = None,
    per_page: int = 25,
) -> Page[PaymentLink]:
    """One page of the links table: three queries whatever the page or filters.

    One counts the matching links (up to :data:`COUNT_CAP`), one reads the
    page, one reads the page's items with their products (for the price
    summaries).
    """
    order = SORTS.get(filters.sort, SORTS[DEFAULT_SORT])
    conditions = filter_conditions(owner, filters)
    matching = select(PaymentLink.id).where(*conditions).limit(COUNT_CAP + 1).subquery()
    total = session().scalar(select(func.count()).select_from(matching)) or 0
    stmt = (
        select(PaymentLink, *order.keys)
        .where(*conditions)
        .options(selectinload(PaymentLink.items))
    )
    stmt, start = keyset_select(
        stmt, order, after=after, before=before, per_page=per_page
    )
    rows = session().execute(stmt).all()
    page = keyset_page(
        rows,
        order,
        start=start,
        per_page=per_page,
        total=total,
        key_of=lambda row: tuple(row[1:]),
    )
    return Page(
        items=[row[0] for row in page.items],
        total=min(total, COUNT_CAP),
        next_cursor=page.next_cursor,
        prev_cursor=page.prev_cursor,
        per_page=per_page,
        total_is_capped=total > COUNT_CAP,
    )


# -- presentation --------------------------------------------------------------


def price_summary(link: PaymentLink, locale: str = "en_US") -> str:
    """What a link costs at a glance: ``$49.00 + $19.00 / month``, ``from $10.00``.

    One-time items are added up (at their fixed or least quantity); recurring
    items are the plans a customer picks from, joined with "or". "from" says
    the customer can buy more than the least quantity.
    """
    if not link.items:
        return ""
    one_time: Money | None = None
    plans: list[str] = []
    varies = False
    for item in link.items:
        product = item.product
        quantity = (item.min_quantity or 1) if item.adjustable else item.quantity
        if item.adjustable and item.max_quantity != item.min_quantity:
            varies = True
        amount = Money(product.unit_amount * quantity, product.currency)
        if product.is_recurring:
            period = interval_label(product.interval, product.interval_count)
            plans.append(f"{amount.format(locale)} / {period}")
        else:
            one_time = amount if one_time is None else one_time + amount
    parts = [one_time.format(locale)] if one_time is not None else []
    if plans:
        parts.append(" or ".join(plans))
    text = " + ".join(parts)
    return f"from {text}" if varies else text


def status_label(link: PaymentLink) -> str:
    """``Active``, ``Inactive``, ``Expired`` or ``Deleted``."""
    if link.deleted_at is not None:
        return "Deleted"
    if link.status != LinkStatus.ACTIVE:
        return "Inactive"
    if link.expires_at is not None and link.expires_at <= utcnow():
        return "Expired"
    return "Active"
