"""Rows for every test suite, made directly through the models (no services).

Each factory takes the owner, keyword overrides for any column, and
``commit`` (default ``True``; ``False`` only flushes, so ids exist and the
caller commits or rolls back). Names, codes, slugs and references are unique
per call. The rows go into the session of the current app's ``PayLinks``
(:func:`flask_paylinks.db.session.session`), so an app context must be open.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from flask_paylinks.db.models import (
    Coupon,
    CouponProduct,
    LinkItem,
    Payment,
    PaymentLink,
    Product,
    Recipient,
    Send,
    utcnow,
)
from flask_paylinks.db.session import session
from flask_paylinks.links.service import new_slug

_counter = itertools.count(1)


def _save(row: Any, commit: bool) -> None:
    session().add(row)
    if commit:
        session().commit()
    else:
        session().flush()


def make_product(owner: str, *, commit: bool = True, **fields: Any) -> Product:
    """A one-time $10.00 USD product of *owner* named ``Product <n>``.

    A ``kind="recurring"`` product bills every month unless told otherwise.
    """
    values: dict[str, Any] = {
        "name": f"Product {next(_counter)}",
        "unit_amount": 1000,
        "currency": "USD",
        "kind": "one_time",
        **fields,
    }
    if values["kind"] == "recurring":
        values.setdefault("interval", "month")
        values.setdefault("interval_count", 1)
    product = Product(owner_id=owner, **values)
    _save(product, commit)
    return product


def make_link(
    owner: str,
    products: Sequence[Product] | None = None,
    *,
    items: Sequence[Mapping[str, Any]] | None = None,
    commit: bool = True,
    **fields: Any,
) -> PaymentLink:
    """An active dashboard link of *owner* named ``Link <n>``, one item per product.

    Without *products* it sells one new :func:`make_product`; ``[]`` makes a
    link with no items. *items* gives each product's ``LinkItem`` values
    (quantity 1 unless told otherwise). The currency is the first product's.
    """
    if products is None:
        products = [make_product(owner, commit=commit)]
    specs = items if items is not None else [{} for _ in products]
    values: dict[str, Any] = {
        "slug": new_slug(),
        "name": f"Link {next(_counter)}",
        "status": "active",
        "source": "dashboard",
        "currency": products[0].currency if products else "USD",
        **fields,
    }
    link = PaymentLink(owner_id=owner, **values)
    # By id, not the relationship: a product detached from another session
    # (the checkout's Shop) must not be pulled into this one.
    link.items = [
        LinkItem(
            owner_id=owner,
            product_id=product.id,
            position=position,
            **{"quantity": 1, **spec},
        )
        for position, (product, spec) in enumerate(zip(products, specs, strict=True))
    ]
    _save(link, commit)
    return link


def make_coupon(
    owner: str,
    *,
    products: Sequence[Product] = (),
    commit: bool = True,
    **fields: Any,
) -> Coupon:
    """An active 10%-off coupon of *owner* with code ``CODE<n>``, used once.

    With *products* it applies to those products only.
    """
    values: dict[str, Any] = {
        "code": f"CODE{next(_counter)}",
        "applies_to_all": not products,
        "duration": "once",
        **fields,
    }
    values.setdefault("code_key", values["code"].upper())
    if "amount_off" not in values and "percent_off_bp" not in values:
        values["percent_off_bp"] = 1000
    coupon = Coupon(owner_id=owner, **values)
    coupon.product_links = [
        CouponProduct(owner_id=owner, product_id=product.id) for product in products
    ]
    _save(coupon, commit)
    return coupon


def make_payment(
    owner: str,
    link: PaymentLink | None = None,
    *,
    commit: bool = True,
    **fields: Any,
) -> Payment:
    """A succeeded $10.00 USD sandbox payment of *owner*, as the checkout leaves it.

    It is for *link* when given; the customer is ``Customer <n>``.
    """
    n = next(_counter)
    values: dict[str, Any] = {
        "reference": f"PL-T{n:07d}{secrets.token_hex(2).upper()}",
        "link_id": link.id if link is not None else None,
        "state": "succeeded",
        "currency": "USD",
        "amount_subtotal": 1000,
        "amount_discount": 0,
        "amount_total": 1000,
        "snapshot": {"items": []},
        "customer_name": f"Customer {n}",
        "customer_email": f"customer{n}@example.test",
        "gateway": "sandbox",
        "idempotency_key": secrets.token_hex(16),
        **fields,
    }
    payment = Payment(owner_id=owner, **values)
    _save(payment, commit)
    return payment


def make_send(
    owner: str,
    link: PaymentLink | None = None,
    *,
    commit: bool = True,
    **fields: Any,
) -> Send:
    """A send of *link* (a new :func:`make_link` when not given) by SMS, sending."""
    if link is None:
        link = make_link(owner, commit=commit)
    values: dict[str, Any] = {
        "link_id": link.id,
        "channels": "sms",
        "sms_body": "Pay here: {link}",
        "state": "sending",
        **fields,
    }
    send = Send(owner_id=owner, **values)
    _save(send, commit)
    return send


def make_recipient(
    owner: str,
    send: Send,
    *,
    commit: bool = True,
    **fields: Any,
) -> Recipient:
    """One SMS recipient of *send*, sent with a Vonage-like message id.

    Contact ``<n>`` at ``+1415555<n:04>`` unless told otherwise; pass
    ``state="queued", provider_message_id=None`` for one not sent yet.
    """
    n = next(_counter)
    values: dict[str, Any] = {
        "link_id": send.link_id,
        "contact_id": str(n),
        "channel": "sms",
        "address": f"+1415555{n % 10000:04d}",
        "token": secrets.token_urlsafe(16),
        "state": "sent",
        "provider_message_id": f"0A{n:014X}",
        "name": f"Contact {n}",
        **fields,
    }
    if values["state"] != "queued":
        values.setdefault("sent_at", utcnow())
    recipient = Recipient(owner_id=owner, send_id=send.id, **values)
    _save(recipient, commit)
    return recipient


def days_ago(days: float) -> datetime:
    """An aware UTC time *days* before now, for ``created_at`` and the like."""
    return utcnow() - timedelta(days=days)
