"""The page cache: the same page for a few seconds, never the same tokens."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_paylinks import signals
from flask_paylinks.db.models import LinkStatus, PaymentLink, Product

from ..hosts import crm_a
from .conftest import Shop, form_of, priced, submission


@pytest.fixture
def csrf_client(host_a: Flask) -> Iterator[FlaskClient]:
    host_a.config["WTF_CSRF_ENABLED"] = True
    with host_a.test_client() as client:
        yield client


def rename_product(app: Flask, product: Product, name: str) -> None:
    """Change a product behind the checkout's back (no signal)."""
    with app.app_context():
        row = crm_a.db.session.get(Product, product.id)
        assert row is not None
        row.name = name
        crm_a.db.session.commit()
    # pytest-flask keeps one app context (and session) around the whole test;
    # a real request starts with a fresh one.
    crm_a.db.session.expire_all()


def test_a_cached_page_gets_fresh_tokens_every_time(
    csrf_client: FlaskClient, host_a: Flask, shop: Shop, yoga: Product
) -> None:
    link = shop.link([{"product": yoga}])
    first = csrf_client.get(f"/pay/{link.slug}")
    rename_product(host_a, yoga, "Renamed yoga")
    second = csrf_client.get(f"/pay/{link.slug}")
    other = host_a.test_client().get(f"/pay/{link.slug}")
    # Served from the cache: the rename is not visible yet ...
    assert "Yoga class" in second.text
    assert "Renamed yoga" not in second.text
    # ... but nonce, attempt and CSRF token are each response's own.
    nonces = [
        re.search(r"'nonce-([^']+)'", r.headers["Content-Security-Policy"]).group(1)  # type: ignore[union-attr]
        for r in (first, second, other)
    ]
    assert len(set(nonces)) == 3
    for response, nonce in zip((first, second, other), nonces, strict=True):
        assert f'<style nonce="{nonce}">' in response.text
        assert "pl-nonce-" not in response.text
        assert "pl-attempt-" not in response.text
        assert "pl-csrf-" not in response.text
    fields = [form_of(r.text) for r in (first, second, other)]
    assert len({f["attempt"] for f in fields}) == 3
    assert all(f["csrf_token"] for f in fields)
    # A cached page's token is good for paying.
    data = priced(csrf_client, link, submission(csrf_client, link))
    assert csrf_client.post(f"/pay/{link.slug}", data=data).status_code == 303


def test_link_signals_drop_the_cached_page(
    client: FlaskClient, host_a: Flask, shop: Shop, yoga: Product
) -> None:
    link = shop.link([{"product": yoga}])
    client.get(f"/pay/{link.slug}")
    rename_product(host_a, yoga, "Renamed yoga")
    with host_a.app_context():
        signals.link_updated.send(
            host_a, link=crm_a.db.session.get(PaymentLink, link.id)
        )
    assert "Renamed yoga" in client.get(f"/pay/{link.slug}").text

    with host_a.app_context():
        row = crm_a.db.session.get(PaymentLink, link.id)
        assert row is not None
        row.status = LinkStatus.INACTIVE
        crm_a.db.session.commit()
        signals.link_deactivated.send(host_a, link=row)
    crm_a.db.session.expire_all()  # as in rename_product
    assert client.get(f"/pay/{link.slug}").status_code == 410


def test_paying_never_trusts_a_cached_page(
    client: FlaskClient, host_a: Flask, shop: Shop, yoga: Product
) -> None:
    link = shop.link([{"product": yoga}])
    data = priced(client, link, submission(client, link))  # the page is cached now
    with host_a.app_context():
        row = crm_a.db.session.get(PaymentLink, link.id)
        assert row is not None
        row.status = LinkStatus.INACTIVE  # no signal: the cache still has the page
        crm_a.db.session.commit()
    # A real request starts with a fresh session (see rename_product).
    crm_a.db.session.expire_all()
    assert client.get(f"/pay/{link.slug}").status_code == 200
    assert client.post(f"/pay/{link.slug}", data=data).status_code == 410
    assert shop.payments() == []


def test_caching_can_be_turned_off(
    client: FlaskClient, host_a: Flask, shop: Shop, yoga: Product
) -> None:
    host_a.config["PAYLINKS_CHECKOUT_CACHE_SECONDS"] = 0
    link = shop.link([{"product": yoga}])
    client.get(f"/pay/{link.slug}")
    rename_product(host_a, yoga, "Renamed yoga")
    assert "Renamed yoga" in client.get(f"/pay/{link.slug}").text
