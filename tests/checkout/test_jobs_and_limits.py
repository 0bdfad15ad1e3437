"""The after-payment job on a real RQ worker, and the checkout's rate limits."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from redis import Redis

from ..hosts import crm_a
from ..services import run_burst_worker
from .conftest import Shop, priced, submission

ROOT = Path(__file__).resolve().parents[2]


def host_app(database_url: str, **config: object) -> Iterator[Flask]:
    app = crm_a.create_app(database_url, **config)
    with app.app_context():
        crm_a.db.create_all()
    yield app
    with app.app_context():
        crm_a.db.session.remove()
        crm_a.db.engine.dispose()


@pytest.fixture
def queued_app(database_url: str, redis_url: str) -> Iterator[Flask]:
    """Host A with jobs on a real Redis queue."""
    yield from host_app(database_url, PAYLINKS_REDIS_URL=redis_url)


@pytest.mark.slow
def test_follow_up_runs_on_a_real_worker(
    queued_app: Flask, database_url: str, redis_url: str
) -> None:
    shop = Shop(queued_app)
    product = shop.product()
    link = shop.link([{"product": product}], collect_address=True)
    client = queued_app.test_client()
    data = priced(client, link, submission(client, link))
    assert client.post(f"/pay/{link.slug}", data=data).status_code == 303

    # Paid, and the follow-up is waiting in Redis: no contact yet.
    [payment] = shop.payments()
    assert payment.state == "succeeded"
    assert payment.contact_id is None
    assert shop.customers() == []
    # The follow-up and the receipt email.
    assert Redis.from_url(redis_url).llen("rq:queue:paylinks") == 2

    factory = (
        f"tests.hosts.crm_a:create_app({database_url!r}, "
        f"PAYLINKS_REDIS_URL={redis_url!r})"
    )
    worker = run_burst_worker(factory, timeout=120)
    assert worker.returncode == 0, worker.stderr
    [customer] = shop.customers()
    assert (customer.mobile, customer.street, customer.country) == (
        "+14155552671",
        "12 Analytical Row",
        "GB",
    )
    assert shop.payments()[0].contact_id == str(customer.id)
    assert Redis.from_url(redis_url).llen("rq:queue:paylinks") == 0


@pytest.mark.slow
def test_a_raising_receiver_is_retried_by_the_queue_and_never_undoes_the_payment(
    queued_app: Flask, redis_url: str
) -> None:
    from flask_paylinks import signals
    from flask_paylinks.db.models import OutboxItem
    from flask_paylinks.jobs.queue import run_worker

    from .test_hostile_customers import due_now

    shop = Shop(queued_app)
    link = shop.link([{"product": shop.product()}])
    client = queued_app.test_client()
    data = priced(client, link, submission(client, link))
    response = client.post(f"/pay/{link.slug}", data=data)
    assert response.status_code == 303
    assert client.get(response.headers["Location"]).status_code == 200

    def broken(sender: object, **extra: object) -> None:
        raise RuntimeError("the host's automation is down")

    signals.payment_succeeded.connect(broken, queued_app)
    try:
        run_worker(queued_app, burst=True)  # jobs run in this process
    finally:
        signals.payment_succeeded.disconnect(broken, queued_app)

    [payment] = shop.payments()
    assert payment.state == "succeeded"
    assert payment.contact_id is not None  # the contact link is kept
    assert payment.followed_up_at is None
    with queued_app.app_context():
        items = {
            item.kind: item
            for item in crm_a.db.session.scalars(crm_a.db.select(OutboxItem))
        }
    followup = items["payment.followup"]
    assert (followup.state, followup.attempts) == ("pending", 1)
    assert "receiver(s) raised" in (followup.last_error or "")
    assert items["payment.receipt"].state == "done"

    heard: list[str] = []

    def fixed(sender: object, payment: Any, **extra: object) -> None:
        heard.append(payment.reference)

    due_now(queued_app)
    signals.payment_succeeded.connect(fixed, queued_app)
    try:
        run_worker(queued_app, burst=True)  # the sweeper hands it out again
    finally:
        signals.payment_succeeded.disconnect(fixed, queued_app)
    assert heard == [payment.reference]
    assert shop.payments()[0].followed_up_at is not None
    assert Redis.from_url(redis_url).llen("rq:queue:paylinks") == 0


# -- rate limits -----------------------------------------------------------------


@pytest.fixture
def limited_app(database_url: str) -> Iterator[Flask]:
    """Host A with small rate limits, kept in memory."""
    yield from host_app(
        database_url,
        PAYLINKS_RATELIMIT_ENABLED=True,
        PAYLINKS_RATELIMIT_CHECKOUT="3 per minute",
        PAYLINKS_RATELIMIT_COUPON="2 per minute",
    )


def test_starting_payments_is_rate_limited(limited_app: Flask) -> None:
    shop = Shop(limited_app)
    link = shop.link([{"product": shop.product()}])
    client = limited_app.test_client()
    data = submission(client, link, name="")  # refused forms count too
    for _ in range(3):
        assert client.post(f"/pay/{link.slug}", data=data).status_code == 422
    response = client.post(f"/pay/{link.slug}", data=data)
    assert response.status_code == 429
    assert "Too many attempts" in response.text
    assert "Nothing was charged" in response.text
    assert f'href="/pay/{link.slug}"' in response.text
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    # Looking at the page is not limited.
    assert client.get(f"/pay/{link.slug}").status_code == 200
    assert shop.payments() == []


def test_an_app_wide_default_limit_still_applies_to_every_page(
    database_url: str,
) -> None:
    """The limiter skips unlimited pages only while no app-wide limit asks for them."""
    for app in host_app(
        database_url,
        PAYLINKS_RATELIMIT_ENABLED=True,
        PAYLINKS_RATELIMIT_CHECKOUT="3 per minute",
        RATELIMIT_DEFAULT="2 per minute",
    ):
        shop = Shop(app)
        link = shop.link([{"product": shop.product()}])
        client = app.test_client()
        answers = [client.get(f"/pay/{link.slug}").status_code for _ in range(3)]
        assert answers == [200, 200, 429]


def test_without_an_app_wide_limit_pages_are_never_limited(
    limited_app: Flask,
) -> None:
    shop = Shop(limited_app)
    link = shop.link([{"product": shop.product()}])
    client = limited_app.test_client()
    answers = {client.get(f"/pay/{link.slug}").status_code for _ in range(8)}
    assert answers == {200}


def test_refused_codes_are_rate_limited_and_good_ones_are_not(
    limited_app: Flask,
) -> None:
    shop = Shop(limited_app)
    product = shop.product(unit_amount=2500)
    link = shop.link(
        [
            {
                "product": product,
                "adjustable": True,
                "min_quantity": 1,
                "max_quantity": 3,
            }
        ],
        allow_coupons=True,
    )
    shop.coupon(code="SAVE10")
    client = limited_app.test_client()
    url = f"/pay/{link.slug}/quote"
    json = {"Accept": "application/json"}
    for _ in range(5):
        assert (
            client.post(
                url, data=submission(client, link, coupon="SAVE10"), headers=json
            ).status_code
            == 200
        )
    for guess in ("SAVE11", "SAVE12"):
        assert (
            client.post(
                url, data=submission(client, link, coupon=guess), headers=json
            ).status_code
            == 422
        )
    blocked = client.post(
        url, data=submission(client, link, coupon="SAVE13"), headers=json
    )
    assert blocked.status_code == 429
    # Changing a quantity without a code still reprices.
    plain = client.post(
        url, data=submission(client, link, **{f"qty-{product.id}": "2"}), headers=json
    )
    assert plain.status_code == 200
    assert plain.json["pay_label"] == "Pay $50.00"


def test_rate_limits_are_kept_in_redis_when_configured(
    database_url: str, redis_url: str
) -> None:
    for app in host_app(
        database_url,
        PAYLINKS_REDIS_URL=redis_url,
        PAYLINKS_RATELIMIT_ENABLED=True,
        PAYLINKS_RATELIMIT_CHECKOUT="2 per minute",
    ):
        shop = Shop(app)
        link = shop.link([{"product": shop.product()}])
        client = app.test_client()
        data = submission(client, link, name="")
        codes = [
            client.post(f"/pay/{link.slug}", data=data).status_code for _ in range(3)
        ]
        assert codes == [422, 422, 429]
        keys = Redis.from_url(redis_url).keys("*paylinks*checkout*")
        assert keys, "the limiter should count in Redis"


def test_sandbox_refuses_to_start_outside_debug_and_testing(database_url: str) -> None:
    from flask_paylinks import ConfigError

    with pytest.raises(ConfigError, match="PAYLINKS_ALLOW_SANDBOX"):
        crm_a.create_app(database_url, TESTING=False)
    app = crm_a.create_app(database_url, TESTING=False, PAYLINKS_ALLOW_SANDBOX=True)
    assert app.extensions["paylinks"].gateway.test_mode


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            found.add(node.module or "")
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_jobs_import_nothing_from_payments() -> None:
    """The outbox runs the handlers payments registers; it never imports them."""
    jobs = sorted((ROOT / "flask_paylinks" / "jobs").glob("*.py"))
    assert jobs
    for path in jobs:
        payment_imports = [
            name
            for name in _imports(path)
            if name == "flask_paylinks.payments"
            or name.startswith("flask_paylinks.payments.")
        ]
        assert payment_imports == [], path


def test_only_gateways_know_which_gateway_it_is() -> None:
    """Outside gateways/ the gateway is asked (payment_fields, confirm), not named."""
    package = ROOT / "flask_paylinks"
    classes = ("SandboxGateway", "StripeGateway")
    for path in package.rglob("*.py"):
        if path.parent.name == "gateways":
            continue
        imported = _imports(path)
        assert not any(name.endswith(classes) for name in imported), path
