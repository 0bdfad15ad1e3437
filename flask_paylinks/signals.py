"""Blinker signals a host connects its automations to.

Each signal is sent with the Flask app as sender and keyword arguments named
in its docstring; connect with ``signal.connect(receiver, app)`` to hear one
app only::

    from flask_paylinks import signals

    @signals.payment_succeeded.connect_via(app)
    def on_paid(app, payment, **extra):
        crm.add_note(payment.contact_id, f"Paid {payment.total}")
"""

from __future__ import annotations

import logging
from typing import Any

from blinker import NamedSignal, Namespace

log = logging.getLogger(__name__)
_signals = Namespace()

link_created = _signals.signal("paylinks.link-created")
"""A link was made: ``link``."""

link_updated = _signals.signal("paylinks.link-updated")
"""A link's settings or items changed: ``link``."""

link_deactivated = _signals.signal("paylinks.link-deactivated")
"""A link stopped taking payments (deactivated or deleted): ``link``."""

checkout_viewed = _signals.signal("paylinks.checkout-viewed")
"""A customer opened a checkout page: ``link``, ``recipient`` (or ``None``)."""

checkout_started = _signals.signal("paylinks.checkout-started")
"""A customer started paying; a pending payment exists: ``payment``."""

payment_succeeded = _signals.signal("paylinks.payment-succeeded")
"""A payment went through: ``payment``, ``contact`` (the upserted contact)."""

payment_failed = _signals.signal("paylinks.payment-failed")
"""A payment was declined or failed: ``payment``."""

payment_refunded = _signals.signal("paylinks.payment-refunded")
"""A payment was refunded: ``payment``."""

message_delivered = _signals.signal("paylinks.message-delivered")
"""The SMS provider's delivery receipt says a message arrived: ``recipient``
(the :class:`~flask_paylinks.db.models.Recipient` row, now ``delivered``),
``contact_id``, ``channel``, ``to``."""

message_failed = _signals.signal("paylinks.message-failed")
"""A message did not reach its contact: the provider refused it, or its
delivery receipt says failed, expired or rejected. ``contact_id``,
``channel``, ``to``, ``reason`` (readable text, as stored on the recipient),
and ``recipient`` (the row, now ``failed``) when sent for a receipt."""

send_finished = _signals.signal("paylinks.send-finished")
"""A bulk send has no message left waiting (sent, failed or skipped): ``send``."""

message_sent = _signals.signal("paylinks.message-sent")
"""An SMS or email left for a contact: ``contact_id``, ``channel``, ``to``, ``body``."""


def send_guarded(
    signal: NamedSignal, sender: Any, **kwargs: Any
) -> list[BaseException]:
    """Send *signal* to each receiver in turn; a receiver that raises is logged.

    One host receiver's bug must never turn what the extension already did
    (a payment taken, a link saved) into an error page, nor keep the other
    receivers from hearing the signal. Returns the exceptions raised, so a
    follow-up job can retry.
    """
    failures: list[BaseException] = []
    for receiver in signal.receivers_for(sender):
        try:
            receiver(sender, **kwargs)
        except Exception as error:  # a host's bug: log it, never propagate
            log.exception(
                "a receiver of %s (%s) raised", signal.name, _receiver_name(receiver)
            )
            failures.append(error)
    return failures


def _receiver_name(receiver: Any) -> str:
    module = getattr(receiver, "__module__", "?")
    name = getattr(receiver, "__qualname__", repr(receiver))
    return f"{module}.{name}"
