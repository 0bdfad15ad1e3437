"""How a Text-to-Pay request reads: its SMS before it is sent, and its state."""

from __future__ import annotations

from typing import Any

from flask_paylinks.core.message_text import sms_segments
from flask_paylinks.core.money import Money
from flask_paylinks.text_to_pay.service import RequestState, default_sms

#: A badge style per state, as the dashboard's badges name them.
BADGES = {
    RequestState.QUEUED: "pending",
    RequestState.SENT: "active",
    RequestState.DELIVERED: "active",
    RequestState.OPENED: "active",
    RequestState.PAID: "succeeded",
    RequestState.EXPIRED: "expired",
    RequestState.CANCELLED: "inactive",
    RequestState.FAILED: "failed",
}


def sms_preview(
    merchant: str,
    total: Money | None,
    note: str,
    *,
    link: str,
    locale: str = "en_US",
) -> dict[str, Any]:
    """The request's SMS as the contact will read it, with *link* as its URL.

    Returns ``total`` (text), ``sms`` (the message), ``characters`` and
    ``segments`` (its count and ``segments_label``).
    """
    shown_total = total if total is not None else Money(0, "USD")
    body = (
        default_sms(shown_total, note, locale)
        .replace("{merchant}", merchant)
        .replace("{link}", link)
    )
    carried = sms_segments(body)
    count = carried.segments
    return {
        "total": shown_total.format(locale) if total is not None else "",
        "sms": body,
        "characters": carried.characters,
        "encoding": carried.encoding,
        "segments": count,
        "segments_label": f"{carried.characters} characters ({carried.encoding}), "
        f"{count} SMS segment{'' if count == 1 else 's'}",
    }


def badge(state: RequestState) -> str:
    """The dashboard badge class of *state*."""
    return BADGES[state]
