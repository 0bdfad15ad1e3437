"""Fixtures of the Stripe tests: a localstripe for the run, an app on it.

localstripe is started once per test session (failing the run when it
cannot start, never skipping) and cleared before each test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from tests.services import ServiceUnavailable

from ..checkout.conftest import Shop
from ..hosts import crm_a
from .localstripe import LocalStripe, localstripe_server

SECRET_KEY = "sk_test_paylinks"
PUBLISHABLE_KEY = "pk_test_paylinks"
WEBHOOK_SECRET = "whsec_paylinks_test"


@pytest.fixture(scope="session")
def localstripe_session() -> Iterator[LocalStripe]:
    """localstripe and its HTTP edge, for the whole test run."""
    try:
        with localstripe_server() as running:
            yield running
    except ServiceUnavailable as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture
def localstripe(localstripe_session: LocalStripe) -> LocalStripe:
    """The session's localstripe, emptied for this test."""
    localstripe_session.clear()
    return localstripe_session


@pytest.fixture
def stripe_config(localstripe: LocalStripe) -> dict[str, object]:
    """The ``PAYLINKS_*`` settings of an app on the Stripe gateway, on localstripe."""
    return {
        "PAYLINKS_GATEWAY": "stripe",
        "PAYLINKS_STRIPE_SECRET_KEY": SECRET_KEY,
        "PAYLINKS_STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
        "PAYLINKS_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "PAYLINKS_STRIPE_API_BASE": localstripe.api_base,
    }


@pytest.fixture
def stripe_app(database_url: str, stripe_config: dict[str, object]) -> Iterator[Flask]:
    """Host A on the Stripe gateway, pointed at localstripe's edge, tables made."""
    app = crm_a.create_app(database_url, **stripe_config)
    with app.app_context():
        crm_a.db.create_all()
    yield app
    with app.app_context():
        crm_a.db.session.remove()
        crm_a.db.engine.dispose()


@pytest.fixture
def shop(stripe_app: Flask) -> Shop:
    """Makes products and links on ``stripe_app``."""
    return Shop(stripe_app)
