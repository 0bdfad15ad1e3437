"""Stripe Connect: each owner paid into their own Stripe account.

Everything runs against a real localstripe process behind the edge
(:mod:`tests.stripe.localstripe`). localstripe has no Connect, so the edge
serves these endpoints itself, shaped as Stripe documents them:

- ``POST /v1/accounts`` (https://docs.stripe.com/api/accounts/create): a new
  Account (``acct_…``) with ``charges_enabled`` false and
  ``requirements.currently_due``;
- ``GET /v1/accounts/{id}`` (https://docs.stripe.com/api/accounts/retrieve);
- ``POST /v1/account_links`` (https://docs.stripe.com/api/account_links/create):
  an Account Link with ``url`` and ``expires_at``.

``StripeEdge.enable_charges`` stands for the merchant finishing onboarding
at Stripe. localstripe ignores the ``Stripe-Account`` header, so every call
made for a connected owner is checked **at the edge**, which records each
request's headers. Webhooks are signed with the real ``t=…,v1=…`` scheme.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from flask_paylinks.core.errors import ConfigError, InvalidInput
from flask_paylinks.db.models import (
    GatewayCustomer,
    GatewayEvent,
    LinkStatus,
    Payment,
    PaymentLink,
    Product,
    StripeAccount,
)
from flask_paylinks.db.session import session
from flask_paylinks.gateways.stripe import (
    CONNECT_FIRST,
    StripeGateway,
    application_fee_amount,
    application_fee_percent,
)
from flask_paylinks.links import service as link_service
from flask_paylinks.payments import refunds
from flask_paylinks.payments.webhooks import REVIEW_KEY

from ..checkout.conftest import Shop
from ..factories import make_link, make_payment, make_product
from ..hosts import crm_a
from .conftest import WEBHOOK_SECRET
from .localstripe import LocalStripe
from .test_payment_intents import GRACE, start
from .test_payment_step import STATIC, element_data, pay
from .test_refunds import paid_intent
from .test_webhooks import _event, deliver, intent_event

A, B = "1", "2"
FEE_BPS = 250


@contextlib.contextmanager
def _app(database_url: str, config: dict[str, Any], **paylinks: Any) -> Iterator[Flask]:
    app = crm_a.create_app(database_url, paylinks=paylinks, **config)
    with app.app_context():
        crm_a.db.create_all()
        crm_a.db.session.add_all(
            [
                crm_a.User(id=1, account_id=1, email="alice@a.test"),
                crm_a.User(id=2, account_id=2, email="bob@b.test"),
            ]
        )
        crm_a.db.session.commit()
    yield app
    with app.app_context():
        crm_a.db.session.remove()
        crm_a.db.engine.dispose()


@pytest.fixture
def connect_app(database_url: str, stripe_config: dict[str, Any]) -> Iterator[Flask]:
    """Host A on Stripe Connect, with a 2.5% platform fee."""
    config = {
        **stripe_config,
        "PAYLINKS_STRIPE_CONNECT": True,
        "PAYLINKS_STRIPE_APPLICATION_FEE_BPS": FEE_BPS,
    }
    with _app(database_url, config) as app:
        yield app


def gateway(app: Flask) -> StripeGateway:
    found = app.extensions["paylinks"].gateway
    assert isinstance(found, StripeGateway)
    return found


def connect(app: Flask, localstripe: LocalStripe, owner: str) -> str:
    """Onboard *owner* as the settings page does, and let Stripe enable charges."""
    with app.test_request_context():
        url = gateway(app).onboarding_url(
            owner, refresh_url="http://crm.test/r", return_url="http://crm.test/b"
        )
        account = gateway(app).connected_account(owner)
    assert account is not None
    assert url.startswith(f"https://connect.stripe.com/setup/s/{account}/")
    localstripe.edge.enable_charges(account)
    with app.test_request_context():
        status = gateway(app).account_status(owner, refresh=True)
    assert status.problem is None
    return account


def link_of(app: Flask, owner: str, amount: int = 2500, **values: Any) -> PaymentLink:
    shop = Shop(app)
    product: Product = shop.product(
        owner=owner, name=f"Class of {owner}", unit_amount=amount, currency="USD"
    )
    return shop.link([{"product": product, "quantity": 2}], owner=owner, **values)


def login(app: Flask, user: int) -> FlaskClient:
    client = app.test_client()
    assert client.get(f"/login/{user}").status_code == 200
    return client


def payment(app: Flask, payment_id: int) -> Payment:
    with app.app_context():
        row = session().get(Payment, payment_id)
        assert row is not None
        session().expunge(row)
        return row


# -- every call on the owner's own account ------------------------------------


def test_two_owners_each_pay_into_their_own_account_with_the_fee(
    connect_app: Flask, localstripe: LocalStripe
) -> None:
    account_a = connect(connect_app, localstripe, A)
    account_b = connect(connect_app, localstripe, B)
    assert account_a != account_b
    localstripe.edge.reset_requests()

    paid_a = start(
        connect_app, link_of(connect_app, A), "attempt-a000000000001"
    ).payment
    paid_b = start(
        connect_app, link_of(connect_app, B), "attempt-b000000000001", GRACE
    ).payment

    intents = localstripe.edge.posts("/v1/payment_intents")
    customers = localstripe.edge.posts("/v1/customers")
    assert len(intents) == len(customers) == 2
    by_key = {post.headers["Idempotency-Key"]: post for post in intents}
    assert by_key[paid_a.idempotency_key].headers["Stripe-Account"] == account_a
    assert by_key[paid_b.idempotency_key].headers["Stripe-Account"] == account_b
    assert [c.headers["Stripe-Account"] for c in customers] == [account_a, account_b]
    # The platform's 2.5%, rounded down, on each owner's $50.00.
    assert {p.field("application_fee_amount") for p in intents} == {"125"}
    with connect_app.app_context():
        remembered = session().scalars(select(GatewayCustomer)).all()
        assert {(r.owner_id, r.account) for r in remembered} == {
            (A, account_a),
            (B, account_b),
        }


def test_fee_helpers_round_down_and_give_the_percent() -> None:
    assert application_fee_amount(999, 250) == 24
    assert application_fee_amount(5000, 0) == 0
    assert application_fee_amount(5000, 10_000) == 5000
    assert application_fee_percent(250) == 2.5


def test_a_three_decimal_currencys_fee_ends_in_zero_as_stripe_requires() -> None:
    """Stripe refuses a KWD/BHD/JOD/OMR/TND amount whose last digit is not 0.

    https://docs.stripe.com/currencies#three-decimal: round to a multiple of
    ten; the fee is rounded down, so the platform never takes more.
    """
    assert application_fee_amount(1010, 250, "KWD") == 20  # 25.25 -> 20
    assert application_fee_amount(1010, 250, "bhd") == 20
    assert application_fee_amount(1010, 250, "USD") == 25
    assert application_fee_amount(1010, 250, "JPY") == 25


def test_a_refund_is_made_in_the_owners_account(
    connect_app: Flask, localstripe: LocalStripe
) -> None:
    account_a = connect(connect_app, localstripe, A)
    intent = paid_intent(localstripe)
    with connect_app.app_context():
        payment_id = make_payment(A, gateway="stripe", gateway_payment_id=intent).id
        refunds.refund(A, payment_id, 400, "duplicate", "", "refund-key-connect-1")
    [post] = localstripe.edge.posts("/v1/refunds")
    assert post.headers["Stripe-Account"] == account_a


def test_an_owner_without_an_account_cannot_start_a_payment(
    connect_app: Flask, localstripe: LocalStripe
) -> None:
    with connect_app.test_request_context():
        assert gateway(connect_app).charges_problem(A) == CONNECT_FIRST
    from flask_paylinks.payments.start import PaymentNotStarted

    with pytest.raises(PaymentNotStarted, match="Connect your Stripe account"):
        start(connect_app, link_of(connect_app, A), "attempt-a000000000002")
    assert localstripe.edge.posts("/v1/payment_intents") == []


# -- webhooks ----------------------------------------------------------------------


def test_a_webhook_from_owner_bs_account_never_touches_owner_as_payment(
    connect_app: Flask, localstripe: LocalStripe
) -> None:
    connect(connect_app, localstripe, A)
    account_b = connect(connect_app, localstripe, B)
    with connect_app.app_context():
        a_id = make_payment(
            A, state="pending", gateway="stripe", gateway_payment_id="pi_owner_a_0001"
        ).id
        b_id = make_payment(
            B, state="pending", gateway="stripe", gateway_payment_id="pi_owner_b_0001"
        ).id
    client = connect_app.test_client()

    forged = intent_event(
        "payment_intent.succeeded", "pi_owner_a_0001", account=account_b
    )
    assert deliver(client, forged, secret=WEBHOOK_SECRET) == (200, "parked\n")
    assert payment(connect_app, a_id).state == "pending"
    with connect_app.app_context():
        row = (
            session()
            .scalars(select(GatewayEvent).where(GatewayEvent.event_id == forged["id"]))
            .one()
        )
        assert row.processed_at is None
        assert row.payment_id is None
        assert row.payload[REVIEW_KEY]["reason"] == "account_mismatch"

    own = intent_event("payment_intent.succeeded", "pi_owner_b_0001", account=account_b)
    assert deliver(client, own, secret=WEBHOOK_SECRET) == (200, "applied\n")
    assert payment(connect_app, b_id).state == "succeeded"
    assert payment(connect_app, a_id).state == "pending"


def test_an_event_from_an_account_nobody_owns_is_parked(
    connect_app: Flask, localstripe: LocalStripe
) -> None:
    with connect_app.app_context():
        a_id = make_payment(
            A, state="pending", gateway="stripe", gateway_payment_id="pi_owner_a_0002"
        ).id
    client = connect_app.test_client()
    stray = intent_event(
        "payment_intent.succeeded", "pi_owner_a_0002", account="acct_nobodys0001"
    )
    assert deliver(client, stray, secret=WEBHOOK_SECRET) == (200, "parked\n")
    stray_update = _event(
        "account.updated",
        {"id": "acct_nobodys0001", "object": "account"},
        account="acct_nobodys0001",
    )
    assert deliver(client, stray_update, secret=WEBHOOK_SECRET) == (200, "parked\n")
    assert payment(connect_app, a_id).state == "pending"
    with connect_app.app_context():
        reasons = [
            row.payload[REVIEW_KEY]["reason"]
            for row in session().scalars(select(GatewayEvent).order_by(GatewayEvent.id))
        ]
    assert reasons == ["unknown_account", "unknown_account"]


def _account_event(account: dict[str, Any], created: int) -> dict[str, Any]:
    event = _event("account.updated", account, account=account["id"])
    event["created"] = created
    return event


def test_account_updated_flips_charges_enabled_and_an_older_one_loses(
    connect_app: Flask, localstripe: LocalStripe
) -> None:
    with connect_app.test_request_context():
        gateway(connect_app).onboarding_url(
            A, refresh_url="http://crm.test/r", return_url="http://crm.test/b"
        )
        account_id = gateway(connect_app).connected_account(A)
        assert account_id is not None
        problem = gateway(connect_app).charges_problem(A)
    assert problem == (
        "Stripe has not enabled charges yet: it needs the business's website, "
        "a bank account for payouts, acceptance of Stripe's terms of service."
    )
    now = int(time.time()) + 5
    enabled = localstripe.edge.enable_charges(account_id)
    client = connect_app.test_client()
    assert deliver(client, _account_event(enabled, now), secret=WEBHOOK_SECRET) == (
        200,
        "applied\n",
    )
    stale = {**enabled, "charges_enabled": False}
    assert (
        deliver(client, _account_event(stale, now - 60), secret=WEBHOOK_SECRET)[0]
        == 200
    )
    with connect_app.test_request_context():
        row = session().scalars(select(StripeAccount)).one()
        assert (row.owner_id, row.charges_enabled, row.requirements_due) == (
            A,
            True,
            [],
        )
        assert gateway(connect_app).charges_problem(A) is None


def test_account_updated_from_account_b_about_account_a_is_parked(
    connect_app: Flask, localstripe: LocalStripe
) -> None:
    """The event's ``account`` says whose it is: B's event never changes A's state."""
    a_account = connect(connect_app, localstripe, A)
    b_account = connect(connect_app, localstripe, B)
    about_a = {
        "id": a_account,
        "object": "account",
        "charges_enabled": False,
        "details_submitted": False,
        "requirements": {"currently_due": ["external_account"]},
    }
    event = _event("account.updated", about_a, account=b_account)
    event["created"] = int(time.time()) + 5
    client = connect_app.test_client()
    assert deliver(client, event, secret=WEBHOOK_SECRET) == (200, "parked\n")
    with connect_app.test_request_context():
        assert gateway(connect_app).charges_problem(A) is None
        row = (
            session()
            .scalars(select(GatewayEvent).where(GatewayEvent.event_id == event["id"]))
            .one()
        )
        assert row.payload[REVIEW_KEY]["reason"] == "account_mismatch"


