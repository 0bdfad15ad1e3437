"""What a hostile or unlucky customer must never get: another contact's identity,
a charge on terms they did not see, a used single-use link, a used-up coupon,
or an error page for a payment that went through.

The concurrency cases send real concurrent HTTP requests to a served app; like
the rest of the suite they run on SQLite, and on PostgreSQL with
``--db=postgresql``.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from flask_paylinks import payments, signals
from flask_paylinks.core.pricing import Choices, terms_digest
from flask_paylinks.db.models import Coupon, OutboxItem, PaymentLink, Product, utcnow

from ..browser import LiveServer, live_server
from ..hosts import crm_a
from .conftest import DECLINED_CARD, OWNER, Shop, priced, submission
from .test_concurrency import all_at_once


def http_post(server: LiveServer, path: str, data: dict[str, str]) -> tuple[int, str]:
    """POST *data* to the served app over a real socket; (status, body)."""
    body = urllib.parse.urlencode(data).encode()
    assert server.url.startswith("http://127.0.0.1:")
    request = urllib.request.Request(  # noqa: S310 (a local http URL)
        server.url + path, data=body, method="POST"
    )
    opener = urllib.request.build_opener(_NoRedirect())
    try:
        with opener.open(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@pytest.fixture
def served(host_a: Flask) -> Iterator[LiveServer]:
    """Host A served on a free port by a threaded server."""
    with live_server(host_a) as server:
        yield server


def customer(host_a: Flask, **values: Any) -> int:
    with host_a.app_context():
        row = crm_a.Customer(account_id=int(OWNER), **values)
        crm_a.db.session.add(row)
        crm_a.db.session.commit()
        return int(row.id)


def customer_row(host_a: Flask, customer_id: int) -> crm_a.Customer:
    with host_a.app_context():
        row = crm_a.db.session.get(crm_a.Customer, customer_id)
        assert row is not None
        crm_a.db.session.expunge(row)
        return row


def due_now(app: Flask) -> None:
    """Let the back-off of every rescheduled follow-up pass."""
    with app.app_context():
        crm_a.db.session.execute(
            update(OutboxItem)
            .where(OutboxItem.state == "pending")
            .values(run_after=utcnow() - timedelta(seconds=1))
        )
        crm_a.db.session.commit()


# -- 1. an anonymous checkout never overwrites the CRM --------------------------


def test_an_anonymous_payer_cannot_change_an_existing_contact(
    host_a: Flask, shop: Shop, yoga: Product
) -> None:
    ada = customer(
        host_a,
        full_name="Ada Lovelace",
        email="ada@example.com",
        mobile="+14155550101",
        street="1 Main St",
        city="Springfield",
        zip="12345",
        country="US",
    )
    link = shop.link([{"product": yoga}], require_phone=True, collect_address=True)
    client = host_a.test_client()
    data = priced(
        client,
        link,
        submission(
            client,
            link,
            name="Mallory",
            email="ADA@Example.COM",
            phone="(415) 555-2671",
            line1="66 Attacker Way",
            city="Elsewhere",
            postal_code="99999",
            country="US",
        ),
    )
    assert client.post(f"/pay/{link.slug}", data=data).status_code == 303

    row = customer_row(host_a, ada)
    assert (row.full_name, row.mobile, row.street, row.city, row.zip) == (
        "Ada Lovelace",
        "+14155550101",
        "1 Main St",
        "Springfield",
        "12345",
    )
    [payment] = shop.payments()
    assert payment.contact_id == str(ada)
    assert payment.contact_changes is not None
    assert payment.contact_changes["phone"] == "+14155552671"
    assert payment.contact_changes["address"]["line1"] == "66 Attacker Way"
    assert len(shop.customers()) == 1


def test_a_new_payer_becomes_a_contact_and_a_known_one_only_gets_an_address(
    host_a: Flask, shop: Shop, yoga: Product
) -> None:
    grace = customer(host_a, full_name="Grace Hopper", email="grace@example.com")
    link = shop.link([{"product": yoga}], require_phone=True, collect_address=True)
    client = host_a.test_client()
    for email, phone in (
        ("grace@example.com", "(415) 555-2671"),
        ("new@example.com", "(415) 555-0142"),
    ):
        data = priced(client, link, submission(client, link, email=email, phone=phone))
        assert client.post(f"/pay/{link.slug}", data=data).status_code == 303
    row = customer_row(host_a, grace)
    # Her empty address is filled; her empty phone is not: messages go there.
    assert (row.full_name, row.mobile, row.street) == (
        "Grace Hopper",
        None,
        "12 Analytical Row",
    )
    graces, news = shop.payments()
    assert graces.contact_changes == {"phone": "+14155552671"}
    new = [c for c in shop.customers() if c.email == "new@example.com"]
    assert len(new) == 1
    assert (new[0].mobile, new[0].street) == ("+14155550142", "12 Analytical Row")
    assert news.contact_changes is None


def test_a_partial_address_is_never_completed_by_a_stranger(
    host_a: Flask, shop: Shop, yoga: Product
) -> None:
    victim = customer(
        host_a,
        full_name="Victim",
        email="victim@example.com",
        street="1 Real St",
        city="Springfield",
    )
    link = shop.link([{"product": yoga}], require_phone=True, collect_address=True)
    client = host_a.test_client()
    data = priced(
        client,
        link,
        submission(
            client,
            link,
            email="VICTIM@example.com",
            line1="1 Real St",
            city="Springfield",
            postal_code="66666",
            country="GB",
        ),
    )
    assert client.post(f"/pay/{link.slug}", data=data).status_code == 303
    row = customer_row(host_a, victim)
    assert (row.mobile, row.street, row.zip, row.country) == (
        None,
        "1 Real St",
        None,
        None,
    )
    [payment] = shop.payments()
    assert payment.contact_changes == {"phone": "+14155552671"}


def _login_client(host_a: Flask) -> FlaskClient:
    with host_a.app_context():
        user = crm_a.User(account_id=int(OWNER), email="owner@example.com")
        crm_a.db.session.add(user)
        crm_a.db.session.commit()
        user_id = user.id
    client = host_a.test_client()
    assert client.get(f"/login/{user_id}").status_code == 200
    return client


def _csrf(html: str) -> str:
    marker = 'name="csrf_token" type="hidden" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def test_the_merchant_sees_the_difference_and_applies_it_with_one_click(
    host_a: Flask, shop: Shop, yoga: Product
) -> None:
    ada = customer(
        host_a, full_name="Ada Lovelace", email="ada@example.com", mobile="+14155550101"
    )
    link = shop.link([{"product": yoga}], require_phone=True)
    payer = host_a.test_client()
    data = priced(payer, link, submission(payer, link, email="ada@example.com"))
    assert payer.post(f"/pay/{link.slug}", data=data).status_code == 303
    [payment] = shop.payments()

    host_a.config["WTF_CSRF_ENABLED"] = True
    merchant = _login_client(host_a)
    page = merchant.get(f"/paylinks/links/{link.id}")
    assert page.status_code == 200
    assert "Entered a different phone: <strong>+14155552671</strong>" in page.text
    apply_url = f"/paylinks/payments/{payment.id}/contact-changes/apply"
    assert apply_url in page.text

    # Without the CSRF token nothing changes.
    assert merchant.post(apply_url).status_code == 400
    assert customer_row(host_a, ada).mobile == "+14155550101"

    response = merchant.post(apply_url, data={"csrf_token": _csrf(page.text)})
    assert response.status_code == 302
    assert customer_row(host_a, ada).mobile == "+14155552671"
    assert shop.payments()[0].contact_changes is None
    assert (
        "Entered a different phone"
        not in merchant.get(f"/paylinks/links/{link.id}").text
    )


def test_another_merchant_cannot_apply_or_dismiss_the_changes(
    host_a: Flask, shop: Shop, yoga: Product
) -> None:
    customer(host_a, full_name="Ada", email="ada@example.com", mobile="+14155550101")
    link = shop.link([{"product": yoga}], require_phone=True)
    payer = host_a.test_client()
    data = priced(payer, link, submission(payer, link, email="ada@example.com"))
    assert payer.post(f"/pay/{link.slug}", data=data).status_code == 303
    [payment] = shop.payments()
    with host_a.app_context():
        other = crm_a.User(account_id=2, email="other@example.com")
        crm_a.db.session.add(other)
        crm_a.db.session.commit()
        other_id = other.id
    intruder = host_a.test_client()
    intruder.get(f"/login/{other_id}")
    for action in ("apply", "dismiss"):
        url = f"/paylinks/payments/{payment.id}/contact-changes/{action}"
        assert intruder.post(url).status_code == 404
    assert shop.payments()[0].contact_changes is not None


# -- 2. charged only on the terms the page showed -------------------------------


def test_a_currency_change_after_the_page_loaded_is_asked_again(
    host_a: Flask, shop: Shop, yoga: Product
) -> None:
    link = shop.link([{"product": yoga}])
    client = host_a.test_client()
    data = priced(client, link, submission(client, link))
    with host_a.app_context():  # the merchant switches to euros, same number
        crm_a.db.session.get(Product, yoga.id).currency = "EUR"
        crm_a.db.session.get(PaymentLink, link.id).currency = "EUR"
        crm_a.db.session.commit()
    response = client.post(f"/pay/{link.slug}", data=data)
    assert response.status_code == 409
    assert "This order changed since you opened the page" in response.text
    assert "€25.00" in response.text
    assert shop.payments() == []

    again = {**data, **priced(client, link, submission(client, link))}
    assert client.post(f"/pay/{link.slug}", data=again).status_code == 303
    [payment] = shop.payments()
    assert (payment.currency, payment.amount_total) == ("EUR", 2500)


def test_an_interval_change_after_the_page_loaded_is_asked_again(
    host_a: Flask, shop: Shop
) -> None:
    plan = shop.product(
        name="Membership", kind="recurring", interval="month", unit_amount=4900
    )
    link = shop.link([{"product": plan}])
    client = host_a.test_client()
    data = priced(client, link, submission(client, link))
    with host_a.app_context():  # monthly becomes daily at the same price
        crm_a.db.session.get(Product, plan.id).interval = "day"
        crm_a.db.session.commit()
    response = client.post(f"/pay/{link.slug}", data=data)
    assert response.status_code == 409
    assert "then $49.00 / day" in response.text
    assert shop.payments() == []


def test_terms_that_change_between_pricing_and_starting_charge_nothing(
    host_a: Flask, shop: Shop, yoga: Product
) -> None:
    link = shop.link([{"product": yoga}])
    with host_a.test_request_context():
        stored = crm_a.db.session.get(PaymentLink, link.id)
        quoted = payments.price(stored, Choices())
        crm_a.db.session.get(Product, yoga.id).unit_amount = 2600
        crm_a.db.session.commit()
        with pytest.raises(payments.NewTerms) as changed:
            payments.start_checkout(
                crm_a.db.session.get(PaymentLink, link.id),
                choices=Choices(),
                customer=payments.Customer(name="Ada", email="ada@example.com"),
                attempt=payments.new_attempt(),
                agreed_terms=terms_digest(quoted),
            )
        assert changed.value.quote.total == 2600
    assert shop.payments() == []


# -- 3. a single-use link takes one payment --------------------------------------


def test_a_single_use_link_takes_one_payment_from_concurrent_customers(
    host_a: Flask, shop: Shop, yoga: Product, served: LiveServer
) -> None:
    link = shop.link([{"product": yoga}], single_use=True)
    count = 10
    forms = []
    for _ in range(count):
        client = host_a.test_client()
        forms.append(priced(client, link, submission(client, link)))

    answers = all_at_once(
        count, lambda i: http_post(served, f"/pay/{link.slug}", forms[i])
    )
    codes = sorted(code for code, _ in answers)
    assert codes.count(303) == 1, codes
    assert set(codes) <= {303, 409, 410}, codes
    refused = [body for code, body in answers if code == 409]
    assert all(
        "already been paid" in body or "paying this link right now" in body
        for body in refused
    )
    assert [p.state for p in shop.payments()] == ["succeeded"]
    stored = shop.get(PaymentLink, link.id)
    assert (stored.status, stored.claims) == ("inactive", 1)


def test_a_declined_payment_gives_a_single_use_link_back(
    host_a: Flask, shop: Shop, yoga: Product
) -> None:
    link = shop.link([{"product": yoga}], single_use=True)
    client = host_a.test_client()
    declined = priced(
        client, link, submission(client, link, **{"card-number": DECLINED_CARD})
    )
    assert client.post(f"/pay/{link.slug}", data=declined).status_code == 402
    assert shop.get(PaymentLink, link.id).claims == 0
    other = host_a.test_client()
    data = priced(other, link, submission(other, link))
    assert other.post(f"/pay/{link.slug}", data=data).status_code == 303
    assert sorted(p.state for p in shop.payments()) == ["failed", "succeeded"]


def test_an_abandoned_checkout_frees_a_single_use_link(
    host_a: Flask, shop: Shop, yoga: Product
) -> None:
    link = shop.link([{"product": yoga}], single_use=True)
    with host_a.test_request_context():
        payments.start_checkout(
            crm_a.db.session.get(PaymentLink, link.id),
            choices=Choices(),
            customer=payments.Customer(name="Gone", email="gone@example.com"),
            attempt=payments.new_attempt(),
            now=utcnow() - timedelta(hours=2),
        )
    client = host_a.test_client()
    data = priced(client, link, submission(client, link))
    assert client.post(f"/pay/{link.slug}", data=data).status_code == 303
    states = {p.customer_email: (p.state, p.failure_code) for p in shop.payments()}
    assert states == {
        "gone@example.com": ("failed", "abandoned"),
        "ada@example.com": ("succeeded", None),
    }


def test_a_second_payer_while_the_first_is_paying_is_told_so(
    host_a: Flask, shop: Shop, yoga: Product
) -> None:
    link = shop.link([{"product": yoga}], single_use=True)
    with host_a.test_request_context():
        payments.start_checkout(
            crm_a.db.session.get(PaymentLink, link.id),
            choices=Choices(),
            customer=payments.Customer(name="First", email="first@example.com"),
            attempt=payments.new_attempt(),
        )
    client = host_a.test_client()
    data = priced(client, link, submission(client, link))
    response = client.post(f"/pay/{link.slug}", data=data)
    assert response.status_code == 409
    assert "Someone is paying this link right now" in response.text
    assert "You have not been charged" in response.text
    assert [p.customer_email for p in shop.payments()] == ["first@example.com"]


# -- 4. a coupon's cap holds under concurrency on every database ------------------


def test_a_coupon_cap_holds_for_concurrent_payers(
    host_a: Flask, shop: Shop, yoga: Product, served: LiveServer
) -> None:
    link = shop.link([{"product": yoga}], allow_coupons=True)
    coupon = shop.coupon(code="SAVE10", max_redemptions=2)
    count = 20
    forms = []
    for _ in range(count):
        client = host_a.test_client()
        forms.append(priced(client, link, submission(client, link, coupon="save10")))

    answers = all_at_once(
        count, lambda i: http_post(served, f"/pay/{link.slug}", forms[i])
    )
    codes = sorted(code for code, _ in answers)
    assert codes == [303] * 2 + [422] * (count - 2), codes
    assert all("This code is not valid." in b for c, b in answers if c == 422)
    stored = shop.get(Coupon, coupon.id)
    assert (stored.times_redeemed, stored.times_claimed) == (2, 2)
    paid = shop.payments(state="succeeded")
    assert len(paid) == 2
    assert all(p.amount_discount == 250 for p in paid)
    assert len(shop.payments()) == 2


def test_a_declined_payment_gives_its_coupon_redemption_back(
    host_a: Flask, shop: Shop, yoga: Product
) -> None:
    link = shop.link([{"product": yoga}], allow_coupons=True)
    coupon = shop.coupon(code="SAVE10", max_redemptions=1)
    client = host_a.test_client()
    declined = priced(
        client,
        link,
        submission(client, link, coupon="SAVE10", **{"card-number": DECLINED_CARD}),
    )
    assert client.post(f"/pay/{link.slug}", data=declined).status_code == 402
    assert shop.get(Coupon, coupon.id).times_claimed == 0
    other = host_a.test_client()
    data = priced(other, link, submission(other, link, coupon="SAVE10"))
    assert other.post(f"/pay/{link.slug}", data=data).status_code == 303
    stored = shop.get(Coupon, coupon.id)
    assert (stored.times_redeemed, stored.times_claimed) == (1, 1)


# -- 5. nothing after the money moved turns into an error --------------------------


def test_a_raising_receiver_never_shows_the_customer_an_error(
    host_a: Flask, shop: Shop, yoga: Product, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    def broken(sender: Any, payment: Any, **extra: Any) -> None:
        calls.append(payment.reference)
        raise RuntimeError("the host's automation is broken")

    link = shop.link([{"product": yoga}])
    client = host_a.test_client()
    data = priced(client, link, submission(client, link))
    signals.payment_succeeded.connect(broken, host_a)
    try:
        with caplog.at_level(logging.ERROR):
            response = client.post(f"/pay/{link.slug}", data=data)
            assert response.status_code == 303
            receipt = client.get(response.headers["Location"])
            # Pressing Pay again (a reload of the POST) finds the same payment.
            assert client.post(f"/pay/{link.slug}", data=data).status_code == 303
    finally:
        signals.payment_succeeded.disconnect(broken, host_a)
    assert receipt.status_code == 200
    [payment] = shop.payments()
    assert payment.reference in receipt.text
    assert payment.state == "succeeded"
    assert payment.contact_id is not None  # the contact link is kept
    assert payment.followed_up_at is None  # ... and the signal is owed
    assert calls == [payment.reference]
    assert "the host's automation is broken" in caplog.text

    # `flask paylinks reconcile` runs the follow-up again, now that it works.
    heard: list[str] = []

    def fixed(sender: Any, payment: Any, **extra: Any) -> None:
        heard.append(payment.reference)

    due_now(host_a)  # its back-off has passed
    signals.payment_succeeded.connect(fixed, host_a)
    try:
        result = host_a.test_cli_runner().invoke(args=["paylinks", "reconcile"])
    finally:
        signals.payment_succeeded.disconnect(fixed, host_a)
    assert result.exit_code == 0, result.output
    assert "1 follow-up handed out again" in result.output
    assert heard == [payment.reference]
    assert shop.payments()[0].followed_up_at is not None


def test_what_a_receiver_writes_commits_with_the_follow_up(
    host_a: Flask, shop: Shop, yoga: Product
) -> None:
    def tag_payer(sender: Any, payment: Any, contact: Any, **extra: Any) -> None:
        crm_a.db.session.add(
            crm_a.Tag(
                account_id=int(payment.owner_id), name=f"paid {payment.reference}"
            )
        )

    link = shop.link([{"product": yoga}])
    client = host_a.test_client()
    data = priced(client, link, submission(client, link))
    signals.payment_succeeded.connect(tag_payer, host_a)
    try:
        assert client.post(f"/pay/{link.slug}", data=data).status_code == 303
    finally:
        signals.payment_succeeded.disconnect(tag_payer, host_a)
    [payment] = shop.payments()
    with host_a.app_context():
        names = list(crm_a.db.session.scalars(crm_a.db.select(crm_a.Tag.name)))
    assert names == [f"paid {payment.reference}"]
    assert payment.followed_up_at is not None


def test_raising_receivers_of_other_signals_are_logged_not_shown(
    host_a: Flask, shop: Shop, yoga: Product, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(sender: Any, **extra: Any) -> None:
        raise RuntimeError("broken receiver")

    link = shop.link([{"product": yoga}])
    client = host_a.test_client()
    hooked = [
        signals.checkout_viewed,
        signals.checkout_started,
        signals.payment_failed,
    ]
    for signal in hooked:
        signal.connect(broken, host_a)
    try:
        with caplog.at_level(logging.ERROR):
            assert client.get(f"/pay/{link.slug}").status_code == 200
            declined = priced(
                client,
                link,
                submission(client, link, **{"card-number": DECLINED_CARD}),
            )
            assert client.post(f"/pay/{link.slug}", data=declined).status_code == 402
    finally:
        for signal in hooked:
            signal.disconnect(broken, host_a)
    assert caplog.text.count("broken receiver") >= 3


@pytest.mark.parametrize("ending", ["commit", "rollback"])
def test_a_receiver_that_ends_the_transaction_is_followed_up_once(
    host_a: Flask, shop: Shop, yoga: Product, ending: str
) -> None:
    calls: list[str] = []

    def rude(sender: Any, payment: Any, **extra: Any) -> None:
        calls.append(payment.reference)
        crm_a.db.session.add(crm_a.Tag(account_id=1, name=f"note {len(calls)}"))
        getattr(crm_a.db.session, ending)()

    link = shop.link([{"product": yoga}])
    client = host_a.test_client()
    data = priced(client, link, submission(client, link))
    signals.payment_succeeded.connect(rude, host_a)
    try:
        assert client.post(f"/pay/{link.slug}", data=data).status_code == 303
        due_now(host_a)
        result = host_a.test_cli_runner().invoke(args=["paylinks", "reconcile"])
        assert "0 follow-ups handed out again" in result.output
    finally:
        signals.payment_succeeded.disconnect(rude, host_a)
    [payment] = shop.payments()
    assert calls == [payment.reference]  # heard once, never again
    assert payment.followed_up_at is not None
    assert payment.contact_id is not None
    with host_a.app_context():
        tags = list(crm_a.db.session.scalars(crm_a.db.select(crm_a.Tag.name)))
    assert tags == (["note 1"] if ending == "commit" else [])


def test_without_a_worker_a_later_payment_retries_a_failed_follow_up(
    host_a: Flask, shop: Shop, yoga: Product
) -> None:
    calls: list[str] = []

    def flaky(sender: Any, payment: Any, **extra: Any) -> None:
        calls.append(payment.reference)
        if len(calls) == 1:
            raise RuntimeError("the host's automation is down, once")

    link = shop.link([{"product": yoga}])
    signals.payment_succeeded.connect(flaky, host_a)
    try:
        for _ in range(2):
            client = host_a.test_client()
            data = priced(client, link, submission(client, link))
            assert client.post(f"/pay/{link.slug}", data=data).status_code == 303
            # Its back-off passes, and the process's last sweep is long ago.
            due_now(host_a)
            host_a.extensions["paylinks"].extras.pop("outbox.last_sweep", None)
    finally:
        signals.payment_succeeded.disconnect(flaky, host_a)
    first, second = shop.payments()
    # The second payment's request swept: the first's follow-up ran again.
    assert calls == [first.reference, second.reference, first.reference]
    assert first.followed_up_at is not None
    assert second.followed_up_at is not None
