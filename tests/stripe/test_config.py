"""Stripe keys are checked at start-up: a wrong one fails, naming its key."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_paylinks import ConfigError, InMemoryContactDirectory, PayLinks
from flask_paylinks.gateways.stripe import StripeGateway

GOOD = {
    "PAYLINKS_GATEWAY": "stripe",
    "PAYLINKS_STRIPE_SECRET_KEY": "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "PAYLINKS_STRIPE_PUBLISHABLE_KEY": "pk_test_TYooMQauvdEDq54NiTphI7jx",
    "PAYLINKS_STRIPE_WEBHOOK_SECRET": "whsec_abc123",
}


def mount(**overrides: Any) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="test",
        TESTING=True,
        SQLALCHEMY_DATABASE_URI="sqlite://",
        **{**GOOD, **overrides},
    )
    db = SQLAlchemy()
    db.init_app(app)
    PayLinks(app, db=db, contacts=InMemoryContactDirectory(), owner_loader=lambda: "1")
    return app


def refused(**overrides: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        mount(**overrides)
    return str(caught.value)


def test_good_test_keys_start() -> None:
    app = mount()
    gateway = app.extensions["paylinks"].gateway
    assert isinstance(gateway, StripeGateway)
    assert gateway.test_mode


def test_good_live_keys_start() -> None:
    app = mount(
        PAYLINKS_STRIPE_SECRET_KEY="sk_live_51Habc",
        PAYLINKS_STRIPE_PUBLISHABLE_KEY="pk_live_51Habc",
    )
    assert not app.extensions["paylinks"].gateway.test_mode


def test_a_restricted_secret_key_is_accepted() -> None:
    mount(PAYLINKS_STRIPE_SECRET_KEY="rk_test_51Habc")


def test_a_publishable_key_in_the_secret_slot() -> None:
    message = refused(PAYLINKS_STRIPE_SECRET_KEY="pk_test_TYooMQauvdEDq54NiTphI7jx")
    assert message.startswith("PAYLINKS_STRIPE_SECRET_KEY holds a publishable key")
    assert "TYooMQ" not in message  # the value is never echoed


def test_a_secret_key_in_the_publishable_slot() -> None:
    message = refused(PAYLINKS_STRIPE_PUBLISHABLE_KEY="sk_test_4eC39HqLyjWDarjtT1zd")
    assert message.startswith("PAYLINKS_STRIPE_PUBLISHABLE_KEY holds a secret key")
    assert "4eC39" not in message


def test_a_restricted_key_in_the_publishable_slot() -> None:
    message = refused(PAYLINKS_STRIPE_PUBLISHABLE_KEY="rk_test_51Habc")
    assert message.startswith("PAYLINKS_STRIPE_PUBLISHABLE_KEY holds a secret key")


def test_a_live_secret_key_with_a_test_publishable_key() -> None:
    message = refused(PAYLINKS_STRIPE_SECRET_KEY="sk_live_51Habc")
    assert "PAYLINKS_STRIPE_SECRET_KEY is a live key" in message
    assert "PAYLINKS_STRIPE_PUBLISHABLE_KEY is a test key" in message


def test_a_test_secret_key_with_a_live_publishable_key() -> None:
    message = refused(PAYLINKS_STRIPE_PUBLISHABLE_KEY="pk_live_51Habc")
    assert "PAYLINKS_STRIPE_SECRET_KEY is a test key" in message
    assert "PAYLINKS_STRIPE_PUBLISHABLE_KEY is a live key" in message


@pytest.mark.parametrize("missing", [None, ""])
def test_a_missing_webhook_secret(missing: str | None) -> None:
    message = refused(PAYLINKS_STRIPE_WEBHOOK_SECRET=missing)
    assert message.startswith("PAYLINKS_STRIPE_WEBHOOK_SECRET must be set")


def test_a_webhook_secret_that_is_not_one() -> None:
    message = refused(PAYLINKS_STRIPE_WEBHOOK_SECRET="sk_test_4eC39HqLyjWDarjtT1zd")
    assert message.startswith("PAYLINKS_STRIPE_WEBHOOK_SECRET is not a webhook")
    assert "4eC39" not in message


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("PAYLINKS_STRIPE_SECRET_KEY", None),
        ("PAYLINKS_STRIPE_PUBLISHABLE_KEY", None),
        ("PAYLINKS_STRIPE_SECRET_KEY", "not-a-key"),
        ("PAYLINKS_STRIPE_PUBLISHABLE_KEY", "not-a-key"),
    ],
)
def test_a_missing_or_garbled_key(key: str, value: str | None) -> None:
    assert refused(**{key: value}).startswith(key)


def test_an_api_base_that_is_not_a_url() -> None:
    message = refused(PAYLINKS_STRIPE_API_BASE="localhost:8420")
    assert message.startswith("PAYLINKS_STRIPE_API_BASE=")
