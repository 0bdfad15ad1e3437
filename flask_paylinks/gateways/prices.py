"""The gateway's Product and Price of each catalogue product, remembered per account.

A gateway that bills from Prices (Stripe subscriptions) asks
:func:`remembered_price` before it creates one and :func:`remember_price`
after, so every payment of a product at one price uses one Price, and a new
amount, currency or interval makes a new one (a Price is never edited).
:func:`remembered_product` gives the Product a new Price of the same
catalogue product belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from flask_paylinks.db.models import GatewayPrice, utcnow
from flask_paylinks.db.session import session


@dataclass(frozen=True, slots=True)
class PriceTerms:
    """What a Price is remembered under (``interval`` ``""``: one-time)."""

    gateway: str
    account: str
    product_id: int
    amount: int
    currency: str
    interval: str = ""
    interval_count: int = 0


@dataclass(frozen=True, slots=True)
class RememberedPrice:
    """The gateway's ids of a Product and its Price."""

    product: str
    price: str


def remembered_price(terms: PriceTerms) -> RememberedPrice | None:
    """The Product and Price stored for *terms*, or ``None``."""
    row = (
        session()
        .scalars(
            select(GatewayPrice).where(
                GatewayPrice.gateway == terms.gateway,
                GatewayPrice.account == terms.account,
                GatewayPrice.product_id == terms.product_id,
                GatewayPrice.amount == terms.amount,
                GatewayPrice.currency == terms.currency.upper(),
                GatewayPrice.interval == terms.interval,
                GatewayPrice.interval_count == terms.interval_count,
            )
        )
        .first()
    )
    return (
        None
        if row is None
        else RememberedPrice(row.gateway_product_id, row.gateway_price_id)
    )


def remembered_product(gateway: str, account: str, product_id: int) -> str | None:
    """The gateway's Product of catalogue product *product_id*, if one is stored."""
    stmt = (
        select(GatewayPrice.gateway_product_id)
        .where(
            GatewayPrice.gateway == gateway,
            GatewayPrice.account == account,
            GatewayPrice.product_id == product_id,
        )
        .order_by(GatewayPrice.id)
    )
    return session().scalars(stmt).first()


def remember_price(terms: PriceTerms, made: RememberedPrice) -> RememberedPrice:
    """Store *made* for *terms* and commit; the Product and Price that are stored.

    When a concurrent payment stored one first, that one wins and is
    returned. The caller's session must hold nothing uncommitted.
    """
    db = session()
    try:
        with db.begin_nested():
            db.add(
                GatewayPrice(
                    gateway=terms.gateway,
                    account=terms.account,
                    product_id=terms.product_id,
                    amount=terms.amount,
                    currency=terms.currency.upper(),
                    interval=terms.interval,
                    interval_count=terms.interval_count,
                    gateway_product_id=made.product,
                    gateway_price_id=made.price,
                    created_at=utcnow(),
                )
            )
    except IntegrityError:
        found = remembered_price(terms)
        db.commit()
        if found is None:  # pragma: no cover - the winner's row cannot vanish
            raise
        return found
    db.commit()
    return made
