"""Refunds through the service, on the sandbox gateway: full, partial, once per key."""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from flask_paylinks import signals
from flask_paylinks.core.errors import InvalidInput, NotFound
from flask_paylinks.db.models import GatewayEvent, Payment, Refund
from flask_paylinks.db.session import session
from flask_paylinks.gateways.base import (
    GatewayError,
    GatewayRefused,
    RefundRequest,
    RefundResult,
)
from flask_paylinks.gateways.sandbox import SandboxGateway
from flask_paylinks.payments import refunds

from ..checkout.test_concurrency import all_at_once
from ..factories import make_payment

OWNER = "1"
OTHER = "2"


def key() -> str:
    return secrets.token_hex(16)


@pytest.fixture
def paid(host_a: Flask) -> int:
    """A succeeded $10.00 sandbox payment of owner 1, with its gateway id."""
    with host_a.app_context():
        return make_payment(OWNER, gateway_payment_id="sbx_pi_" + key()).id


@pytest.fixture
def gateway_calls(monkeypatch: pytest.MonkeyPatch) -> list[RefundRequest]:
    """Every refund the sandbox gateway is asked for (it still answers itself)."""
    calls: list[RefundRequest] = []
    real = SandboxGateway.refund

    def counted(self: SandboxGateway, request: RefundRequest) -> RefundResult:
        calls.append(request)
        return real(self, request)

    monkeypatch.setattr(SandboxGateway, "refund", counted)
    return calls


@pytest.fixture
def refunded_signals(host_a: Flask) -> Iterator[list[int]]:
    heard: list[int] = []

    def receiver(sender: Any, payment: Payment, **extra: Any) -> None:
        heard.append(payment.id)

    signals.payment_refunded.connect(receiver, weak=False)
    yield heard
    signals.payment_refunded.disconnect(receiver)


def do_refund(
    app: Flask,
    payment_id: int,
    amount: int | None,
    *,
    reason: str = "requested_by_customer",
    owner: str = OWNER,
    idempotency_key: str | None = None,
) -> Refund:
    with app.app_context():
        row = refunds.refund(
            owner,
            payment_id,
            amount,
            reason,
            "asked by phone",
            idempotency_key or key(),
        )
        session().expunge(row)
        return row


def payment_of(app: Flask, payment_id: int) -> Payment:
    with app.app_context():
        row = session().get(Payment, payment_id)
        assert row is not None
        session().expunge(row)
        return row


def test_a_full_refund_refunds_the_payment_and_signals_once(
    host_a: Flask,
    paid: int,
    gateway_calls: list[RefundRequest],
    refunded_signals: list[int],
) -> None:
    row = do_refund(host_a, paid, 1000)
    assert (row.state, row.amount, row.currency) == ("succeeded", 1000, "USD")
    assert row.gateway_refund_id
    assert row.gateway_refund_id.startswith("sbx_re_")
    assert (row.reason, row.note) == ("requested_by_customer", "asked by phone")
    payment = payment_of(host_a, paid)
    assert (payment.state, payment.amount_refunded) == ("refunded", 1000)
    assert payment.refunded_at is not None
    assert refunded_signals == [paid]
    assert [(c.amount, c.currency, c.reason) for c in gateway_calls] == [
        (1000, "USD", "requested_by_customer")
    ]
    assert gateway_calls[0].idempotency_key == row.idempotency_key
    with pytest.raises(InvalidInput) as refused:
        do_refund(host_a, paid, 1)
    assert set(refused.value.errors) == {"amount"}


def test_partial_refunds_add_up_and_the_last_one_refunds(
    host_a: Flask, paid: int, refunded_signals: list[int]
) -> None:
    do_refund(host_a, paid, 300, reason="duplicate")
    payment = payment_of(host_a, paid)
    assert (payment.state, payment.amount_refunded) == ("succeeded", 300)
    assert payment.refundable.amount == 700
    assert refunded_signals == []
    do_refund(host_a, paid, 700)
    payment = payment_of(host_a, paid)
    assert (payment.state, payment.amount_refunded) == ("refunded", 1000)
    assert refunded_signals == [paid]
    with host_a.app_context():
        listed = refunds.refunds_of(OWNER, paid)
        assert [(r.amount, r.state) for r in listed] == [
            (300, "succeeded"),
            (700, "succeeded"),
        ]


def test_more_than_is_left_bad_amounts_and_reasons_are_refused(
    host_a: Flask, paid: int, gateway_calls: list[RefundRequest]
) -> None:
    do_refund(host_a, paid, 600)
    for amount in (401, 0, -5, None):
        with pytest.raises(InvalidInput) as refused:
            do_refund(host_a, paid, amount)
        assert set(refused.value.errors) == {"amount"}, amount
    with pytest.raises(InvalidInput) as refused:
        do_refund(host_a, paid, 401)
    assert refused.value.errors["amount"] == "At most $4.00 is left to refund."
    with pytest.raises(InvalidInput) as refused:
        do_refund(host_a, paid, 100, reason="changed my mind")
    assert set(refused.value.errors) == {"reason"}
    assert len(gateway_calls) == 1
    assert payment_of(host_a, paid).amount_refunded == 600


