"""The product catalogue: what a merchant sells, once or on a schedule.

Products are never deleted, only archived: a link that used one, and every
payment made through it, stay as they were. Archived products cannot be added
to links or coupons any more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from flask_paylinks.catalog.presenters import interval_label
from flask_paylinks.core.errors import InvalidInput
from flask_paylinks.core.money import Money, is_currency
from flask_paylinks.core.rules import (
    INT32_MAX,
    INT64_MAX,
    https_url_problem,
    text_problem,
)
from flask_paylinks.db.models import (
    Interval,
    LinkItem,
    PaymentLink,
    Product,
    ProductKind,
)
from flask_paylinks.db.pagination import Page, page_window
from flask_paylinks.db.scoping import get_owned, owned
from flask_paylinks.db.session import session
from flask_paylinks.uploads import is_asset_path

#: Largest unit amount accepted, in minor units (Stripe's own ceiling).
MAX_UNIT_AMOUNT = 99_999_999
#: A recurring period may be one year long at most, as at Stripe.
MAX_INTERVAL_COUNT = {
    Interval.DAY: 365,
    Interval.WEEK: 52,
    Interval.MONTH: 12,
    Interval.YEAR: 1,
}


@dataclass(frozen=True)
class ProductData:
    """What a merchant enters for a product.

    ``image_url`` is an absolute ``https://`` URL, or a path the extension
    serves itself (an uploaded image, see :mod:`flask_paylinks.uploads`).
    """

    name: str
    unit_amount: int
    currency: str
    kind: str = ProductKind.ONE_TIME
    interval: str | None = None
    interval_count: int | None = None
    description: str = ""
    image_url: str | None = None


def check_product(data: ProductData) -> dict[str, str]:
    """What is wrong with *data*, by field (empty when it is fine)."""
    errors: dict[str, str] = {}
    name = data.name.strip()
    if not name:
        errors["name"] = "Enter a name."
    elif len(name) > 200:
        errors["name"] = "A name can be 200 characters at most."
    elif problem := text_problem(name):
        errors["name"] = problem
    if len(data.description) > 5000:
        errors["description"] = "A description can be 5,000 characters at most."
    elif problem := text_problem(data.description, multiline=True):
        errors["description"] = problem
    if not is_currency(data.currency):
        errors["currency"] = "Choose a currency."
    if data.unit_amount < 0:
        errors["price"] = "A price cannot be negative."
    elif data.unit_amount == 0:
        errors["price"] = "Enter a price above zero."
    elif data.unit_amount > MAX_UNIT_AMOUNT:
        errors["price"] = "This price is too high."
    if data.kind == ProductKind.RECURRING:
        if data.interval not in set(Interval):
            errors["interval"] = "Choose how often to charge."
        elif (
            data.interval_count is None
            or data.interval_count < 1
            or data.interval_count > INT32_MAX
        ):
            errors["interval_count"] = "Charge every 1 period or more."
        elif data.interval_count > MAX_INTERVAL_COUNT[Interval(data.interval)]:
            errors["interval_count"] = "A billing period can be one year at most."
    elif data.kind != ProductKind.ONE_TIME:
        errors["kind"] = "Choose one-time or recurring."
    if data.image_url and not is_asset_path(data.image_url):
        problem = https_url_problem(data.image_url)
        if problem:
            errors["image_url"] = problem
    return errors


def _apply(product: Product, data: ProductData) -> None:
    recurring = data.kind == ProductKind.RECURRING
    product.name = data.name.strip()
    product.description = data.description.strip()
    product.image_url = data.image_url or None
    product.kind = data.kind
    product.interval = data.interval if recurring else None
    product.interval_count = data.interval_count if recurring else None
    product.unit_amount = data.unit_amount
    product.currency = data.currency


def create_product(owner: str, data: ProductData) -> Product:
    """Add a product to *owner*'s catalogue; :class:`InvalidInput` on bad *data*."""
    errors = check_product(data)
    if errors:
        raise InvalidInput(errors)
    product = Product(owner_id=owner, active=True, listed=True)
    _apply(product, data)
    session().add(product)
    session().commit()
    return product


