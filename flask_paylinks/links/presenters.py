"""How a payment link reads to a merchant: its source, status and price in words."""

from __future__ import annotations

from flask_paylinks.catalog.presenters import interval_label
from flask_paylinks.core.money import Money
from flask_paylinks.db.models import LinkSource, LinkStatus, PaymentLink, utcnow

#: Where a link was made, as the links table says it.
SOURCE_LABELS = {
    LinkSource.DASHBOARD: "Dashboard",
    LinkSource.API: "API",
    LinkSource.TEXT_TO_PAY: "Text-to-Pay",
}


def source_label(link: PaymentLink) -> str:
    """``Dashboard``, ``API`` or ``Text-to-Pay``."""
    try:
        return SOURCE_LABELS[LinkSource(link.source)]
    except ValueError:
        return link.source


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
