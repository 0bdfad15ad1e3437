"""Payments: price a checkout, start it once, and apply what the gateway reports.

The life of a payment:

1. :func:`pay` (:mod:`~flask_paylinks.payments.checkout`) prices the order
   under the claims, stores it *pending* once per attempt
   (:mod:`~flask_paylinks.payments.start`) and runs the gateway's confirm step.
2. Whatever the gateway reports goes through :func:`apply_update`
   (:mod:`~flask_paylinks.payments.updates`), once per event.
3. A success owes follow-ups, run by the outbox
   (:mod:`~flask_paylinks.payments.followups`,
   :mod:`~flask_paylinks.payments.receipts`).

The merchant's decisions on what a customer typed are in
:mod:`~flask_paylinks.payments.contact_changes`; look-ups in
:mod:`~flask_paylinks.payments.repository`.
"""

from flask_paylinks.payments import followups, reconcile
from flask_paylinks.payments.checkout import (
    ConfirmInBrowser,
    Declined,
    Paid,
    PayCommand,
    PaymentStep,
    PayResult,
    Refused,
    Taken,
    TermsChanged,
    Unavailable,
    pay,
    payment_step,
)
from flask_paylinks.payments.contact_changes import (
    apply_contact_changes,
    dismiss_contact_changes,
)
from flask_paylinks.payments.followups import follow_up_success
from flask_paylinks.payments.prices import Priced, fallback_quote, price, reprice
from flask_paylinks.payments.reconcile import check_pending
from flask_paylinks.payments.repository import (
    find_by_attempt,
    find_coupon,
    get_by_reference,
)
from flask_paylinks.payments.start import (
    Checkout,
    Customer,
    LinkTaken,
    NewTerms,
    PaymentNotStarted,
    new_attempt,
    start_checkout,
)
from flask_paylinks.payments.updates import abandon_stale, apply_update, watch_charges

__all__ = [
    "Checkout",
    "ConfirmInBrowser",
    "Customer",
    "Declined",
    "LinkTaken",
    "NewTerms",
    "Paid",
    "PayCommand",
    "PayResult",
    "PaymentNotStarted",
    "PaymentStep",
    "Priced",
    "Refused",
    "Taken",
    "TermsChanged",
    "Unavailable",
    "abandon_stale",
    "apply_contact_changes",
    "apply_update",
    "check_pending",
    "dismiss_contact_changes",
    "fallback_quote",
    "find_by_attempt",
    "find_coupon",
    "follow_up_success",
    "get_by_reference",
    "new_attempt",
    "pay",
    "payment_step",
    "price",
    "reprice",
    "start_checkout",
    "watch_charges",
]

followups.register()
reconcile.register()
