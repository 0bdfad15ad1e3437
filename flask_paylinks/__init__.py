"""flask_paylinks: payment links, checkout, sends and Text-to-Pay for Flask CRMs.

Mount it with :class:`PayLinks`, point it at the host's contacts with a
:class:`ContactDirectory` (usually :class:`SQLAlchemyContactDirectory`), and
hook the :mod:`~flask_paylinks.signals`.
"""

from __future__ import annotations

from flask_paylinks import signals
from flask_paylinks.contacts import (
    Address,
    Contact,
    ContactDirectory,
    InMemoryContactDirectory,
    ModelSegments,
    Segment,
    SQLAlchemyContactDirectory,
)
from flask_paylinks.core.errors import ConfigError, CurrencyMismatch, PayLinksError
from flask_paylinks.core.money import Money
from flask_paylinks.extension import PayLinks
from flask_paylinks.merchants import MerchantProfile

__version__ = "0.1.0"

__all__ = [
    "Address",
    "ConfigError",
    "Contact",
    "ContactDirectory",
    "CurrencyMismatch",
    "InMemoryContactDirectory",
    "MerchantProfile",
    "ModelSegments",
    "Money",
    "PayLinks",
    "PayLinksError",
    "SQLAlchemyContactDirectory",
    "Segment",
    "signals",
]
