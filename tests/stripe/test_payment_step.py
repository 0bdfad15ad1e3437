"""The Stripe payment step without a browser: its page, its reloads, its CSP.

Runs against localstripe through the edge of :mod:`tests.stripe.localstripe`
(idempotent replay and the PaymentIntent parameters localstripe refuses are
served there, as that module says). The browser half is in
``test_checkout_browser.py``.
"""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_paylinks.db.models import Payment, PaymentLink, Product
from flask_paylinks.gateways.base import PaymentRequest, StartedPayment
from flask_paylinks.gateways.sandbox import SandboxGateway
from flask_paylinks.gateways.stripe import STRIPE_JS_CSP, StripeGateway

from ..checkout.conftest import Shop, submission
from ..hosts import crm_a
from .conftest import SECRET_KEY
from .localstripe import LocalStripe
from .test_config import mount

STATIC = Path(__file__).resolve().parents[2] / "flask_paylinks" / "static" / "paylinks"


@pytest.fixture
def client(stripe_app: Flask) -> FlaskClient:
    return stripe_app.test_client()


@pytest.fixture
def link(stripe_app: Flask) -> PaymentLink:
    shop = Shop(stripe_app)
    yoga: Product = shop.product(name="Yoga class", unit_amount=2500, currency="EUR")
    return shop.link([{"product": yoga, "quantity": 2}], brand_color="#0F766E")


def pay(client: FlaskClient, link: PaymentLink) -> str:
    """Press Pay on *link*'s checkout; the payment step's URL."""
    response = client.post(f"/pay/{link.slug}", data=submission(client, link))
    assert response.status_code == 303, response.text
    location = response.headers["Location"]
    assert re.search(rf"/pay/{link.slug}/confirm/[^/]+$", location), location
    return location


def element_data(html: str) -> dict[str, str]:
    """The ``data-*`` attributes of the page's Payment Element container."""
    tag = re.search(r'<div id="pl-payment-element"[^>]*>', html)
    assert tag is not None, html
    return {
        name: unescape(value)
        for name, value in re.findall(r'data-([a-z-]+)="([^"]*)"', tag.group(0))
    }


def intents(localstripe: LocalStripe) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = localstripe.get("/v1/payment_intents", SECRET_KEY)[
        "data"
    ]
    return data


def csp(response: Any) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in policy.split(";") if part)
    }


def test_pay_leads_to_the_payment_step_of_one_payment_intent(
    client: FlaskClient, link: PaymentLink, localstripe: LocalStripe
) -> None:
    step = pay(client, link)
    first = client.get(step)
    assert first.status_code == 200
    assert "Pay €50.00 to" in first.text
    assert 'role="alert"' in first.text
    (intent,) = intents(localstripe)
    data = element_data(first.text)
    assert data["client-secret"] == intent["client_secret"]
    assert data["publishable-key"] == "pk_test_paylinks"
    assert re.fullmatch(
        r"http://localhost/pay/[^/]+/receipt/[^/?]+", data["return-url"]
    )
    assert '"colorPrimary": "#0F766E"' in data["appearance"]
    assert '<script src="https://js.stripe.com/v3/" defer>' in first.text

    again = client.get(step)  # a reload asks Stripe again, with the same key
    assert element_data(again.text)["client-secret"] == intent["client_secret"]
    assert len(intents(localstripe)) == 1
    posts = localstripe.edge.posts("/v1/payment_intents")
    assert len({p.headers["Idempotency-Key"] for p in posts}) == 1


def test_the_checkout_pages_allow_exactly_stripes_documented_origins(
    client: FlaskClient, link: PaymentLink
) -> None:
    for response in (client.get(f"/pay/{link.slug}"), client.get(pay(client, link))):
        policy = csp(response)
        assert policy["script-src"][0] == "'self'"
        assert policy["script-src"][-1] == "https://js.stripe.com"
        assert policy["frame-src"] == [
            "https://js.stripe.com",
            "https://hooks.stripe.com",
        ]
        assert policy["connect-src"] == ["'self'", "https://api.stripe.com"]
        assert policy["default-src"] == ["'none'"]
        assert policy["frame-ancestors"] == ["'none'"]


def test_another_stripe_js_url_allows_its_origin_instead() -> None:
    gateway = StripeGateway(
        secret_key="sk_test_x",
        publishable_key="pk_test_x",
        js_url="http://127.0.0.1:9999/js.stripe.com/v3/",
    )
    assert gateway.content_security_policy() == {
        "script-src": ("http://127.0.0.1:9999",),
        "frame-src": ("http://127.0.0.1:9999",),
        "connect-src": ("http://127.0.0.1:9999",),
    }
    assert (
        StripeGateway(
            secret_key="sk_test_x", publishable_key="pk_test_x"
        ).content_security_policy()
        == STRIPE_JS_CSP
    )
    step = gateway.browser_step(
        StartedPayment("pi_1", client_secret="pi_1_secret_2"),
        brand_color="#0F766E",
        return_url="https://shop.example/pay/x/receipt/t",
    )
    assert step is not None
    assert step.script_url == "http://127.0.0.1:9999/js.stripe.com/v3/"
    assert step.appearance["variables"]["colorPrimary"] == "#0F766E"
    assert step.confirms == "payment"
    no_secret = StartedPayment("pi_1")
    assert gateway.browser_step(no_secret, brand_color="#000000", return_url="") is None


