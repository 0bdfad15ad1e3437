"""The product catalogue: what a merchant sells, once or on a schedule.

Products are never deleted, only archived: a link that used one, and every
payment made through it, stay as they were. Archived products cannot be added
to links or coupons any more.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO

from sqlalchemy import func, select

from flask_paylinks import uploads
from flask_paylinks.catalog.presenters import interval_label
from flask_paylinks.core.errors import InvalidInput, NotFound
from flask_paylinks.core.money import Money, is_currency
from flask_paylinks.core.rules import (
    INT32_MAX,
    INT64_MAX,
    https_url_problem,
    name_problem,
    text_problem,
)
from flask_paylinks.db.models import (
    Asset,
    Interval,
    LinkItem,
    PaymentLink,
    Product,
    ProductKind,
)
from flask_paylinks.db.pagination import Page, page_window
from flask_paylinks.db.queries import LIKE_ESCAPE, contains_pattern
from flask_paylinks.db.scoping import owned, require_owned
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
    When a product being changed has an uploaded image and *image_url* is
    empty, the image stays unless ``remove_image`` is set. ``unit_amount``
    is ``None`` when no price could be read.
    """

    name: str
    unit_amount: int | None
    currency: str
    kind: str = ProductKind.ONE_TIME
    interval: str | None = None
    interval_count: int | None = None
    description: str = ""
    image_url: str | None = None
    remove_image: bool = False


@dataclass(frozen=True)
class ImageUpload:
    """An image file to keep with a product, and how the checkout will name it.

    The web layer knows the URL an :class:`~flask_paylinks.db.models.Asset`
    is served at; the service stores that URL once the upload is accepted.
    """

    stream: IO[bytes]
    url_of: Callable[[Asset], str]


def product_problems(data: ProductData) -> dict[str, str]:
    """What breaks the rules in *data*, by form field (empty when it is fine)."""
    errors: dict[str, str] = {}
    if problem := name_problem(data.name.strip()):
        errors["name"] = problem
    if len(data.description) > 5000:
        errors["description"] = "A description can be 5,000 characters at most."
    elif problem := text_problem(data.description, multiline=True):
        errors["description"] = problem
    if not is_currency(data.currency):
        errors["currency"] = "Choose a currency."
    if data.unit_amount is None:
        errors["price"] = "Enter a price such as 49.00"
    elif data.unit_amount < 0:
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
    product.kind = data.kind
    product.interval = data.interval if recurring else None
    product.interval_count = data.interval_count if recurring else None
    product.unit_amount = data.unit_amount or 0
    product.currency = data.currency


def _save(
    owner: str,
    product: Product,
    data: ProductData,
    image: ImageUpload | None,
    errors: dict[str, str],
) -> None:
    """Check the image too, then write it and the product in one transaction."""
    checked = None
    if image is not None:
        try:
            checked = uploads.check_image(image.stream, field="image_file")
        except InvalidInput as error:
            errors.update(error.errors)
    if errors:
        raise InvalidInput(errors)
    if checked is not None and image is not None:
        product.image_url = image.url_of(uploads.save_image(owner, checked))
    elif data.image_url:
        product.image_url = data.image_url
    elif data.remove_image or not is_asset_path(product.image_url or ""):
        product.image_url = None
    _apply(product, data)
    session().add(product)
    session().commit()


def create_product(
    owner: str, data: ProductData, *, image: ImageUpload | None = None
) -> Product:
    """Add a product to *owner*'s catalogue; :class:`InvalidInput` on bad *data*."""
    product = Product(owner_id=owner, active=True, listed=True)
    _save(owner, product, data, image, product_problems(data))
    return product


def update_product(
    owner: str,
    product_id: object,
    data: ProductData,
    *,
    image: ImageUpload | None = None,
) -> Product:
    """Change one of *owner*'s products (:class:`NotFound` when there is none).

    Past payments keep the names and prices they were made at. The currency
    of a product that links use cannot change (a link has one currency). An
    uploaded image stays unless *data* names another or removes it.
    """
    product = get_product(owner, product_id)
    errors = product_problems(data)
    if data.currency != product.currency and "currency" not in errors:
        count = len(links_using(owner, product.id))
        if count:
            errors["currency"] = (
                f"{count} link{'s use' if count != 1 else ' uses'} this product, so "
                "its currency cannot change. Create a new product instead."
            )
    _save(owner, product, data, image, errors)
    return product


def archive_product(owner: str, product_id: object) -> Product:
    """Take a product out of the catalogue; links using it and their payments stay."""
    product = get_product(owner, product_id)
    product.active = False
    session().commit()
    return product


def restore_product(owner: str, product_id: object) -> Product:
    """Put an archived product back in the catalogue."""
    product = get_product(owner, product_id)
    product.active = True
    session().commit()
    return product


def get_product(owner: str, product_id: object) -> Product:
    """One of *owner*'s catalogue products, archived or not.

    :class:`NotFound` when there is none, or it is a one-off product
    Text-to-Pay made (not in the catalogue).
    """
    product = require_owned(Product, owner, product_id)
    if not product.listed:
        raise NotFound(f"Product {product_id!r} is not in the catalogue.")
    return product


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
        stmt = stmt.where(
            Product.name.ilike(contains_pattern(text), escape=LIKE_ESCAPE)
        )
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
        stmt = stmt.where(
            Product.name.ilike(contains_pattern(text), escape=LIKE_ESCAPE)
        )
    stmt = stmt.order_by(func.lower(Product.name), Product.id).limit(limit)
    return list(session().scalars(stmt))


def products_by_id(owner: str, ids: Sequence[int]) -> dict[int, Product]:
    """*owner*'s catalogue products among *ids*, in one query.

    Others' ids are left out, and so are Text-to-Pay's one-off products
    (``listed=False``): no link or coupon of the catalogue may use them.
    """
    # An id beyond BIGINT names no row; passing it on would overflow in SQL.
    wanted = {i for i in ids if isinstance(i, int) and 0 < i <= INT64_MAX}
    if not wanted:
        return {}
    rows = session().scalars(
        owned(Product, owner).where(Product.id.in_(wanted), Product.listed.is_(True))
    )
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
