"""Fixtures of the Text-to-Pay tests: host A's merchants, their contacts, and
an SMS sender that keeps what it was given.

Merchant A (owner ``"1"``) has Ada (a valid mobile), Nora (no mobile), Otto
(opted out of texts) and Ivan (a number that is not a phone number);
merchant B (owner ``"2"``) has Bea.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask

from flask_paylinks.messaging.base import SentMessage
from flask_paylinks.state import paylinks_state

from ..dashboard.conftest import OWNER_A, OWNER_B, app, client_a, client_b, ctx  # noqa: F401
from ..hosts import crm_a


@dataclass
class SmsBox:
    """An SMS sender that keeps every message instead of sending it."""

    sent: list[tuple[str, str]] = field(default_factory=list)

    def send_sms(
        self, to: str, body: str, *, client_ref: str | None = None
    ) -> SentMessage:
        self.sent.append((to, body))
        return SentMessage(f"box-{len(self.sent)}")

    def to(self, number: str) -> list[str]:
        """The bodies sent to *number*, in order."""
        return [body for to, body in self.sent if to == number]


ADA_PHONE = "+14155552671"


@dataclass(frozen=True)
class People:
    """The contacts' ids, as the extension sees them (strings)."""

    ada: str
    nora: str
    otto: str
    ivan: str
    bea: str


@pytest.fixture
def sms(app: Flask) -> Iterator[SmsBox]:  # noqa: F811
    """Every SMS the app sends, kept."""
    box = SmsBox()
    state = paylinks_state(app)
    previous = state.sms
    state.sms = box
    yield box
    state.sms = previous


@pytest.fixture
def people(app: Flask) -> People:  # noqa: F811
    """Merchant A's four contacts and merchant B's one."""
    rows: list[Any] = [
        crm_a.Customer(account_id=1, full_name="Ada Lovelace", mobile=ADA_PHONE),
        crm_a.Customer(account_id=1, full_name="Nora Blank", mobile=None),
        crm_a.Customer(
            account_id=1, full_name="Otto Out", mobile="+14155550199", do_not_text=True
        ),
        crm_a.Customer(account_id=1, full_name="Ivan Invalid", mobile="12345"),
        crm_a.Customer(account_id=2, full_name="Bea Other", mobile="+14155550142"),
    ]
    crm_a.db.session.add_all(rows)
    crm_a.db.session.commit()
    return People(*(str(row.id) for row in rows))