def test_the_payment_step_of_a_connected_owner_names_the_account_to_stripe_js(
    connect_app: Flask, localstripe: LocalStripe
) -> None:
    """A PaymentIntent made on the owner's account is confirmed on it.

    Stripe.js must be built with ``stripeAccount`` for a direct charge, else
    Stripe answers the client secret with "No such payment_intent".
    (localstripe ignores accounts; the page and the script are asserted.)
    """
    account = connect(connect_app, localstripe, A)
    link = link_of(connect_app, A)
    client = connect_app.test_client()
    step = pay(client, link)
    page = client.get(step)
    assert page.status_code == 200
    data = element_data(page.text)
    assert data["stripe-account"] == account
    made = localstripe.edge.posts("/v1/payment_intents")  # Pay, then the step
    assert {p.headers["Stripe-Account"] for p in made} == {account}
    script = (STATIC / "payment-step.js").read_text()
    assert "stripeAccount: data.stripeAccount" in script


def test_a_single_account_payment_step_names_no_account(
    database_url: str, stripe_config: dict[str, Any], localstripe: LocalStripe
) -> None:
    with _app(database_url, stripe_config) as app:
        client = app.test_client()
        page = client.get(pay(client, link_of(app, A)))
        assert "stripe-account" not in element_data(page.text)