def test_the_sandbox_pages_name_no_stripe_origin(host_a: Flask) -> None:
    sandbox = SandboxGateway()
    started = sandbox.start_payment(
        PaymentRequest("k" * 32, "PL-1", 100, "USD", "A thing")
    )
    assert sandbox.browser_step(started, brand_color="#000000", return_url="") is None
    assert sandbox.content_security_policy() == {}
    shop = Shop(host_a)
    link = shop.link([{"product": shop.product()}])
    response = host_a.test_client().get(f"/pay/{link.slug}")
    assert "stripe" not in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    "value", ["javascript:alert(1)", "js.stripe.com/v3/", "", None, "https://"]
)
def test_a_stripe_js_url_that_is_not_http_is_refused_naming_the_key(
    value: Any,
) -> None:
    from flask_paylinks import ConfigError

    with pytest.raises(ConfigError, match="PAYLINKS_STRIPE_JS_URL"):
        mount(PAYLINKS_STRIPE_JS_URL=value)


def test_a_forged_or_foreign_step_token_is_404(
    client: FlaskClient, link: PaymentLink, stripe_app: Flask
) -> None:
    step = pay(client, link)
    token = step.rsplit("/", 1)[1]
    assert client.get(step[:-3] + "xyz").status_code == 404
    other = Shop(stripe_app).link([{"product": Shop(stripe_app).product()}])
    assert client.get(f"/pay/{other.slug}/confirm/{token}").status_code == 404
    assert client.get("/pay/no-such-link/confirm/abc").status_code == 404


def test_stripe_down_on_a_reload_says_try_again_and_fails_nothing(
    client: FlaskClient, link: PaymentLink, localstripe: LocalStripe, stripe_app: Flask
) -> None:
    step = pay(client, link)
    localstripe.edge.fail(10)
    response = client.get(step)
    assert response.status_code == 503
    assert "We could not start your payment" in response.text
    assert "Nothing was charged; try again." in response.text
    localstripe.edge.failures = 0
    with stripe_app.app_context():
        (payment,) = crm_a.db.session.scalars(crm_a.db.select(Payment)).all()
        assert payment.state == "pending"
    assert client.get(step).status_code == 200
    assert len(intents(localstripe)) == 1


def test_a_step_stripe_answers_with_another_intent_expires_and_keeps_the_first(
    client: FlaskClient, link: PaymentLink, localstripe: LocalStripe, stripe_app: Flask
) -> None:
    """Stripe forgets idempotency keys after 24 hours: a later reload gets a new
    PaymentIntent, which the step refuses rather than pay twice."""
    step = pay(client, link)
    (first,) = intents(localstripe)
    localstripe.edge.saved.clear()  # the key forgotten
    response = client.get(step)
    assert response.status_code == 410  # gone: start again
    assert "This payment page expired" in response.text
    with stripe_app.app_context():
        (payment,) = crm_a.db.session.scalars(crm_a.db.select(Payment)).all()
        assert payment.gateway_payment_id == first["id"]
        assert payment.state == "pending"


def test_a_settled_payments_step_is_its_receipt(
    client: FlaskClient, link: PaymentLink, stripe_app: Flask
) -> None:
    step = pay(client, link)
    with stripe_app.app_context():
        (payment,) = crm_a.db.session.scalars(crm_a.db.select(Payment)).all()
        payment.state = "succeeded"
        crm_a.db.session.commit()
    response = client.get(step)
    assert response.status_code == 303
    assert "/receipt/" in response.headers["Location"]


def test_the_payment_steps_own_bytes_stay_under_60_kb(
    client: FlaskClient, link: PaymentLink
) -> None:
    html = client.get(pay(client, link)).data
    own = len(html) + sum(
        (STATIC / name).stat().st_size for name in ("checkout.css", "payment-step.js")
    )
    assert own < 60_000, own


def test_stripe_refusing_the_payment_says_why_with_a_4xx_and_charges_nothing(
    client: FlaskClient, link: PaymentLink, localstripe: LocalStripe, stripe_app: Flask
) -> None:
    """A refusal is Stripe's no (402 with its reason), not "could not reach" (503)."""
    localstripe.edge.refuse(
        "/v1/payment_intents",
        "amount_too_small",
        "Amount must be at least €0.50 eur",
    )
    response = client.post(f"/pay/{link.slug}", data=submission(client, link))
    assert response.status_code == 402
    assert "Amount must be at least €0.50 eur" in response.text
    assert "could not reach" not in response.text
    assert intents(localstripe) == []
    with stripe_app.app_context():
        (payment,) = crm_a.db.session.scalars(crm_a.db.select(Payment)).all()
        assert payment.state == "failed"
        assert payment.failure_message == "Amount must be at least €0.50 eur"
    # Pressing Pay again is a new attempt, which Stripe takes this time.
    assert "/confirm/" in pay(client, link)
    assert len(intents(localstripe)) == 1
