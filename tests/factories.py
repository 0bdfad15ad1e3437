"""Rows for tests, made directly through the models (no services involved)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_paylinks.db.models import LinkItem, PaymentLink, Product
from flask_paylinks.db.session import session
from flask_paylinks.links.service import new_slug


def make_product(owner: str, **fields: Any) -> Product:
    """A one-time product of *owner*, $49.00 unless told otherwise."""
    values: dict[str, Any] = {
        "name": "Starter pack",
        "unit_amount": 4900,
        "currency": "USD",
        **fields,
    }
    product = Product(owner_id=owner, **values)
    session().add(product)
    session().flush()
    return product


def make_link(
    owner: str,
    *products: Product,
    created_at: datetime | None = None,
    **fields: Any,
) -> PaymentLink:
    """An active link of *owner* selling one of each product (a new one if none)."""
    if not products:
        products = (make_product(owner),)
    link = PaymentLink(
        owner_id=owner,
        slug=new_slug(),
        name=fields.pop("name", "Spring offer"),
        currency=products[0].currency,
        **fields,
    )
    if created_at is not None:
        link.created_at = created_at
    link.items = [
        LinkItem(owner_id=owner, product=product, position=index)
        for index, product in enumerate(products)
    ]
    session().add(link)
    session().flush()
    return link
