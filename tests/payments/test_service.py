"""The payments service: one payment per attempt, each gateway report applied once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_paylinks import payments
from flask_paylinks.core.errors import InvalidInput
from flask_paylinks.core.pricing import COUPON_REJECTED, Choices, terms_digest
from flask_paylinks.db.models import (
    Coupon,
    GatewayEvent,
    Payment,
    PaymentLink,
    Product,
    utcnow,
)
from flask_paylinks.gateways.base import Outcome, PaymentUpdate, StartedPayment
from flask_paylinks.payments import prices

from ..checkout.conftest import Shop, priced, submission
from ..hosts import crm_a

Heard = Callable[[str], list[dict[str, Any]]]
CUSTOMER = payments.Customer(
    name="Grace Hopper", email="grace@example.com", phone="+14155550100"
)


def start(app: Flask, link: PaymentLink, attempt: str, **choices: Any) -> Payment:
    with app.test_request_context():
        fresh = crm_a.db.session.get(PaymentLink, link.id)
        assert fresh is not None
        checkout = payments.start_checkout(
            fresh, choices=Choices(**choices), customer=CUSTOMER, attempt=attempt
        )
        crm_a.db.session.refresh(checkout.payment)
        crm_a.db.session.expunge(checkout.payment)
        return checkout.payment


def report(app: Flask, payment: Payment, outcome: Outcome, event: str) -> None:
    assert payment.gateway_payment_id
    update = PaymentUpdate(
        event_id=event,
        type=f"payment_intent.{outcome.value}",
        gateway_payment_id=payment.gateway_payment_id,
        outcome=outcome,
        failure_code="card_declined" if outcome is Outcome.FAILED else None,
        failure_message="Your card was declined."
        if outcome is Outcome.FAILED
        else None,
    )
    with app.test_request_context():
        payments.apply_update("sandbox", update)


def events(app: Flask) -> list[GatewayEvent]:
    with app.app_context():
        return list(crm_a.db.session.scalars(crm_a.db.select(GatewayEvent)))


@pytest.fixture
def link(shop: Shop, yoga: Product) -> PaymentLink:
    return shop.link([{"product": yoga}], allow_coupons=True)


def test_the_same_attempt_gives_the_same_payment(
    host_a: Flask, shop: Shop, link: PaymentLink, yoga: Product, received: Heard
) -> None:
    first = start(host_a, link, "attempt-aaaaaaaaaaaa")
    again = start(host_a, link, "attempt-aaaaaaaaaaaa")
    other = start(host_a, link, "attempt-bbbbbbbbbbbb")
    assert first.id == again.id != other.id
    assert first.state == "pending"
    assert first.gateway_payment_id
    assert first.gateway_payment_id == again.gateway_payment_id
    assert len(first.idempotency_key) == 64
    assert first.snapshot["lines"] == [
        {
            "product_id": yoga.id,
            "name": "Yoga class",
            "unit_amount": 2500,
            "quantity": 1,
            "amount": 2500,
            "interval": None,
            "interval_count": None,
        }
    ]
    assert len(shop.payments()) == 2
    assert len(received("checkout_started")) == 2


def test_a_bad_attempt_token_is_refused(
    host_a: Flask, link: PaymentLink, shop: Shop
) -> None:
    with pytest.raises(InvalidInput) as refused:
        start(host_a, link, "short")
    assert list(refused.value.errors) == ["items"]
    with pytest.raises(InvalidInput):
        start(host_a, link, "x" * 30 + "<>")
    assert shop.payments() == []


def test_repeated_success_reports_are_applied_once(
    host_a: Flask, shop: Shop, link: PaymentLink, received: Heard
) -> None:
    coupon = shop.coupon(code="SAVE10", max_redemptions=10)
    payment = start(host_a, link, "attempt-cccccccccccc", coupon_code="save10")
    for _ in range(3):
        report(host_a, payment, Outcome.SUCCEEDED, "evt_1")
    report(host_a, payment, Outcome.SUCCEEDED, "evt_2")  # a second event, same news
    [row] = shop.payments()
    assert row.state == "succeeded"
    assert row.amount_total == 2250
    assert shop.get(Coupon, coupon.id).times_redeemed == 1
    assert len(received("payment_succeeded")) == 1
    assert len(shop.customers()) == 1
    assert sorted(e.event_id for e in events(host_a)) == ["evt_1", "evt_2"]
    assert all(
        e.processed_at is not None and e.payment_id == row.id for e in events(host_a)
    )


def test_success_never_goes_back_to_failed(
    host_a: Flask, shop: Shop, link: PaymentLink, received: Heard
) -> None:
    payment = start(host_a, link, "attempt-dddddddddddd")
    report(host_a, payment, Outcome.SUCCEEDED, "evt_ok")
    report(host_a, payment, Outcome.FAILED, "evt_late_failure")
    [row] = shop.payments()
    assert row.state == "succeeded"
    assert row.failure_code is None
    assert received("payment_failed") == []


def test_failure_then_success_ends_succeeded_and_counts_the_coupon_once(
    host_a: Flask, shop: Shop, link: PaymentLink, received: Heard
) -> None:
    coupon = shop.coupon(code="SAVE10", max_redemptions=1)
    payment = start(host_a, link, "attempt-eeeeeeeeeeee", coupon_code="SAVE10")
    report(host_a, payment, Outcome.FAILED, "evt_fail")
    assert shop.payments()[0].state == "failed"
    report(host_a, payment, Outcome.SUCCEEDED, "evt_ok")
    report(host_a, payment, Outcome.FAILED, "evt_fail")
    [row] = shop.payments()
    assert row.state == "succeeded"
    assert shop.get(Coupon, coupon.id).times_redeemed == 1
    assert len(received("payment_failed")) == 1
    assert len(received("payment_succeeded")) == 1


def test_a_refund_reported_before_the_success(
    host_a: Flask, shop: Shop, link: PaymentLink
) -> None:
    payment = start(host_a, link, "attempt-ffffffffffff")
    report(host_a, payment, Outcome.REFUNDED, "evt_refund")
    report(host_a, payment, Outcome.SUCCEEDED, "evt_ok")
    [row] = shop.payments()
    assert row.state == "refunded"
    assert row.succeeded_at is not None
    assert row.refunded_at is not None
    assert len(shop.customers()) == 1


def test_an_event_for_an_unknown_payment_waits_for_redelivery(
    host_a: Flask, shop: Shop, link: PaymentLink
) -> None:
    update = PaymentUpdate(
        event_id="evt_early",
        type="payment_intent.succeeded",
        gateway_payment_id="sbx_pi_unknown",
        outcome=Outcome.SUCCEEDED,
    )
    with host_a.test_request_context():
        assert payments.apply_update("sandbox", update) is None
    [event] = events(host_a)
    assert event.processed_at is None
    assert event.payment_id is None
    payment = start(host_a, link, "attempt-gggggggggggg")
    with host_a.app_context():
        row = crm_a.db.session.get(Payment, payment.id)
        assert row is not None
        row.gateway_payment_id = "sbx_pi_unknown"
        crm_a.db.session.commit()
    with host_a.test_request_context():
        payments.apply_update("sandbox", update)
    assert shop.payments()[0].state == "succeeded"
    [event] = events(host_a)
    assert event.processed_at is not None


def test_follow_up_is_idempotent(
    host_a: Flask, shop: Shop, link: PaymentLink, received: Heard
) -> None:
    payment = start(host_a, link, "attempt-hhhhhhhhhhhh")
    report(host_a, payment, Outcome.SUCCEEDED, "evt_ok")
    with host_a.app_context():
        assert payments.follow_up_success(payment.id) is False
        assert payments.follow_up_success(payment.id) is False
        assert payments.follow_up_success(999_999) is False
    assert len(received("payment_succeeded")) == 1
    [customer] = shop.customers()
    assert shop.payments()[0].contact_id == str(customer.id)


def test_follow_up_matches_an_existing_contact(
    host_a: Flask, shop: Shop, link: PaymentLink
) -> None:
    with host_a.app_context():
        crm_a.db.session.add(
            crm_a.Customer(
                account_id=1, full_name="G. Hopper", email="GRACE@example.com"
            )
        )
        crm_a.db.session.commit()
    payment = start(host_a, link, "attempt-iiiiiiiiiiii")
    report(host_a, payment, Outcome.SUCCEEDED, "evt_ok")
    [customer] = shop.customers()
    assert customer.full_name == "G. Hopper"
    assert customer.mobile is None  # a stranger never gives a contact a phone
    [paid] = shop.payments()
    assert paid.contact_id == str(customer.id)
    assert paid.contact_changes == {"phone": "+14155550100"}


def test_reconcile_abandons_stale_pending_payments_and_frees_the_coupon(
    host_a: Flask, shop: Shop, link: PaymentLink
) -> None:
    shop.coupon(code="SAVE10", max_redemptions=1)
    stale = start(host_a, link, "attempt-jjjjjjjjjjjj", coupon_code="SAVE10")
    # The coupon's only redemption is held by the pending payment.
    with pytest.raises(InvalidInput) as refused:
        start(host_a, link, "attempt-kkkkkkkkkkkk", coupon_code="SAVE10")
    assert refused.value.errors == {"coupon": COUPON_REJECTED}

    with host_a.app_context():
        row = crm_a.db.session.get(Payment, stale.id)
        assert row is not None
        row.created_at = utcnow() - timedelta(hours=2)
        crm_a.db.session.commit()
    result = host_a.test_cli_runner().invoke(args=["paylinks", "reconcile"])
    assert result.exit_code == 0, result.output
    assert "1 pending payment abandoned." in result.output
    [row] = shop.payments()
    assert (row.state, row.failure_code) == ("failed", "abandoned")
    fresh = start(host_a, link, "attempt-kkkkkkkkkkkk", coupon_code="SAVE10")
    assert fresh.state == "pending"
    again = host_a.test_cli_runner().invoke(
        args=["paylinks", "reconcile", "--older-than", "7200"]
    )
    assert "0 pending payments abandoned." in again.output


def test_paying_prices_the_order_once(
    client: FlaskClient, shop: Shop, link: PaymentLink, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop.coupon(code="SAVE10")
    form = priced(client, link, submission(client, link, coupon="SAVE10"))
    quoted: list[Choices] = []
    real_quote = prices.quote

    def counting_quote(offer: Any, choices: Choices, *rest: Any) -> Any:
        quoted.append(choices)
        return real_quote(offer, choices, *rest)

    monkeypatch.setattr(prices, "quote", counting_quote)
    response = client.post(f"/pay/{link.slug}", data=form)

    assert response.status_code == 303, response.text
    assert len(quoted) == 1
    [payment] = shop.payments()
    assert (payment.state, payment.coupon_code) == ("succeeded", "SAVE10")


def test_pay_answers_each_outcome_with_one_result(
    host_a: Flask, shop: Shop, link: PaymentLink
) -> None:
    with host_a.test_request_context():
        fresh = crm_a.db.session.get(PaymentLink, link.id)
        assert fresh is not None
        terms = payments.price(fresh, Choices())
        command = payments.PayCommand(
            choices=Choices(),
            customer=CUSTOMER,
            attempt="attempt-pay-00000001",
            agreed_terms=terms_digest(terms),
            payment_fields={"number": "4000000000000002"},
        )
        declined = payments.pay(fresh, command)
        assert isinstance(declined, payments.Declined)
        assert declined.message == "Your card was declined."
        assert declined.quote == terms
        assert declined.new_attempt != command.attempt

        again = replace(command, attempt=declined.new_attempt)
        changed = payments.pay(fresh, replace(again, agreed_terms="0" * 32))
        assert changed == payments.TermsChanged(terms)
        refused = payments.pay(fresh, replace(again, form_valid=False))
        assert refused == payments.Refused({}, terms)
        bad_code = payments.pay(
            fresh, replace(again, choices=Choices(coupon_code="NO"))
        )
        assert isinstance(bad_code, payments.Refused)
        assert bad_code.errors == {"coupon": COUPON_REJECTED}

        good_card = {"number": "4242424242424242"}
        paid = payments.pay(fresh, replace(again, payment_fields=good_card))
        assert isinstance(paid, payments.Paid)
        assert paid.slug == link.slug
    assert sorted(
        (p.state, p.reference == paid.reference) for p in shop.payments()
    ) == [
        ("failed", False),
        ("succeeded", True),
    ]


def test_stripe_takes_the_card_in_its_own_widget() -> None:
    from flask_paylinks.gateways.stripe import StripeGateway

    gateway = StripeGateway(secret_key="sk_test_123", publishable_key="pk_test_123")
    posted = {"card-number": "4242424242424242"}
    assert gateway.payment_fields(posted) is None
    assert gateway.confirm(StartedPayment("pi_123"), {"number": "42"}) is None