# -- a host that names each owner's account ---------------------------------------


@pytest.fixture
def host_app(
    database_url: str, stripe_config: dict[str, Any], localstripe: LocalStripe
) -> Iterator[Flask]:
    """Host A naming owner 1's account itself (``stripe_account_for``)."""
    localstripe.edge.add_account("acct_hostnamed0001", charges_enabled=True)
    accounts = {A: "acct_hostnamed0001"}
    with _app(database_url, stripe_config, stripe_account_for=accounts.get) as app:
        yield app


def test_stripe_account_for_names_the_account_of_every_call_and_webhook(
    host_app: Flask, localstripe: LocalStripe
) -> None:
    paid = start(host_app, link_of(host_app, A), "attempt-h000000000001").payment
    [intent] = localstripe.edge.posts("/v1/payment_intents")
    assert intent.headers["Stripe-Account"] == "acct_hostnamed0001"
    assert intent.field("application_fee_amount") is None  # no fee configured

    event = intent_event(
        "payment_intent.succeeded",
        paid.gateway_payment_id or "",
        amount=5000,
        account="acct_hostnamed0001",
    )
    client = host_app.test_client()
    assert deliver(client, event, secret=WEBHOOK_SECRET) == (200, "applied\n")
    assert payment(host_app, paid.id).state == "succeeded"

    with host_app.test_request_context():
        assert gateway(host_app).charges_problem(B) == CONNECT_FIRST

    page = login(host_app, 1).get("/paylinks/settings/payments")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "acct_hostnamed0001" in html
    assert "This site connected it for you" in html
    assert "Connect with Stripe" not in html
    assert "Continue onboarding" not in html


