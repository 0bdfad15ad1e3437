"""Who is being paid: the merchant's name, support contacts and timezone.

The host tells the extension about its merchants with the ``merchant_profile=``
option of :meth:`~flask_paylinks.PayLinks.init_app`: a callable taking an
owner id and returning a :class:`MerchantProfile`. Without it every owner
gets the profile the ``PAYLINKS_MERCHANT_NAME``, ``PAYLINKS_SUPPORT_EMAIL``,
``PAYLINKS_SUPPORT_PHONE`` and ``PAYLINKS_TIMEZONE`` settings describe.

Read a profile with :func:`merchant_profile`; it never raises for a broken
hook, so the checkout can always say who is being paid.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, g, has_app_context

logger = logging.getLogger("flask_paylinks.merchants")

#: The host's hook: owner id -> profile (``None``: use the configured default).
MerchantProfileLoader = Callable[[str], "MerchantProfile | None"]
UTC_NAME = "UTC"


@dataclass(frozen=True, slots=True)
class MerchantProfile:
    """What customers are told about the merchant a link belongs to."""

    #: The business name customers know, e.g. ``Acme Fitness``.
    name: str
    #: Where customers write for help and to cancel a subscription.
    support_email: str | None = None
    #: A phone number customers may call, as it should be shown.
    support_phone: str | None = None
    #: An IANA timezone name, e.g. ``Europe/Berlin``; ``None``: the configured one.
    timezone: str | None = None

    @property
    def zone(self) -> ZoneInfo:
        """:attr:`timezone` as a :class:`~zoneinfo.ZoneInfo` (UTC when unknown)."""
        return zone_named(self.timezone or UTC_NAME) or ZoneInfo(UTC_NAME)


@lru_cache(maxsize=256)
def zone_named(name: str) -> ZoneInfo | None:
    """The timezone called *name*, or ``None`` when there is no such zone."""
    if not isinstance(name, str) or not name or "\0" in name or len(name) > 64:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


_warned: set[str] = set()
_warned_lock = threading.Lock()


def _warn_once(timezone: str) -> None:
    with _warned_lock:
        if timezone in _warned:
            return
        _warned.add(timezone)
    logger.warning(
        "Unknown timezone %r in a merchant profile; showing times in UTC instead.",
        timezone,
    )


def default_profile() -> MerchantProfile:
    """The profile the ``PAYLINKS_MERCHANT_*`` settings describe."""
    config = current_app.config
    return MerchantProfile(
        name=config.get("PAYLINKS_MERCHANT_NAME") or "",
        support_email=config.get("PAYLINKS_SUPPORT_EMAIL") or None,
        support_phone=config.get("PAYLINKS_SUPPORT_PHONE") or None,
        timezone=config.get("PAYLINKS_TIMEZONE") or UTC_NAME,
    )


def _text(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _checked(found: Any, owner: str) -> MerchantProfile | None:
    """*found* with its timezone settled, or ``None`` when it is not a profile."""
    if found is None:
        return None
    if not isinstance(found, MerchantProfile) or not (
        isinstance(found.name, str)
        and _text(found.support_email)
        and _text(found.support_phone)
        and _text(found.timezone)
    ):
        logger.warning(
            "merchant_profile(%r) returned %s, not a MerchantProfile; "
            "using the configured default.",
            owner,
            type(found).__name__,
        )
        return None
    fallback = default_profile()
    name = found.name.strip() or fallback.name
    timezone = found.timezone or fallback.timezone
    if timezone and zone_named(timezone) is None:
        _warn_once(timezone)
        timezone = UTC_NAME
    return replace(found, name=name, timezone=timezone)


def _load(owner: str) -> MerchantProfile:
    loader: MerchantProfileLoader | None = current_app.extensions[
        "paylinks"
    ].merchant_profile
    if loader is None:
        return default_profile()
    try:
        found = loader(owner)
    except Exception:
        # The checkout must still render: say so in the log, show the default.
        logger.exception(
            "merchant_profile(%r) raised; using the configured default.", owner
        )
        return default_profile()
    return _checked(found, owner) or default_profile()


#: The name in :data:`flask.g` of the profiles already asked for in this request.
PROFILE_CACHE = "paylinks_merchant_profiles"


def merchant_profile(owner: str | None) -> MerchantProfile:
    """The profile of *owner* (an owner id), or the configured default.

    Asks the host's ``merchant_profile`` hook at most once per owner and
    request (outside a request, every time). A hook that raises, or returns
    something other than a :class:`MerchantProfile`, is logged and the
    configured default is used; an unknown timezone is logged once and
    replaced by UTC.
    """
    if owner is None or owner == "":
        return default_profile()
    owner = str(owner)
    if not has_app_context():
        raise RuntimeError("merchant_profile() needs an app context.")
    # The web layer gives every request a fresh dict (see
    # flask_paylinks.web.request_scope); without one (a worker, the CLI, a
    # bare app context) every call loads anew, so nothing goes stale.
    cache: dict[str, MerchantProfile] | None = g.get(PROFILE_CACHE)
    if cache is None:
        return _load(owner)
    found = cache.get(owner)
    if found is None:
        found = cache[owner] = _load(owner)
    return found


def current_zone() -> ZoneInfo:
    """The timezone dates are shown in during this request.

    The merchant's, once the request has asked for its owner (every
    dashboard page does, through :func:`~flask_paylinks.db.scoping.current_owner`);
    otherwise ``PAYLINKS_TIMEZONE``.
    """
    if not has_app_context():
        return ZoneInfo(UTC_NAME)
    owner: str | None = g.get("paylinks_owner")
    if owner is not None:
        return merchant_profile(owner).zone
    return zone_named(current_app.config.get("PAYLINKS_TIMEZONE") or "") or ZoneInfo(
        UTC_NAME
    )
