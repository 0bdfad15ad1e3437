"""``flask paylinks stripe parked``: what was stored and not applied, and why."""

from __future__ import annotations

import json

from flask import Flask
from flask.testing import FlaskClient

from .test_webhooks import (  # noqa: F401  (fixtures)
    client,
    deliver,
    intent_event,
    pending_payment,
    stripe_app,
)


def test_parked_events_are_listed_with_their_reason(
    stripe_app: Flask,  # noqa: F811
    client: FlaskClient,  # noqa: F811
) -> None:
    _, intent = pending_payment(stripe_app)
    deliver(client, intent_event("payment_intent.succeeded", intent))  # applied
    deliver(
        client,
        intent_event("payment_intent.succeeded", "pi_nobody", event_id="evt_stray"),
    )
    deliver(
        client,
        intent_event(
            "payment_intent.succeeded", intent, amount=1, event_id="evt_short"
        ),
    )
    runner = stripe_app.test_cli_runner()
    result = runner.invoke(args=["paylinks", "stripe", "parked"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "evt_stray  payment_intent.succeeded: unknown_payment_intent" in lines[0]
    assert "evt_short  payment_intent.succeeded: amount_mismatch" in lines[1]
    assert "Stripe reports 1 USD" in lines[1]
    assert lines[-1] == "2 parked events."
    as_json = runner.invoke(args=["paylinks", "stripe", "parked", "--json"])
    rows = [json.loads(line) for line in as_json.output.splitlines()]
    assert [(r["event_id"], r["reason"]) for r in rows] == [
        ("evt_stray", "unknown_payment_intent"),
        ("evt_short", "amount_mismatch"),
    ]


def test_nothing_parked_says_so(stripe_app: Flask) -> None:  # noqa: F811
    result = stripe_app.test_cli_runner().invoke(args=["paylinks", "stripe", "parked"])
    assert result.exit_code == 0
    assert result.output == "0 parked events.\n"
