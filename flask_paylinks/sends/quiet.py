"""Quiet hours: no SMS at night in the contact's timezone (or the merchant's).

The contact's timezone comes from the phone number when the number belongs
to one timezone only (``phonenumbers``' timezone data); otherwise the
merchant's timezone is used.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, tzinfo
from functools import lru_cache

import phonenumbers
from phonenumbers import timezone as phone_timezones

from flask_paylinks.merchants import zone_named


def parse_window(text: str | None) -> tuple[time, time] | None:
    """``"21:00-08:00"`` as (start, end); ``None`` or ``""`` turns quiet hours off.

    Raises ``ValueError`` for anything else.
    """
    if not text:
        return None
    start, sep, end = text.partition("-")
    if not sep:
        raise ValueError(f"{text!r} is not HH:MM-HH:MM")
    return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())


@lru_cache(maxsize=4096)
def _zone_of_number(phone: str) -> tzinfo | None:
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return None
    zones = [z for z in phone_timezones.time_zones_for_number(number) if "/" in z]
    return zone_named(zones[0]) if len(set(zones)) == 1 else None


def quiet_until(
    phone: str, fallback: tzinfo, window: tuple[time, time] | None, now: datetime
) -> datetime | None:
    """When the quiet hours around *now* end for *phone*, or ``None`` if not quiet."""
    if window is None:
        return None
    start, end = window
    zone = _zone_of_number(phone) or fallback
    local = now.astimezone(zone)
    moment = local.time()
    # A window over midnight (21:00-08:00) is quiet after start OR before end.
    quiet = start <= moment < end if start <= end else (moment >= start or moment < end)
    if not quiet:
        return None
    wake = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if wake <= local:
        wake += timedelta(days=1)
    # Rebuild from the wall clock so a DST change in between is honoured.
    wake = datetime.combine(wake.date(), end, tzinfo=zone)
    return wake.astimezone(now.tzinfo)