def test_a_host_named_account_is_recorded_without_committing_the_callers_work(
    host_app: Flask,
) -> None:
    """Naming an account the first time in the middle of a caller's changes."""
    with host_app.app_context():
        half_done = make_product(A, name="Not saved yet", commit=False)
        assert gateway(host_app).connected_account(A) == "acct_hostnamed0001"
        session().rollback()  # the caller gives up
        names = session().scalars(select(Product.name)).all()
        assert "Not saved yet" not in names
        assert half_done not in session()
        # Recorded again by the next call, and kept by its caller's commit.
        assert gateway(host_app).connected_account(A) == "acct_hostnamed0001"
        session().commit()
        session().expire_all()
        stored = session().scalars(select(StripeAccount.account_id)).all()
        assert stored == ["acct_hostnamed0001"]


# -- the dashboard ------------------------------------------------------------------


def test_settings_page_connects_and_shows_the_accounts_state(
    connect_app: Flask, localstripe: LocalStripe
) -> None:
    client = login(connect_app, 1)
    page = client.get("/paylinks/settings/payments").get_data(as_text=True)
    assert "You have not connected a Stripe account yet" in page
    assert ">Connect with Stripe</button>" in page
    assert 'aria-current="page">Settings</a>' in page

    answer = client.post("/paylinks/settings/payments/connect")
    assert answer.status_code == 303
    assert answer.location.startswith("https://connect.stripe.com/setup/s/acct_")
    [created] = localstripe.edge.posts("/v1/accounts")
    assert created.field("controller[stripe_dashboard][type]") == "full"
    assert created.field("metadata[paylinks_owner]") == A
    assert "Stripe-Account" not in created.headers  # made by the platform
    [link] = localstripe.edge.posts("/v1/account_links")
    assert link.field("type") == "account_onboarding"
    assert (
        link.field("return_url") == "http://localhost/paylinks/settings/payments/return"
    )
    assert (
        link.field("refresh_url")
        == "http://localhost/paylinks/settings/payments/refresh"
    )

    # Back without finishing: what is due, in words; the button continues.
    back = client.get("/paylinks/settings/payments/return", follow_redirects=True)
    html = back.get_data(as_text=True)
    assert "Stripe saved your progress" in html
    assert "a bank account for payouts" in html
    assert "required information is overdue" in html
    assert ">Continue onboarding</button>" in html

    # Again: the same account (one per owner), a fresh link.
    again = client.post("/paylinks/settings/payments/connect")
    assert again.status_code == 303
    assert len(localstripe.edge.posts("/v1/accounts")) == 1
    assert len(localstripe.edge.posts("/v1/account_links")) == 2
    refreshed = client.get("/paylinks/settings/payments/refresh")
    assert refreshed.status_code == 303

    with connect_app.app_context():
        account = session().scalars(select(StripeAccount)).one()
    localstripe.edge.enable_charges(account.account_id)
    done = client.get("/paylinks/settings/payments/return", follow_redirects=True)
    html = done.get_data(as_text=True)
    assert "Your Stripe account is connected and can take payments." in html
    assert "<dt>Charges enabled</dt><dd>Yes</dd>" in html
    assert "<dt>Still needed</dt><dd>Nothing</dd>" in html
    assert "Continue onboarding" not in html


