"""Payment link services: create, change, switch on and off, delete, find, list.

A link sells one or more products from the merchant's catalogue, each at a
fixed quantity or a quantity the customer chooses between a minimum and a
maximum, all in one currency. Deleting a link is soft: it disappears from the
dashboard and its checkout answers "no longer available", while its payments
stay. Every change fires the matching signal in :mod:`flask_paylinks.signals`.

The rules of a link are written once, in :func:`link_problems`: saving
refuses a link that breaks any (:class:`InvalidInput`, keyed by the form's
field names); the live preview (:func:`draft_link`) leaves out what breaks
them. How a link reads (status, price) is in :mod:`flask_paylinks.links.presenters`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import IO, Any

from flask import current_app
from sqlalchemy import ColumnElement, and_, bindparam, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from flask_paylinks import signals, uploads
from flask_paylinks.catalog.service import products_by_id
from flask_paylinks.core.days import day_end, day_start
from flask_paylinks.core.errors import Conflict, InvalidInput, NotFound
from flask_paylinks.core.rules import https_url_problem, is_hex_color, name_problem
from flask_paylinks.db.models import (
    Asset,
    ButtonStyle,
    LinkItem,
    LinkSource,
    LinkStatus,
    PaymentLink,
    Product,
    utcnow,
)
from flask_paylinks.db.pagination import KeysetOrder, Page, keyset_page, keyset_select
from flask_paylinks.db.queries import LIKE_ESCAPE, contains_pattern
from flask_paylinks.db.scoping import get_owned
from flask_paylinks.db.session import session
from flask_paylinks.merchants import merchant_profile
from flask_paylinks.state import paylinks_state

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
#: What the links table's status filter takes: the stored statuses, and
#: ``expired`` (active, but past its end date).
STATUS_FILTERS = ("active", "inactive", "expired")
#: The table counts matching links up to this many, then says "10,000+":
#: an exact count of 100,000 rows would cost more than the page itself.
COUNT_CAP = 10_000
#: The name a link without one shows in the preview.
DRAFT_NAME = "New payment link"


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

    ``redirect_url`` is ``None`` to show the confirmation page; an empty
    string asks for a redirect without saying where (refused). A link being
    edited keeps its uploaded logo unless ``logo_url`` replaces it or
    ``remove_logo`` is set.
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
    remove_logo: bool = False
    button_style: str | None = None


# -- the rules -------------------------------------------------------------------


def link_problems(
    owner: str, data: LinkData, existing: PaymentLink | None = None
) -> tuple[dict[str, str], dict[int, Product]]:
    """What breaks the rules in *data*, by form field (``items-0-quantity`` for
    the first item's quantity), and the owner's products the items name."""
    config = current_app.config
    cap: int = config["PAYLINKS_MAX_QUANTITY"]
    most: int = config["PAYLINKS_MAX_ITEMS_PER_LINK"]
    errors: dict[str, str] = {}

    if problem := name_problem(data.name.strip()):
        errors["name"] = problem

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
        if product is None or (not product.listed and product.id not in already):
            # A Text-to-Pay request's one-off items are not in the catalogue.
            errors[prefix + "product_id"] = "This product is not in your catalogue."
        elif not product.active and product.id not in already:
            errors[prefix + "product_id"] = (
                f"{product.name} is archived; restore it or choose another product."
            )
        elif product.id in seen:
            errors[prefix + "product_id"] = f"{product.name} is on this link twice."
        if product is not None:
            seen.add(product.id)
        errors.update(_quantity_problems(prefix, item, cap))

    currencies = sorted({products[i].currency for i in ids if i in products})
    if len(currencies) > 1 and "items" not in errors:
        errors["items"] = (
            "All products on a link must be in one currency; this link mixes "
            f"{' and '.join(currencies)}. Remove the products in the other currency."
        )

    if data.redirect_url is not None:
        empty = "Enter the address to send customers to."
        if problem := https_url_problem(data.redirect_url, empty=empty):
            errors["redirect_url"] = problem
    if data.brand_color and not is_hex_color(data.brand_color):
        errors["brand_color"] = (
            "Enter a colour as # followed by six hex digits, e.g. #4F46E5."
        )
    if data.logo_url and (problem := https_url_problem(data.logo_url)):
        errors["logo_url"] = problem
    if data.button_style and data.button_style not in set(ButtonStyle):
        errors["button_style"] = "Choose a button style."
    return errors, products


def _quantity_problems(prefix: str, item: ItemData, cap: int) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not item.adjustable:
        if item.quantity is None or item.quantity < 1:
            errors[prefix + "quantity"] = "Enter a quantity of 1 or more."
        elif item.quantity > cap:
            errors[prefix + "quantity"] = f"The quantity can be {cap} at most."
        return errors
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
    if low is not None and high is not None and low > high and not errors:
        errors[prefix + "min_quantity"] = "The minimum cannot be more than the maximum."
    return errors


# -- writing ---------------------------------------------------------------------


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
    link.button_style = data.button_style or None
    items = []
    for position, item in enumerate(data.items):
        assert item.product_id is not None
        low = item.min_quantity if item.adjustable else None
        row = LinkItem(
            owner_id=owner,
            product=products[item.product_id],
            position=position,
            quantity=low if item.adjustable else item.quantity,
            adjustable=item.adjustable,
            min_quantity=low,
            max_quantity=item.max_quantity if item.adjustable else None,
        )
        items.append(row)
    link.items = items
    link.currency = next(iter(products.values())).currency


class NotLive(Conflict):
    """A link may not go live: its owner's payment account cannot take charges.

    :attr:`problem` says why, in the gateway's words (e.g. "Connect your
    Stripe account first, in Payments settings.").
    """

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(problem)


#: Error key of a link refused because its owner cannot take charges yet.
GATEWAY_FIELD = "gateway"


def go_live_problem(owner: str) -> str | None:
    """Why a link of *owner* cannot go live now, or ``None`` (the gateway's check)."""
    return paylinks_state().gateway.charges_problem(owner)


def _sender() -> Any:
    return current_app._get_current_object()  # type: ignore[attr-defined]


def _save(
    owner: str,
    link: PaymentLink,
    data: LinkData,
    logo: IO[bytes] | None,
    existing: PaymentLink | None,
    *,
    going_live: bool = False,
) -> None:
    """Check everything, then write the logo and the link in one transaction."""
    errors, products = link_problems(owner, data, existing)
    if going_live and (problem := go_live_problem(owner)):
        errors[GATEWAY_FIELD] = f"This link cannot take payments yet. {problem}"
    image = None
    if logo is not None:
        try:
            image = uploads.check_image(logo, field="logo_file")
        except InvalidInput as error:
            errors.update(error.errors)
    if errors:
        raise InvalidInput(errors)
    if image is not None:
        link.logo_asset = uploads.save_image(owner, image)
    elif data.logo_url or data.remove_logo:
        link.logo_asset = None
    link.logo_url = None if link.logo_asset is not None else (data.logo_url or None)
    _apply(owner, link, data, products)
    session().add(link)
    session().commit()


def create_link(
    owner: str,
    data: LinkData,
    *,
    logo: IO[bytes] | None = None,
    source: str = LinkSource.DASHBOARD,
) -> PaymentLink:
    """Make an active link, with *logo* (an uploaded image) if given.

    :class:`InvalidInput` names each field that breaks a rule, and
    ``gateway`` (:data:`GATEWAY_FIELD`) when the owner's payment account
    cannot take charges; nothing is written then.
    """
    link = PaymentLink(
        owner_id=owner, slug=new_slug(), status=LinkStatus.ACTIVE, source=source
    )
    _save(owner, link, data, logo, None, going_live=True)
    signals.send_guarded(signals.link_created, _sender(), link=link)
    return link


def update_link(
    owner: str, link_id: object, data: LinkData, *, logo: IO[bytes] | None = None
) -> PaymentLink:
    """Change a link's settings and items; past payments keep their snapshot.

    :class:`NotFound` when the owner has no such link, :class:`InvalidInput`
    as for :func:`create_link`.
    """
    link = get_link(owner, link_id)
    _save(owner, link, data, logo, link)
    signals.send_guarded(signals.link_updated, _sender(), link=link)
    return link


def set_link_active(owner: str, link_id: object, active: bool) -> PaymentLink:
    """Switch a link on or off; its URL keeps working once it is back on.

    :class:`NotLive` when switching on a link whose owner cannot take charges.
    """
    link = get_link(owner, link_id)
    status = LinkStatus.ACTIVE if active else LinkStatus.INACTIVE
    if link.status == status:
        return link
    if active and (problem := go_live_problem(owner)):
        raise NotLive(problem)
    link.status = status
    session().commit()
    signal = signals.link_updated if active else signals.link_deactivated
    signals.send_guarded(signal, _sender(), link=link)
    return link


def delete_link(owner: str, link_id: object) -> PaymentLink:
    """Remove a link from the dashboard and stop its checkout; payments stay."""
    link = get_link(owner, link_id)
    was_active = link.is_active
    link.deleted_at = utcnow()
    session().commit()
    if was_active:
        signals.send_guarded(signals.link_deactivated, _sender(), link=link)
    return link


# -- the preview -------------------------------------------------------------------


def draft_link(
    owner: str, data: LinkData, *, based_on: PaymentLink | None = None
) -> PaymentLink:
    """An unsaved link built from *data* as far as it keeps the rules, for a preview.

    Unlike :func:`create_link` it refuses nothing: a value that breaks a rule
    of :func:`link_problems` is left out (a default takes its place) and
    items that break one are dropped. The result is never added to the
    session.
    """
    errors, products = link_problems(owner, data, based_on)

    def kept(name: str, value: Any) -> Any:
        return value if value and name not in errors else None

    brand_color = kept("brand_color", data.brand_color)
    link = PaymentLink(
        id=based_on.id if based_on else None,
        owner_id=owner,
        slug=based_on.slug if based_on else "preview",
        name=kept("name", data.name.strip()) or DRAFT_NAME,
        status=LinkStatus.ACTIVE,
        source=based_on.source if based_on else LinkSource.DASHBOARD,
        require_phone=data.require_phone,
        collect_address=data.collect_address,
        allow_coupons=data.allow_coupons,
        redirect_url=kept("redirect_url", data.redirect_url),
        redirect_new_tab=data.redirect_new_tab,
        brand_color=brand_color.upper() if brand_color else None,
        logo_url=kept("logo_url", data.logo_url),
        button_style=kept("button_style", data.button_style),
        single_use=False,
    )
    if based_on is not None and not data.logo_url and not data.remove_logo:
        link.logo_asset = based_on.logo_asset
    link.items = _draft_items(owner, data, errors, products)
    currency = link.items[0].product.currency if link.items else None
    link.currency = currency or current_app.config["PAYLINKS_DEFAULT_CURRENCY"]
    return link


def _draft_items(
    owner: str, data: LinkData, errors: dict[str, str], products: dict[int, Product]
) -> list[LinkItem]:
    """The items of *data* that keep the rules; a bad quantity becomes 1."""
    items: list[LinkItem] = []
    for index, item in enumerate(data.items):
        prefix = f"items-{index}-"
        product = products.get(item.product_id) if item.product_id else None
        if product is None or prefix + "product_id" in errors:
            continue
        if items and product.currency != items[0].product.currency:
            continue  # one currency a link: the first item's
        bad = {key.removeprefix(prefix) for key in errors if key.startswith(prefix)}
        low = (None if "min_quantity" in bad else item.min_quantity) or 1
        high = (None if "max_quantity" in bad else item.max_quantity) or low
        quantity = (None if "quantity" in bad else item.quantity) or 1
        row = LinkItem(
            owner_id=owner,
            position=len(items),
            quantity=low if item.adjustable else quantity,
            adjustable=item.adjustable,
            min_quantity=low if item.adjustable else None,
            max_quantity=max(low, high) if item.adjustable else None,
        )
        row.product = product
        items.append(row)
    return items


# -- reading -------------------------------------------------------------------


def get_link(owner: str, link_id: object) -> PaymentLink:
    """One of the owner's links that is not deleted; :class:`NotFound` otherwise."""
    link = get_owned(PaymentLink, owner, link_id)
    if link is None or link.deleted_at is not None:
        raise NotFound(f"No payment link {link_id!r} of this owner.")
    return link


def find_by_slug(slug: str) -> PaymentLink | None:
    """The link a public slug names, deleted or not (the checkout says which).

    ``None`` for an unknown slug: the checkout answers that itself.
    """
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
        by_name = PaymentLink.name.ilike(contains_pattern(text), escape=LIKE_ESCAPE)
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
    if filters.source in set(LinkSource):
        conditions.append(PaymentLink.source == filters.source)
    zone = merchant_profile(owner).zone
    start = day_start(filters.created_from, zone)
    if start is not None:
        conditions.append(PaymentLink.created_at >= start)
    end = day_end(filters.created_to, zone)
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
