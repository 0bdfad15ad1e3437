"""Test host A with jobs on Redis and a slow ``payment_succeeded`` receiver.

The receiver writes a tag, then takes three seconds: long enough for a test
to kill the worker in the middle of the follow-up, before it commits.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask

from flask_paylinks import signals

from . import crm_a


def tag_then_dawdle(sender: Flask, *, payment: Any, **extra: Any) -> None:
    """Write "paid <reference>" as a tag of the owner's account, then wait."""
    crm_a.db.session.add(
        crm_a.Tag(account_id=int(payment.owner_id), name=f"paid {payment.reference}")
    )
    crm_a.db.session.flush()
    time.sleep(3)


def create_app(database_url: str, redis_url: str) -> Flask:
    """Host A on *database_url*, its jobs on *redis_url*, with the slow receiver."""
    app = crm_a.create_app(database_url, PAYLINKS_REDIS_URL=redis_url)
    signals.payment_succeeded.connect(tag_then_dawdle, app)
    return app