def test_a_cross_site_get_of_refresh_creates_no_stripe_account(
    connect_app: Flask, localstripe: LocalStripe
) -> None:
    """Stripe's refresh URL is a GET: it renews a link, it never makes an account.

    Any page could make a signed-in merchant's browser fetch it; only the
    CSRF-checked *Connect with Stripe* POST creates the account.
    """
    client = login(connect_app, 1)
    answer = client.get("/paylinks/settings/payments/refresh")
    assert answer.status_code == 200
    assert "Connect with Stripe" in answer.get_data(as_text=True)
    assert localstripe.edge.posts_to("/v1/account") == []
    with connect_app.app_context():
        assert session().scalars(select(StripeAccount)).all() == []


def test_under_the_csp_only_the_settings_form_may_lead_to_stripe(
    database_url: str, stripe_config: dict[str, Any], localstripe: LocalStripe
) -> None:
    config = {
        **stripe_config,
        "PAYLINKS_STRIPE_CONNECT": True,
        "PAYLINKS_DASHBOARD_CSP": True,
    }
    with _app(database_url, config) as app:
        client = login(app, 1)
        settings = client.get("/paylinks/settings/payments")
        links = client.get("/paylinks/")
    csp = settings.headers["Content-Security-Policy"]
    assert "form-action 'self' https://connect.stripe.com;" in csp
    assert "form-action 'self';" in links.headers["Content-Security-Policy"]