def update_product(owner: str, product_id: object, data: ProductData) -> Product | None:
    """Change one of *owner*'s products; ``None`` when there is no such product.

    Past payments keep the names and prices they were made at. The currency
    of a product that links use cannot change (a link has one currency).
    """
    product = get_owned(Product, owner, product_id)
    if product is None:
        return None
    errors = check_product(data)
    if data.currency != product.currency and "currency" not in errors:
        count = len(links_using(owner, product.id))
        if count:
            errors["currency"] = (
                f"{count} link{'s use' if count != 1 else ' uses'} this product, so "
                "its currency cannot change. Create a new product instead."
            )
    if errors:
        raise InvalidInput(errors)
    _apply(product, data)
    session().commit()
    return product


def archive_product(owner: str, product_id: object) -> Product | None:
    """Take a product out of the catalogue; links using it and their payments stay."""
    product = get_owned(Product, owner, product_id)
    if product is None:
        return None
    product.active = False
    session().commit()
    return product


def restore_product(owner: str, product_id: object) -> Product | None:
    """Put an archived product back in the catalogue."""
    product = get_owned(Product, owner, product_id)
    if product is None:
        return None
    product.active = True
    session().commit()
    return product


def get_product(owner: str, product_id: object) -> Product | None:
    """One of *owner*'s products, archived or not, or ``None``."""
    return get_owned(Product, owner, product_id)


def list_products(
    owner: str,
    *,
    search: str = "",
    archived: bool = False,
    page: int = 1,
    per_page: int = 25,
) -> Page[Product]:
    """*owner*'s catalogue (or its archive), by name, one numbered page."""
    stmt = owned(Product, owner).where(
        Product.listed.is_(True), Product.active.is_(not archived)
    )
    text = search.strip()
    if text:
        stmt = stmt.where(Product.name.ilike(like_pattern(text), escape="\\"))
    total = session().scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page, offset = page_window(page, per_page, total)
    rows = session().scalars(
        stmt.order_by(func.lower(Product.name), Product.id)
        .offset(offset)
        .limit(per_page)
    )
    return Page(items=list(rows), total=total, number=page, per_page=per_page)


def search_products(owner: str, text: str, *, limit: int = 10) -> list[Product]:
    """Active catalogue products whose name contains *text*, for the link builder."""
    stmt = owned(Product, owner).where(
        Product.active.is_(True), Product.listed.is_(True)
    )
    text = text.strip()
    if text:
        stmt = stmt.where(Product.name.ilike(like_pattern(text), escape="\\"))
    stmt = stmt.order_by(func.lower(Product.name), Product.id).limit(limit)
    return list(session().scalars(stmt))


def products_by_id(owner: str, ids: Sequence[int]) -> dict[int, Product]:
    """*owner*'s products among *ids*, in one query (others' ids are left out)."""
    # An id beyond BIGINT names no row; passing it on would overflow in SQL.
    wanted = {i for i in ids if isinstance(i, int) and 0 < i <= INT64_MAX}
    if not wanted:
        return {}
    rows = session().scalars(owned(Product, owner).where(Product.id.in_(wanted)))
    return {product.id: product for product in rows}


def links_using(owner: str, product_id: int) -> list[PaymentLink]:
    """*owner*'s links (not deleted) that sell the product, newest first."""
    stmt = (
        owned(PaymentLink, owner)
        .where(
            PaymentLink.deleted_at.is_(None),
            PaymentLink.id.in_(
                select(LinkItem.link_id).where(
                    LinkItem.owner_id == owner, LinkItem.product_id == product_id
                )
            ),
        )
        .order_by(PaymentLink.created_at.desc(), PaymentLink.id.desc())
    )
    return list(session().scalars(stmt))


def price_label(product: Product, locale: str = "en_US") -> str:
    """``$49.00`` or ``$19.00 / month``."""
    amount = Money(product.unit_amount, product.currency).format(locale)
    if product.is_recurring:
        return f"{amount} / {interval_label(product.interval, product.interval_count)}"
    return amount


def like_pattern(text: str) -> str:
    """A ``LIKE`` pattern (escape ``\\``) matching values that contain *text*.

    Control characters (NUL, which PostgreSQL refuses) are dropped: no stored
    name holds one.
    """
    text = "".join(ch for ch in text if ch >= " " and ch != "\x7f")
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
