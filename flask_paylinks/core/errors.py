"""Every exception the extension raises: one hierarchy under :class:`PayLinksError`.

Services raise these; the web layer maps each kind to one HTTP answer
(:class:`InvalidInput` → the form re-shown with its fields marked,
:class:`NotFound` → 404, :class:`Conflict` → 409, :class:`Unavailable` → 503).
"""

from __future__ import annotations

from collections.abc import Mapping


class PayLinksError(Exception):
    """Base class of every error raised by flask_paylinks."""


class ConfigError(PayLinksError, ValueError):
    """The extension was mounted or configured wrongly; the message names the key."""


class CurrencyMismatch(PayLinksError, ValueError):
    """Two amounts of different currencies were combined."""


class InvalidInput(PayLinksError, ValueError):
    """A service refused its input; :attr:`errors` maps each field to the reason.

    The keys are the names of the form fields that carry the input, so a view
    marks them without any mapping.
    """

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors: dict[str, str] = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


class NotFound(PayLinksError, LookupError):
    """The record does not exist, or belongs to another owner (never said which)."""


class Conflict(PayLinksError):
    """The request was valid but the data changed under it; asking again may work."""


class Unavailable(PayLinksError):
    """A service the request needs (gateway, provider, queue) cannot be reached now."""
