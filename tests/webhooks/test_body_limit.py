"""Provider callbacks read at most a megabyte: a bigger body is refused unread."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select

from flask_paylinks.db.models import GatewayEvent
from flask_paylinks.db.session import session
from flask_paylinks.web.webhooks import MAX_BODY_BYTES

from ..stripe.test_webhooks import (  # noqa: F401  (fixtures)
    client,
    signature,
    stripe_app,
)


@pytest.mark.parametrize(
    "path", ["/paylinks/webhooks/stripe", "/paylinks/webhooks/vonage/inbound"]
)
def test_a_body_over_the_cap_gets_413_and_writes_nothing(
    stripe_app: Flask,  # noqa: F811
    path: str,
) -> None:
    body = (
        b'{"id": "evt_big", "type": "payment_intent.succeeded", "x": "'
        + (b"a" * MAX_BODY_BYTES)
        + b'"}'
    )
    response = stripe_app.test_client().post(
        path,
        data=body,
        headers={"Stripe-Signature": signature(body)},
        content_type="application/json",
    )
    assert response.status_code == 413
    assert response.get_data(as_text=True) == "Body too large\n"
    with stripe_app.app_context():
        assert session().scalar(select(func.count()).select_from(GatewayEvent)) == 0


def test_a_body_under_the_cap_is_read(stripe_app: Flask) -> None:  # noqa: F811
    body = b'{"id": "evt_small", "x": "' + b"a" * 1000 + b'"}'
    response = stripe_app.test_client().post(
        "/paylinks/webhooks/stripe",
        data=body,
        headers={"Stripe-Signature": "t=1,v1=00"},
        content_type="application/json",
    )
    assert response.status_code == 400  # read, and its signature checked
