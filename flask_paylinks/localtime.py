"""Calendar days as the merchant lives them.

Timestamps are stored in UTC; a merchant picks and reads days in their own
timezone (:func:`~flask_paylinks.merchants.current_zone`). The arithmetic is
:mod:`flask_paylinks.core.days`; this module fills in the request's zone.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta, tzinfo

from flask_paylinks.core import days
from flask_paylinks.merchants import current_zone


def _zone(tz: tzinfo | None) -> tzinfo:
    return current_zone() if tz is None else tz


def start_of_day(day: date | None, tz: tzinfo | None = None) -> datetime | None:
    """The first moment of *day* in *tz* (default: the request's merchant), in UTC."""
    return days.day_start(day, _zone(tz))


def end_of_day(day: date | None, tz: tzinfo | None = None) -> datetime | None:
    """The first moment after *day* in *tz*, in UTC: picked days are inclusive."""
    return days.day_end(day, _zone(tz))


def local(value: datetime, tz: tzinfo | None = None) -> datetime:
    """*value* (aware; naive is read as UTC) as the wall clock in *tz* shows it."""
    return days.wall_clock(value, _zone(tz))


def local_day(value: datetime, tz: tzinfo | None = None) -> date:
    """The calendar day *value* falls on in *tz*."""
    return local(value, tz).date()


def last_day(until: datetime, tz: tzinfo | None = None) -> date:
    """The last day before the exclusive bound *until*, in *tz*."""
    return days.last_day(until, _zone(tz))


def today(tz: tzinfo | None = None) -> date:
    """Today's date in *tz* (default: the request's merchant)."""
    return datetime.now(_zone(tz)).date()


def add_interval(day: date, interval: str, count: int = 1) -> date:
    """*day* plus *count* days, weeks, months or years.

    A month later than the 31st is the last day of the shorter month, as
    card subscriptions bill (31 January + 1 month = 28 or 29 February).
    """
    count = max(1, count)
    if interval == "day":
        return day + timedelta(days=count)
    if interval == "week":
        return day + timedelta(weeks=count)
    months = count * (12 if interval == "year" else 1)
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
