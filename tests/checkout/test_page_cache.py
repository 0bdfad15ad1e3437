"""The page cache: a page is served while its link's revision is current.

Two app instances on one database stand for two server processes: each keeps
its own cache, and an edit made through one shows through the other on the
very next request.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, update

from flask_paylinks import MerchantProfile, signals
from flask_paylinks.db.models import (
    Asset,
    LinkItem,
    LinkStatus,
    PaymentLink,
    Product,
    utcnow,
)
from flask_paylinks.web.rendering.page_cache import (
    ATTEMPT_MARK,
    CSRF_MARK,
    NONCE_MARK,
    CachedPage,
    split_marks,
)

from ..hosts import crm_a
from .conftest import Shop, form_of, priced, submission


@pytest.fixture
def processes(database_url: str) -> Iterator[tuple[Flask, Flask]]:
    """Two apps on the test database, as two server processes would be."""
    apps = (crm_a.create_app(database_url), crm_a.create_app(database_url))
    yield apps
    for app in apps:
        with app.app_context():
            crm_a.db.session.remove()
            crm_a.db.engine.dispose()


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    """The SQL statements *app* sends to its database inside the block."""
    seen: list[str] = []
    with app.app_context():
        engine = crm_a.db.engine

    def record(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def edit(app: Flask, change: Callable[[Any], None]) -> None:
    """Make *change* to the ORM session of *app* and commit, as a service does."""
    with app.app_context():
        change(crm_a.db.session)
        crm_a.db.session.commit()


def revision_of(app: Flask, link: PaymentLink) -> int:
    with app.app_context():
        row = crm_a.db.session.get(PaymentLink, link.id)
        assert row is not None
        return row.revision


def nonce_of(response: Any) -> str:
    found = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"])
    assert found is not None
    return found.group(1)


def test_a_cached_page_costs_one_query_and_gets_fresh_tokens(
    processes: tuple[Flask, Flask], shop: Shop, yoga: Product
) -> None:
    web, _ = processes
    web.config["WTF_CSRF_ENABLED"] = True
    link = shop.link([{"product": yoga}])
    client = web.test_client()
    first = client.get(f"/pay/{link.slug}")
    with statements(web) as sent:
        second = client.get(f"/pay/{link.slug}")
    other = web.test_client().get(f"/pay/{link.slug}")
    # Served from the cache: one small query, on the link's revision.
    assert len(sent) == 1
    assert "revision" in sent[0]
    assert "paylinks_links" in sent[0]
    assert "Yoga class" in second.text
    # ... but nonce, attempt and CSRF token are each response's own.
    nonces = [nonce_of(r) for r in (first, second, other)]
    assert len(set(nonces)) == 3
    for response, nonce in zip((first, second, other), nonces, strict=True):
        assert response.status_code == 200
        assert f'<style nonce="{nonce}">' in response.text
        assert "pl-nonce-" not in response.text
        assert "pl-attempt-" not in response.text
        assert "pl-csrf-" not in response.text
    fields = [form_of(r.text) for r in (first, second, other)]
    assert len({f["attempt"] for f in fields}) == 3
    assert all(f["csrf_token"] for f in fields)
    # A cached page's token is good for paying.
    data = priced(client, link, submission(client, link))
    assert client.post(f"/pay/{link.slug}", data=data).status_code == 303


def test_a_product_price_edit_shows_at_once_in_the_other_process(
    processes: tuple[Flask, Flask], shop: Shop, yoga: Product
) -> None:
    web, dashboard = processes
    link = shop.link([{"product": yoga}])
    also = shop.link([{"product": yoga}], name="Another link")
    for slug in (link.slug, also.slug):
        assert "$25.00" in web.test_client().get(f"/pay/{slug}").text
    before = revision_of(dashboard, link), revision_of(dashboard, also)

    def reprice(db: Any) -> None:
        db.get(Product, yoga.id).unit_amount = 3100

    edit(dashboard, reprice)
    # Every link selling the product moved on, in the edit's transaction.
    after = revision_of(dashboard, link), revision_of(dashboard, also)
    assert after == (before[0] + 1, before[1] + 1)
    for slug in (link.slug, also.slug):
        page = web.test_client().get(f"/pay/{slug}").text
        assert "$31.00" in page
        assert "$25.00" not in page


def test_an_item_edit_and_a_link_edit_show_at_once(
    processes: tuple[Flask, Flask], shop: Shop, yoga: Product
) -> None:
    web, dashboard = processes
    link = shop.link([{"product": yoga}])
    client = web.test_client()
    assert "Qty 1" in client.get(f"/pay/{link.slug}").text

    def three(db: Any) -> None:
        item = db.scalars(crm_a.db.select(LinkItem).filter_by(link_id=link.id)).one()
        item.quantity = 3

    edit(dashboard, three)
    assert "Qty 3" in client.get(f"/pay/{link.slug}").text

    def add_item(db: Any) -> None:
        other = Product(
            owner_id="1", name="Mat rental", unit_amount=500, currency="USD"
        )
        row = db.get(PaymentLink, link.id)
        row.items.append(LinkItem(owner_id="1", product=other, position=1))

    edit(dashboard, add_item)
    assert "Mat rental" in client.get(f"/pay/{link.slug}").text

    def drop_item(db: Any) -> None:
        row = db.get(PaymentLink, link.id)
        row.items = [i for i in row.items if i.product.name != "Mat rental"]

    edit(dashboard, drop_item)
    assert "Mat rental" not in client.get(f"/pay/{link.slug}").text

    def recolour(db: Any) -> None:
        db.get(PaymentLink, link.id).brand_color = "#0A7D33"

    edit(dashboard, recolour)
    assert "#0A7D33" in client.get(f"/pay/{link.slug}").text


def test_a_logo_change_shows_at_once(
    processes: tuple[Flask, Flask], shop: Shop, yoga: Product
) -> None:
    web, dashboard = processes
    link = shop.link([{"product": yoga}], logo_url="https://cdn.test/old.png")
    client = web.test_client()
    assert "https://cdn.test/old.png" in client.get(f"/pay/{link.slug}").text

    def new_url(db: Any) -> None:
        db.get(PaymentLink, link.id).logo_url = "https://cdn.test/new.png"

    edit(dashboard, new_url)
    page = client.get(f"/pay/{link.slug}").text
    assert "https://cdn.test/new.png" in page
    assert "old.png" not in page

    def upload(db: Any) -> None:
        asset = Asset(
            owner_id="1", token="tok" * 8, content_type="image/png", data=b"x", size=1
        )
        db.get(PaymentLink, link.id).logo_asset = asset

    edit(dashboard, upload)
    assert f"/pay/assets/{'tok' * 8}" in client.get(f"/pay/{link.slug}").text

    def remove_upload(db: Any) -> None:
        db.delete(db.scalars(crm_a.db.select(Asset)).one())

    edit(dashboard, remove_upload)
    page = client.get(f"/pay/{link.slug}").text
    assert "/pay/assets/" not in page
    assert "https://cdn.test/new.png" in page


def test_a_stopped_or_expired_link_is_never_served_from_the_cache(
    processes: tuple[Flask, Flask], shop: Shop, yoga: Product
) -> None:
    web, dashboard = processes
    stopped = shop.link([{"product": yoga}])
    expiring = shop.link([{"product": yoga}])
    client = web.test_client()
    for link in (stopped, expiring):
        assert client.get(f"/pay/{link.slug}").status_code == 200

    def stop(db: Any) -> None:
        db.get(PaymentLink, stopped.id).status = LinkStatus.INACTIVE

    edit(dashboard, stop)
    assert client.get(f"/pay/{stopped.slug}").status_code == 410
    # Expiry needs no edit: the end date passing is read on every request.
    # (Written around the ORM here, so the revision stays as it was.)
    with dashboard.app_context():
        crm_a.db.session.execute(
            update(PaymentLink)
            .where(PaymentLink.id == expiring.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
            .execution_options(synchronize_session=False)
        )
        crm_a.db.session.commit()
    response = client.get(f"/pay/{expiring.slug}")
    assert response.status_code == 410
    assert "Yoga class" not in response.text


def test_paying_never_trusts_a_cached_page(
    client: FlaskClient, host_a: Flask, shop: Shop, yoga: Product
) -> None:
    link = shop.link([{"product": yoga}])
    data = priced(client, link, submission(client, link))  # the page is cached now
    with host_a.app_context():
        crm_a.db.session.execute(
            update(PaymentLink)
            .where(PaymentLink.id == link.id)
            .values(status=LinkStatus.INACTIVE)
            .execution_options(synchronize_session=False)
        )
        crm_a.db.session.commit()
    crm_a.db.session.expire_all()  # pytest-flask keeps one session around the test
    assert client.post(f"/pay/{link.slug}", data=data).status_code == 410
    assert shop.payments() == []


def test_the_merchant_profile_is_asked_again_after_the_configured_seconds(
    processes: tuple[Flask, Flask],
    shop: Shop,
    yoga: Product,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    web, _ = processes
    link = shop.link([{"product": yoga}])
    client = web.test_client()
    assert "Acme Fitness" in client.get(f"/pay/{link.slug}").text
    monkeypatch.setitem(crm_a.MERCHANTS, "1", MerchantProfile(name="Acme Studios"))
    # Within the seconds, the page keeps the profile it was drawn with ...
    web.config["PAYLINKS_CHECKOUT_CACHE_SECONDS"] = 3600
    assert "Acme Fitness" in client.get(f"/pay/{link.slug}").text
    # ... and once they are over, the hook is asked and the page redrawn.
    web.config["PAYLINKS_CHECKOUT_CACHE_SECONDS"] = 1e-9
    page = client.get(f"/pay/{link.slug}").text
    assert "Acme Studios" in page
    assert "Acme Fitness" not in page


def test_caching_can_be_turned_off(
    processes: tuple[Flask, Flask], shop: Shop, yoga: Product
) -> None:
    web, _ = processes
    web.config["PAYLINKS_CHECKOUT_CACHE_SECONDS"] = 0
    link = shop.link([{"product": yoga}])
    client = web.test_client()
    client.get(f"/pay/{link.slug}")
    with statements(web) as sent:
        assert "Yoga class" in client.get(f"/pay/{link.slug}").text
    # Drawn afresh: the link, with its items and products, in one query.
    assert len(sent) == 1
    assert "paylinks_link_items" in sent[0]
    assert "paylinks_products" in sent[0]
    assert web.extensions["paylinks"].page_cache.holds(link.slug) is False


def test_no_receiver_is_connected_to_the_link_signals_on_import() -> None:
    for signal in (signals.link_updated, signals.link_deactivated):
        owners = {getattr(r, "__module__", "") for r in signal.receivers_for(None)}
        assert not any(name.startswith("flask_paylinks") for name in owners)


def test_a_kept_page_is_cut_at_its_marks_and_filled_per_response(app: Flask) -> None:
    html = (
        f'<style nonce="{NONCE_MARK}"></style><input value="{ATTEMPT_MARK}">'
        f'<input value="{CSRF_MARK}"><script nonce="{NONCE_MARK}"></script>'
    )
    parts = split_marks(html)
    assert "".join(parts) == html
    assert parts[1::2] == (NONCE_MARK, ATTEMPT_MARK, CSRF_MARK, NONCE_MARK)
    page = CachedPage(
        parts,
        link_id=1,
        revision=0,
        merchant=MerchantProfile(name="Acme"),
        merchant_checked=0.0,
        day=utcnow().date(),
    )
    with app.test_request_context("/"):
        filled = page.fill("attempt-1")
    nonces = re.findall(r'nonce="([^"]+)"', filled)
    assert len(nonces) == 2
    assert nonces[0] == nonces[1]
    assert NONCE_MARK not in filled
    assert CSRF_MARK not in filled
    assert '<input value="attempt-1">' in filled
    token = re.search(r'<input value="([^"]+)"><script', filled)
    assert token is not None
    assert len(token.group(1)) > 20