def test_unpaid_payments_are_not_refunded(host_a: Flask) -> None:
    with host_a.app_context():
        pending = make_payment(OWNER, state="pending", gateway_payment_id="sbx_p").id
        failed = make_payment(OWNER, state="failed", gateway_payment_id="sbx_f").id
    for payment_id in (pending, failed):
        with pytest.raises(InvalidInput) as refused:
            do_refund(host_a, payment_id, 100)
        assert set(refused.value.errors) == {"amount"}


def test_another_owners_payment_is_not_found(
    host_a: Flask, paid: int, gateway_calls: list[RefundRequest]
) -> None:
    for payment_id in (paid, 10**9, "x"):
        with pytest.raises(NotFound):
            do_refund(host_a, payment_id, 100, owner=OTHER)  # type: ignore[arg-type]
    first = do_refund(host_a, paid, 100)
    with pytest.raises(NotFound):  # nor can another owner replay its key
        do_refund(host_a, paid, 100, owner=OTHER, idempotency_key=first.idempotency_key)
    assert len(gateway_calls) == 1
    assert payment_of(host_a, paid).amount_refunded == 100


def test_the_same_key_twice_makes_one_refund_and_one_gateway_call(
    host_a: Flask, paid: int, gateway_calls: list[RefundRequest]
) -> None:
    once = key()
    first = do_refund(host_a, paid, 250, idempotency_key=once)
    again = do_refund(host_a, paid, 250, idempotency_key=once)
    assert again.id == first.id
    assert len(gateway_calls) == 1
    assert payment_of(host_a, paid).amount_refunded == 250
    with host_a.app_context():
        assert len(refunds.refunds_of(OWNER, paid)) == 1


def test_the_same_key_at_once_makes_one_refund(
    host_a: Flask, paid: int, gateway_calls: list[RefundRequest]
) -> None:
    once = key()
    rows = all_at_once(4, lambda _: do_refund(host_a, paid, 250, idempotency_key=once))
    assert len({r.id for r in rows}) == 1
    assert len(gateway_calls) == 1
    assert payment_of(host_a, paid).amount_refunded == 250


def test_two_refunds_of_what_is_left_at_once_one_goes_through(
    host_a: Flask,
    paid: int,
    gateway_calls: list[RefundRequest],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    do_refund(host_a, paid, 400)
    # Both requests pass the first check before either claims: only the
    # conditional UPDATE stands between them and refunding 1,600 of 1,000.
    checked = threading.Barrier(2)
    first_check = refunds._check

    def check_then_wait(*args: Any) -> None:
        first_check(*args)
        if threading.current_thread() is not threading.main_thread():
            with contextlib.suppress(threading.BrokenBarrierError):
                checked.wait(timeout=5)

    monkeypatch.setattr(refunds, "_check", check_then_wait)

    def attempt(_: int) -> str:
        try:
            return do_refund(host_a, paid, 600).state
        except InvalidInput as refused:
            return "refused: " + refused.errors["amount"]

    outcomes = all_at_once(2, attempt)
    assert sorted(o.split(":")[0] for o in outcomes) == ["refused", "succeeded"]
    payment = payment_of(host_a, paid)
    assert (payment.state, payment.amount_refunded) == ("refunded", 1000)
    assert len(gateway_calls) == 2


def test_a_gateway_refusal_gives_the_amount_back(
    host_a: Flask, paid: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuses(self: SandboxGateway, request: RefundRequest) -> RefundResult:
        raise GatewayRefused("The payment service refused the refund.")

    monkeypatch.setattr(SandboxGateway, "refund", refuses)
    row = do_refund(host_a, paid, 1000)
    assert (row.state, row.failure_message) == (
        "failed",
        "The payment service refused the refund.",
    )
    payment = payment_of(host_a, paid)
    assert (payment.state, payment.amount_refunded) == ("succeeded", 0)
    monkeypatch.undo()
    assert do_refund(host_a, paid, 1000).state == "succeeded"
    with host_a.app_context():
        states = [r.state for r in refunds.refunds_of(OWNER, paid)]
        assert states == ["failed", "succeeded"]
        events = session().query(GatewayEvent).filter_by(payment_id=paid).count()
        assert events == 1  # the full refund's move, applied once


def test_an_unanswered_gateway_keeps_the_claim_until_asked_again(
    host_a: Flask, paid: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It may have refunded: nothing is given back for a second form to take."""

    def down(self: SandboxGateway, request: RefundRequest) -> RefundResult:
        raise GatewayError("The payment service did not answer.")

    monkeypatch.setattr(SandboxGateway, "refund", down)
    row = do_refund(host_a, paid, 1000)
    assert row.state == "pending"
    payment = payment_of(host_a, paid)
    assert (payment.state, payment.amount_refunded) == ("succeeded", 1000)
    monkeypatch.undo()
    with host_a.app_context():
        pending = session().get(Refund, row.id)
        assert pending is not None
        assert refunds.settle_pending(pending).state == "succeeded"
        states = [r.state for r in refunds.refunds_of(OWNER, paid)]
        assert states == ["succeeded"]
    assert payment_of(host_a, paid).state == "refunded"
