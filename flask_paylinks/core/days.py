"""Calendar days in a timezone, as UTC bounds: pure, no request needed.

Timestamps are stored in UTC; a merchant picks and reads days in their own
timezone. A picked range of days is inclusive at both ends, so it becomes
``[start of the first day, start of the day after the last)`` in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo


def day_start(day: date | None, zone: tzinfo) -> datetime | None:
    """The first moment of *day* in *zone*, in UTC.

    ``None`` for no day, or when the day starts before the calendar does.
    """
    if day is None:
        return None
    try:
        return datetime.combine(day, time.min, zone).astimezone(UTC)
    except OverflowError:
        return None


def day_end(day: date | None, zone: tzinfo) -> datetime | None:
    """The first moment after *day* in *zone*, in UTC: a picked day is inclusive.

    ``None`` for no day, or when the day after it is past the calendar's end
    (there is nothing later to exclude).
    """
    if day is None:
        return None
    try:
        return day_start(day + timedelta(days=1), zone)
    except OverflowError:
        return None


def wall_clock(value: datetime, zone: tzinfo) -> datetime:
    """*value* (aware; naive is read as UTC) as the wall clock in *zone* shows it."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(zone)
    except OverflowError:
        return value


def last_day(until: datetime, zone: tzinfo) -> date:
    """The last day in *zone* before the exclusive bound *until* (a :func:`day_end`)."""
    return wall_clock(until - timedelta(microseconds=1), zone).date()
