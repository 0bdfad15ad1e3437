"""``flask paylinks stripe register-domain DOMAIN`` (Apple Pay / Google Pay).

Faked at the HTTP edge (:mod:`tests.stripe.localstripe`), because localstripe
lacks it: ``POST /v1/payment_method_domains``, answered in the shape Stripe
documents for a PaymentMethodDomain (``id`` ``pmd_…``, ``domain_name``,
``enabled``, and ``apple_pay``/``google_pay``/``link``/… each with a
``status``); a domain name that is not a host name gets Stripe's 400
``invalid_request_error`` with ``param: domain_name``.
"""

from __future__ import annotations

import pytest
from flask import Flask

from flask_paylinks.gateways.stripe import API_VERSION

from ..hosts import crm_a
from .conftest import SECRET_KEY
from .localstripe import LocalStripe


def test_a_domain_is_registered_with_the_hosts_keys(
    stripe_app: Flask, localstripe: LocalStripe
) -> None:
    result = stripe_app.test_cli_runner().invoke(
        args=["paylinks", "stripe", "register-domain", "Pay.Example.com"]
    )
    assert result.exit_code == 0, result.output
    assert "Registered pay.example.com (pmd_" in result.output
    assert "enabled" in result.output
    assert "Apple Pay: active; Google Pay: active; Link: active." in result.output
    [made] = localstripe.edge.posts("/v1/payment_method_domains")
    assert made.field("domain_name") == "pay.example.com"
    assert made.field("enabled") == "true"
    assert made.headers["Authorization"] == f"Bearer {SECRET_KEY}"
    assert made.headers["Stripe-Version"] == API_VERSION


@pytest.mark.parametrize("domain", ["https://pay.example.com", "pay example", "a/b"])
def test_a_url_or_junk_is_refused_before_asking_stripe(
    stripe_app: Flask, localstripe: LocalStripe, domain: str
) -> None:
    result = stripe_app.test_cli_runner().invoke(
        args=["paylinks", "stripe", "register-domain", domain]
    )
    assert result.exit_code == 1
    assert "is not a domain name" in result.output
    assert "pay.example.com" in result.output  # the example of what to give
    assert localstripe.edge.posts("/v1/payment_method_domains") == []


def test_stripes_refusal_is_said_and_the_exit_is_non_zero(
    stripe_app: Flask, localstripe: LocalStripe
) -> None:
    result = stripe_app.test_cli_runner().invoke(
        args=["paylinks", "stripe", "register-domain", "localhost"]
    )
    assert result.exit_code == 1
    assert (
        "Stripe did not register localhost on the host's account: The domain name "
        "'localhost' is not a "
        "valid domain name." in result.output
    )
    assert "Traceback" not in result.output


def test_stripe_unreachable_is_said_too(
    stripe_app: Flask, localstripe: LocalStripe
) -> None:
    localstripe.edge.fail(10)
    result = stripe_app.test_cli_runner().invoke(
        args=["paylinks", "stripe", "register-domain", "pay.example.com"]
    )
    assert result.exit_code == 1
    assert (
        "Stripe did not register pay.example.com on the host's account: "
        "Stripe did not answer; try again." in result.output
    )


def test_without_stripe_there_is_nothing_to_register(database_url: str) -> None:
    app = crm_a.create_app(database_url)
    result = app.test_cli_runner().invoke(
        args=["paylinks", "stripe", "register-domain", "pay.example.com"]
    )
    assert result.exit_code == 1
    assert "PAYLINKS_GATEWAY is not 'stripe'" in result.output
    with app.app_context():
        crm_a.db.engine.dispose()
