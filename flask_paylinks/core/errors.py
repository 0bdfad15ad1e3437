"""Exceptions the extension raises to its host."""

from __future__ import annotations


class PayLinksError(Exception):
    """Base class of every error raised by flask_paylinks."""


class ConfigError(PayLinksError, ValueError):
    """The extension was mounted or configured wrongly; the message names the key."""


class CurrencyMismatch(PayLinksError, ValueError):
    """Two amounts of different currencies were combined."""