def test_settings_posts_need_the_csrf_token(
    database_url: str, stripe_config: dict[str, Any], localstripe: LocalStripe
) -> None:
    config = {**stripe_config, "PAYLINKS_STRIPE_CONNECT": True}
    with _app(database_url, {**config, "WTF_CSRF_ENABLED": True}) as app:
        answer = login(app, 1).post("/paylinks/settings/payments/connect")
    assert answer.status_code == 400
    assert "The form expired" in answer.get_data(as_text=True)
    assert localstripe.edge.posts("/v1/accounts") == []


def test_single_account_mode_says_there_is_nothing_to_connect(
    database_url: str, stripe_config: dict[str, Any], localstripe: LocalStripe
) -> None:
    with _app(database_url, stripe_config) as app:
        client = login(app, 1)
        html = client.get("/paylinks/settings/payments").get_data(as_text=True)
        answer = client.post("/paylinks/settings/payments/connect")
    assert "single-account mode" in html
    assert "nothing for you to connect" in html
    assert "Connect with Stripe" not in html
    assert answer.status_code == 409
    assert "There is no account to connect here." in answer.get_data(as_text=True)


def test_a_link_cannot_go_live_until_stripe_enables_charges(
    connect_app: Flask, localstripe: LocalStripe
) -> None:
    with connect_app.app_context():
        product = make_product(A, name="Yoga", unit_amount=2500, currency="USD")
        draft = make_link(A, [product], status=LinkStatus.INACTIVE)
        draft_id, product_id = draft.id, product.id
    client = login(connect_app, 1)

    refused = client.post(f"/paylinks/links/{draft_id}/activate")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 409
    assert "This link cannot take payments yet" in html
    assert "Connect your Stripe account first, in Payments settings." in html
    assert 'href="/paylinks/settings/payments"' in html

    builder = client.get("/paylinks/links/new").get_data(as_text=True)
    assert "New links cannot take payments yet." in builder
    assert 'href="/paylinks/settings/payments">Open Payments settings</a>' in builder

    data = link_service.LinkData(
        name="Yoga",
        items=[link_service.ItemData(product_id=product_id, quantity=1)],
    )
    with connect_app.test_request_context(), pytest.raises(InvalidInput) as error:
        link_service.create_link(A, data)
    assert error.value.errors == {
        "gateway": "This link cannot take payments yet. "
        "Connect your Stripe account first, in Payments settings."
    }

    connect(connect_app, localstripe, A)
    assert client.post(f"/paylinks/links/{draft_id}/activate").status_code == 302
    with connect_app.test_request_context():
        assert link_service.create_link(A, data).status == LinkStatus.ACTIVE


