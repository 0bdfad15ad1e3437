"""The extension's tables, for a host's own queries (``flask_paylinks.models``).

A host that lists a contact's payments in its CRM, or reads the payment a
signal carries, imports the models from here; they live in
:mod:`flask_paylinks.db.models` with the rest of the data layer. Query them
owner-scoped (``Payment.owner_id == ...``) like any row of the host's own.
"""

from __future__ import annotations

from flask_paylinks.db.models import (
    Coupon,
    LinkItem,
    Payment,
    PaymentLink,
    PaymentState,
    Product,
)

__all__ = ["Coupon", "LinkItem", "Payment", "PaymentLink", "PaymentState", "Product"]
