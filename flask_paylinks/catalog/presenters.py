"""How the catalogue's recurring periods read, wherever they are shown.

One plural rule for every page, email and export: the dashboard writes
``$50.00 / 3 months``, the checkout ``$40.00 every 3 months`` and
``$15.00 / month``, the payments CSV ``3 months``; each is built here from
:func:`interval_label`.
"""

from __future__ import annotations

from flask_paylinks.core.pricing import Recurrence


def units(interval: str, count: int) -> str:
    """*interval* as a word for *count* of them: ``month``, ``months``."""
    return interval if count == 1 else f"{interval}s"


def interval_label(interval: str | None, count: int | None = 1) -> str:
    """``month``, ``3 months``: the period of a recurring price (``""``: none)."""
    if not interval:
        return ""
    count = count or 1
    return interval if count <= 1 else f"{count} {units(interval, count)}"


def every_label(interval: str, count: int | None = 1) -> str:
    """``every month``, ``every 3 months``."""
    return f"every {interval_label(interval, count)}"


def per_label(interval: str, count: int | None = 1) -> str:
    """What follows a recurring price: ``/ month``, or ``every 3 months``."""
    if (count or 1) <= 1:
        return f"/ {interval}"
    return every_label(interval, count)


def recurrence_label(recurrence: Recurrence | None) -> str:
    """:func:`per_label` of a recurring price, or ``""`` for a one-time one."""
    if recurrence is None:
        return ""
    return per_label(recurrence.interval, recurrence.count)
