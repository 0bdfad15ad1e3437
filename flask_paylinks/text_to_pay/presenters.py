"""How a Text-to-Pay request reads: its SMS before it is sent, and its state."""

from __future__ import annotations

from typing import Any

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

#: Characters of one SMS segment, and of each segment of a longer message.
SINGLE_SEGMENT = 160
MULTI_SEGMENT = 153


def segment_count(text: str) -> int:
    """How many SMS segments *text* takes, counting characters only.

    TODO(lead): use ``core.message_text.sms_segments`` (GSM-7 vs UCS-2)
    once engineer A's module is on main; this counts every message as GSM-7.
    """
    if len(text) <= SINGLE_SEGMENT:
        return 1
    return -(-len(text) // MULTI_SEGMENT)


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
    count = segment_count(body)
    return {
        "total": shown_total.format(locale) if total is not None else "",
        "sms": body,
        "characters": len(body),
        "segments": count,
        "segments_label": f"{len(body)} characters, {count} SMS segment"
        + ("" if count == 1 else "s"),
    }


def badge(state: RequestState) -> str:
    """The dashboard badge class of *state*."""
    return BADGES[state]
