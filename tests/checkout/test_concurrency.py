"""Concurrent checkouts on PostgreSQL: coupon limits, double submits, duplicates."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from flask import Flask

from flask_paylinks import payments
from flask_paylinks.core.pricing import Choices
from flask_paylinks.db.models import Coupon, GatewayEvent, Product
from flask_paylinks.gateways.base import Outcome, PaymentUpdate

from ..hosts import crm_a
from .conftest import Shop, priced, submission

pytestmark = pytest.mark.postgresql
T = TypeVar("T")


def all_at_once(count: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(i)`` in *count* threads released together."""
    gate = threading.Barrier(count)

    def run(index: int) -> T:
        gate.wait()
        return work(index)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_database_is_postgresql(host_a: Flask) -> None:
    with host_a.app_context():
        assert crm_a.db.engine.dialect.name == "postgresql"


def test_a_coupon_is_never_redeemed_beyond_its_limit(
    host_a: Flask, shop: Shop, yoga: Product
) -> None:
    link = shop.link([{"product": yoga}], allow_coupons=True)
    coupon = shop.coupon(code="SAVE10", max_redemptions=3)
    count = 12
    clients = [host_a.test_client() for _ in range(count)]
    # Every page was quoted while the code was still free.
    forms = [priced(c, link, submission(c, link, coupon="SAVE10")) for c in clients]

    def pay(index: int) -> int:
        return clients[index].post(f"/pay/{link.slug}", data=forms[index]).status_code

    codes = all_at_once(count, pay)
    assert sorted(codes) == [303] * 3 + [422] * (count - 3)
    assert shop.get(Coupon, coupon.id).times_redeemed == 3
    paid = shop.payments(state="succeeded")
    assert len(paid) == 3
    assert all(p.coupon_id == coupon.id and p.amount_discount == 250 for p in paid)
    assert len(shop.payments()) == 3  # the refused ones recorded nothing


def test_a_double_submit_in_flight_makes_one_payment(
    host_a: Flask, shop: Shop, yoga: Product
) -> None:
    link = shop.link([{"product": yoga}])
    client = host_a.test_client()
    form = priced(client, link, submission(client, link))
    codes = all_at_once(
        8,
        lambda _: host_a.test_client().post(f"/pay/{link.slug}", data=form).status_code,
    )
    assert codes == [303] * 8
    [payment] = shop.payments()
    assert payment.state == "succeeded"
    assert len(shop.customers()) == 1


def test_one_event_delivered_many_times_at_once_is_applied_once(
    host_a: Flask, shop: Shop, yoga: Product
) -> None:
    link = shop.link([{"product": yoga}], allow_coupons=True)
    coupon = shop.coupon(code="SAVE10", max_redemptions=100)
    with host_a.test_request_context():
        fresh = crm_a.db.session.get(type(link), link.id)
        assert fresh is not None
        checkout = payments.start_checkout(
            fresh,
            choices=Choices(coupon_code="SAVE10"),
            customer=payments.Customer(name="Kat", email="kat@example.com"),
            attempt="concurrent-attempt-0001",
        )
        gateway_id = checkout.payment.gateway_payment_id
    assert gateway_id
    update = PaymentUpdate(
        event_id="evt_dup",
        type="payment_intent.succeeded",
        gateway_payment_id=gateway_id,
        outcome=Outcome.SUCCEEDED,
    )

    def deliver(_: int) -> Any:
        with host_a.test_request_context():
            return payments.apply_update("sandbox", update) is not None

    assert all(all_at_once(10, deliver))
    assert shop.get(Coupon, coupon.id).times_redeemed == 1
    with host_a.app_context():
        assert len(crm_a.db.session.scalars(crm_a.db.select(GatewayEvent)).all()) == 1
    assert len(shop.customers()) == 1
    assert shop.payments()[0].state == "succeeded"