# -- configuration -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"PAYLINKS_STRIPE_APPLICATION_FEE_BPS": 10_001}, "from 0 to 10000"),
        (
            {
                "PAYLINKS_STRIPE_APPLICATION_FEE_BPS": "250",
                "PAYLINKS_STRIPE_CONNECT": True,
            },
            "whole number of basis points",
        ),
        ({"PAYLINKS_STRIPE_APPLICATION_FEE_BPS": 250}, "needs PAYLINKS_STRIPE_CONNECT"),
        ({"PAYLINKS_STRIPE_CONNECT": "yes"}, "must be True or False"),
        (
            {"PAYLINKS_STRIPE_CONNECT_WEBHOOK_SECRET": "sk_x"},
            "must start with 'whsec_'",
        ),
    ],
)
def test_connect_settings_are_checked_at_start_up(
    database_url: str,
    stripe_config: dict[str, Any],
    settings: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(ConfigError, match=message):
        crm_a.create_app(database_url, **stripe_config, **settings)


def test_a_connect_endpoints_own_secret_verifies_its_events(
    database_url: str, stripe_config: dict[str, Any], localstripe: LocalStripe
) -> None:
    config = {
        **stripe_config,
        "PAYLINKS_STRIPE_CONNECT": True,
        "PAYLINKS_STRIPE_CONNECT_WEBHOOK_SECRET": "whsec_connect_endpoint",
    }
    with _app(database_url, config) as app:
        account = connect(app, localstripe, A)
        client = app.test_client()
        event = _account_event(localstripe.edge.accounts[account], int(time.time()) + 5)
        assert deliver(client, event, secret="whsec_connect_endpoint") == (
            200,
            "applied\n",
        )
        assert deliver(client, event, secret="whsec_someone_else")[0] == 400


# -- Apple Pay / Google Pay domains on connected accounts ----------------------------


def test_a_domain_is_registered_on_each_connected_account(
    connect_app: Flask, localstripe: LocalStripe
) -> None:
    account_a = connect(connect_app, localstripe, A)
    account_b = connect(connect_app, localstripe, B)
    localstripe.edge.reset_requests()
    runner = connect_app.test_cli_runner()
    result = runner.invoke(
        args=[
            "paylinks",
            "stripe",
            "register-domain",
            "pay.example.com",
            "--all-owners",
        ]
    )
    assert result.exit_code == 0, result.output
    assert f"on {account_a} (owner {A})" in result.output
    assert f"on {account_b} (owner {B})" in result.output
    made = localstripe.edge.posts("/v1/payment_method_domains")
    assert [r.headers.get("Stripe-Account") for r in made] == [account_a, account_b]
    assert {r.field("domain_name") for r in made} == {"pay.example.com"}

    localstripe.edge.reset_requests()
    one = runner.invoke(
        args=["paylinks", "stripe", "register-domain", "pay.example.com", "--owner", B]
    )
    assert one.exit_code == 0, one.output
    [only] = localstripe.edge.posts("/v1/payment_method_domains")
    assert only.headers.get("Stripe-Account") == account_b


def test_an_owner_without_an_account_fails_that_registration_only(
    connect_app: Flask, localstripe: LocalStripe
) -> None:
    account_a = connect(connect_app, localstripe, A)
    localstripe.edge.reset_requests()
    result = connect_app.test_cli_runner().invoke(
        args=[
            "paylinks",
            "stripe",
            "register-domain",
            "pay.example.com",
            "--owner",
            A,
            "--owner",
            B,
        ]
    )
    assert result.exit_code == 1
    assert f"on {account_a} (owner {A})" in result.output
    assert f"on owner {B}: {CONNECT_FIRST}" in result.output
    assert "1 registration of 2 failed." in result.output
    [made] = localstripe.edge.posts("/v1/payment_method_domains")
    assert made.headers.get("Stripe-Account") == account_a
