"""The Text-to-Pay service: each rule of a request, what it writes, its statuses."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from flask_paylinks.core.errors import Conflict, InvalidInput, NotFound
from flask_paylinks.db.models import (
    LinkSource,
    LinkStatus,
    Payment,
    PaymentLink,
    Product,
    Recipient,
    RecipientState,
    Send,
    utcnow,
)
from flask_paylinks.db.session import session
from flask_paylinks.state import paylinks_state
from flask_paylinks.text_to_pay import service as t2p
from flask_paylinks.text_to_pay.service import RequestState

from ..factories import make_payment
from .conftest import ADA_PHONE, OWNER_A, OWNER_B, People, SmsBox

TWO_ITEMS = [("Haircut", 2500), ("Beard trim", 1000)]


def _count(model: type[Any]) -> int:
    return session().scalar(select(func.count()).select_from(model)) or 0


def _refused(people: People, *args: Any, **kwargs: Any) -> dict[str, str]:
    """The errors of a request that must write and send nothing."""
    before = (_count(PaymentLink), _count(Product), _count(Send))
    with pytest.raises(InvalidInput) as refused:
        t2p.request_payment(OWNER_A, *args, **kwargs)
    assert (_count(PaymentLink), _count(Product), _count(Send)) == before
    return refused.value.errors


# -- a good request ------------------------------------------------------------------


def test_a_request_writes_its_items_and_single_use_link_and_texts_the_contact(
    ctx: Flask, people: People, sms: SmsBox
) -> None:
    link = t2p.request_payment(
        OWNER_A, people.ada, TWO_ITEMS, currency="USD", note="For Tuesday"
    )

    session().expire_all()
    stored = session().get(PaymentLink, link.id)
    assert stored is not None
    assert stored.source == LinkSource.TEXT_TO_PAY
    assert stored.single_use is True
    assert stored.contact_id == people.ada
    assert stored.note == "For Tuesday"
    assert stored.status == LinkStatus.ACTIVE
    assert [
        (i.product.name, i.product.unit_amount, i.quantity) for i in stored.items
    ] == [
        ("Haircut", 2500, 1),
        ("Beard trim", 1000, 1),
    ]
    assert all(not i.product.listed for i in stored.items)
    assert t2p.request_total(stored).format() == "$35.00"

    texts = sms.to(ADA_PHONE)
    assert len(texts) == 1
    assert texts[0].startswith("Acme Fitness: For Tuesday. Pay $35.00 securely: http")
    recipient = session().scalars(select(Recipient)).one()
    assert recipient.link_id == link.id
    assert recipient.contact_id == people.ada
    assert recipient.token in texts[0]


def test_the_one_off_items_stay_out_of_the_catalogue(
    ctx: Flask, people: People, sms: SmsBox
) -> None:
    from flask_paylinks.catalog import service as catalog
    from flask_paylinks.links import service as links
    from flask_paylinks.links.service import ItemData, LinkData

    link = t2p.request_payment(OWNER_A, people.ada, TWO_ITEMS, currency="USD")
    product_id = link.items[0].product_id
    assert catalog.list_products(OWNER_A).total == 0
    assert catalog.search_products(OWNER_A, "Haircut") == []
    with pytest.raises(NotFound):
        catalog.get_product(OWNER_A, product_id)
    with pytest.raises(InvalidInput) as refused:
        links.create_link(
            OWNER_A, LinkData(name="Sneaky", items=[ItemData(product_id=product_id)])
        )
    assert refused.value.errors == {
        "items-0-product_id": "This product is not in your catalogue."
    }


# -- bad input: each is refused, nothing written or sent ------------------------------


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (0, "Enter an amount above zero."),
        (-500, "Enter an amount above zero."),
    ],
)
def test_an_amount_of_zero_or_less_is_refused(
    ctx: Flask, people: People, sms: SmsBox, amount: int, message: str
) -> None:
    errors = _refused(
        people, people.ada, [("Haircut", 2500), ("Tip", amount)], currency="USD"
    )
    assert errors == {"items-1-amount": message}
    assert sms.sent == []


def test_a_total_over_the_cap_is_refused(
    ctx: Flask, people: People, sms: SmsBox
) -> None:
    ctx.config["PAYLINKS_TEXT_TO_PAY_MAX_AMOUNT"] = 5000
    errors = _refused(
        people, people.ada, [("Haircut", 2500), ("Colour", 2501)], currency="USD"
    )
    assert errors == {
        "items": "A request can ask for $50.00 at most; these items add up to $50.01."
    }
    # Exactly the cap is fine.
    t2p.request_payment(
        OWNER_A, people.ada, [("Haircut", 2500), ("Colour", 2500)], currency="USD"
    )
    assert len(sms.sent) == 1


def test_the_default_cap_is_ten_thousand(
    ctx: Flask, people: People, sms: SmsBox
) -> None:
    assert ctx.config["PAYLINKS_TEXT_TO_PAY_MAX_AMOUNT"] == 1_000_000
    errors = _refused(people, people.ada, [("Car", 1_000_001)], currency="USD")
    assert "$10,000.00 at most" in errors["items"]


def test_an_expiry_in_the_past_is_refused_and_today_is_fine(
    ctx: Flask, people: People, sms: SmsBox
) -> None:
    yesterday = date.today() - timedelta(days=2)
    errors = _refused(
        people, people.ada, TWO_ITEMS, currency="USD", expires_at=yesterday
    )
    assert errors == {"expires_on": "The expiry date cannot be in the past."}
    from flask_paylinks.localtime import today

    link = t2p.request_payment(
        OWNER_A, people.ada, TWO_ITEMS, currency="USD", expires_at=today()
    )
    assert link.expires_at is not None
    assert link.expires_at > utcnow()
    assert t2p.request_status(link).expires_on == today()


def test_more_than_fifty_items_are_refused(
    ctx: Flask, people: People, sms: SmsBox
) -> None:
    items = [(f"Item {n}", 100) for n in range(51)]
    errors = _refused(people, people.ada, items, currency="USD")
    assert errors == {"items": "A request can hold 50 items at most."}
    link = t2p.request_payment(OWNER_A, people.ada, items[:50], currency="USD")
    assert len(link.items) == 50


def test_no_items_a_blank_name_and_a_bad_note_are_refused(
    ctx: Flask, people: People, sms: SmsBox
) -> None:
    assert _refused(people, people.ada, [], currency="USD") == {
        "items": "Add at least one item."
    }
    errors = _refused(
        people,
        people.ada,
        [("  ", 100), ("x" * 201, 100)],
        currency="USD",
        note="n" * 301,
    )
    assert errors == {
        "items-0-name": "Enter a name.",
        "items-1-name": "A name can be 200 characters at most.",
        "note": "A note can be 300 characters at most.",
    }
    errors = _refused(people, people.ada, TWO_ITEMS, currency="USD", note="{link}")
    assert errors == {"note": "A note cannot contain { or }."}


def test_a_contact_of_another_merchant_or_none_is_not_found(
    ctx: Flask, people: People, sms: SmsBox
) -> None:
    for contact_id in (people.bea, "999999", "", "x" * 65):
        with pytest.raises(NotFound):
            t2p.request_payment(OWNER_A, contact_id, TWO_ITEMS, currency="USD")
    assert _count(PaymentLink) == 0
    assert sms.sent == []


@pytest.mark.parametrize(
    ("who", "message"),
    [
        ("nora", "Nora Blank has no mobile number. Add one to their record first."),
        (
            "otto",
            "Otto Out opted out of texts, so they cannot be sent a payment request.",
        ),
        (
            "ivan",
            "Ivan Invalid's mobile number (12345) is not a valid phone number. "
            "Correct it on their record first.",
        ),
    ],
)
def test_a_contact_who_cannot_be_texted_is_refused_clearly(
    ctx: Flask, people: People, sms: SmsBox, who: str, message: str
) -> None:
    errors = _refused(people, getattr(people, who), TWO_ITEMS, currency="USD")
    assert errors == {"contact": message}
    assert sms.sent == []


def test_a_gateway_that_cannot_take_charges_refuses_with_its_reason(
    ctx: Flask, people: People, sms: SmsBox, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = paylinks_state().gateway
    monkeypatch.setattr(
        gateway, "charges_problem", lambda owner: f"Owner {owner} has no account."
    )
    errors = _refused(people, people.ada, TWO_ITEMS, currency="USD")
    assert errors == {"gateway": "Owner 1 has no account."}


def test_the_sandbox_and_a_configured_stripe_take_charges() -> None:
    from flask_paylinks.gateways.sandbox import SandboxGateway
    from flask_paylinks.gateways.stripe import StripeGateway

    assert SandboxGateway().charges_problem("1") is None
    keyed = StripeGateway(secret_key="sk_test_x", publishable_key="pk_test_x")
    assert keyed.charges_problem("1") is None
    unkeyed = StripeGateway(secret_key="", publishable_key="")
    assert "Stripe keys are missing" in (unkeyed.charges_problem("1") or "")


# -- statuses ------------------------------------------------------------------------


def _recipient(link: PaymentLink) -> Recipient:
    return (
        session()
        .scalars(
            select(Recipient).where(Recipient.link_id == link.id).order_by(Recipient.id)
        )
        .all()[-1]
    )


def test_the_status_follows_the_message_and_the_payment(
    ctx: Flask, people: People, sms: SmsBox
) -> None:
    link = t2p.request_payment(OWNER_A, people.ada, TWO_ITEMS, currency="USD")
    status = t2p.request_status(link)
    assert status.state in (RequestState.SENT, RequestState.DELIVERED)

    recipient = _recipient(link)
    recipient.state = RecipientState.DELIVERED
    recipient.delivered_at = utcnow()
    session().commit()
    assert t2p.request_status(link).state is RequestState.DELIVERED

    recipient.opened_at = utcnow()
    recipient.open_count = 2
    session().commit()
    status = t2p.request_status(link)
    assert status.state is RequestState.OPENED
    assert "Link opened (2 times)" in [event.text for event in status.timeline]

    payment = make_payment(OWNER_A, link, state="succeeded", succeeded_at=utcnow())
    status = t2p.request_status(link)
    assert status.state is RequestState.PAID
    assert status.payment is not None
    assert status.payment.id == payment.id
    assert status.label == "Paid"


def test_a_failed_sms_says_why(ctx: Flask, people: People, sms: SmsBox) -> None:
    link = t2p.request_payment(OWNER_A, people.ada, TWO_ITEMS, currency="USD")
    recipient = _recipient(link)
    recipient.state = RecipientState.FAILED
    recipient.sent_at = None
    recipient.failed_at = utcnow()
    recipient.reason = "The number is barred from receiving messages."
    session().commit()
    status = t2p.request_status(link)
    assert status.state is RequestState.FAILED
    assert status.reason == "The number is barred from receiving messages."


def test_an_expired_request_is_expired(ctx: Flask, people: People, sms: SmsBox) -> None:
    link = t2p.request_payment(OWNER_A, people.ada, TWO_ITEMS, currency="USD")
    link.expires_at = utcnow() - timedelta(minutes=1)
    session().commit()
    assert t2p.request_status(link).state is RequestState.EXPIRED
    assert t2p.closed_request(link) is not None


def test_a_contact_lists_their_requests_newest_first(
    ctx: Flask, people: People, sms: SmsBox
) -> None:
    first = t2p.request_payment(OWNER_A, people.ada, [("One", 100)], currency="USD")
    second = t2p.request_payment(OWNER_A, people.ada, [("Two", 200)], currency="USD")
    t2p.cancel_request(OWNER_A, first.id)
    listed = t2p.requests_for_contact(OWNER_A, people.ada)
    assert [(s.link.id, s.status.state, s.total.amount) for s in listed] == [
        (second.id, RequestState.SENT, 200),
        (first.id, RequestState.CANCELLED, 100),
    ]
    assert t2p.requests_for_contact(OWNER_B, people.ada) == []


# -- cancel and resend ---------------------------------------------------------------


def test_cancel_stops_the_link_and_a_paid_request_cannot_be_cancelled(
    ctx: Flask, people: People, sms: SmsBox
) -> None:
    link = t2p.request_payment(OWNER_A, people.ada, TWO_ITEMS, currency="USD")
    t2p.cancel_request(OWNER_A, link.id)
    assert link.status == LinkStatus.INACTIVE
    assert t2p.request_status(link).state is RequestState.CANCELLED
    t2p.cancel_request(OWNER_A, link.id)  # again: nothing changes

    paid = t2p.request_payment(OWNER_A, people.ada, TWO_ITEMS, currency="USD")
    make_payment(OWNER_A, paid, state="succeeded", succeeded_at=utcnow())
    with pytest.raises(Conflict, match="has been paid"):
        t2p.cancel_request(OWNER_A, paid.id)
    assert session().get(PaymentLink, paid.id).status == LinkStatus.ACTIVE  # type: ignore[union-attr]


def test_a_request_being_paid_cannot_be_cancelled(
    ctx: Flask, people: People, sms: SmsBox
) -> None:
    link = t2p.request_payment(OWNER_A, people.ada, TWO_ITEMS, currency="USD")
    make_payment(OWNER_A, link, state="pending", holds_link=True)
    with pytest.raises(Conflict, match="paying this request right now"):
        t2p.cancel_request(OWNER_A, link.id)


def test_a_cancelled_request_holds_its_single_use_claim_so_no_late_pay_charges(
    ctx: Flask, people: People, sms: SmsBox
) -> None:
    from flask_paylinks.db.limits import claim

    link = t2p.request_payment(OWNER_A, people.ada, TWO_ITEMS, currency="USD")
    t2p.cancel_request(OWNER_A, link.id)
    # A Pay that passed the page's checks before the cancel now claims: refused.
    assert claim(PaymentLink.claims, link.id, cap=1) is False
    session().rollback()
    assert session().get(PaymentLink, link.id).claims == 1  # type: ignore[union-attr]


def test_another_merchant_cannot_cancel_or_resend(
    ctx: Flask, people: People, sms: SmsBox
) -> None:
    link = t2p.request_payment(OWNER_A, people.ada, TWO_ITEMS, currency="USD")
    with pytest.raises(NotFound):
        t2p.cancel_request(OWNER_B, link.id)
    with pytest.raises(NotFound):
        t2p.resend_request(OWNER_B, link.id)
    assert link.status == LinkStatus.ACTIVE


def test_resend_texts_the_same_link_again(
    ctx: Flask, people: People, sms: SmsBox
) -> None:
    link = t2p.request_payment(OWNER_A, people.ada, TWO_ITEMS, currency="USD")
    t2p.resend_request(OWNER_A, link.id)
    texts = sms.to(ADA_PHONE)
    assert len(texts) == 2
    assert texts[1].startswith("Acme Fitness: Pay $35.00 securely: http")
    assert _count(PaymentLink) == 1
    assert [m.to for m in t2p.messages_sent(link)] == [ADA_PHONE, ADA_PHONE]
    assert "SMS sent again" in [e.text for e in t2p.request_status(link).timeline]


@pytest.mark.parametrize("end", ["paid", "cancelled", "expired"])
def test_a_closed_request_is_not_sent_again(
    ctx: Flask, people: People, sms: SmsBox, end: str
) -> None:
    link = t2p.request_payment(OWNER_A, people.ada, TWO_ITEMS, currency="USD")
    if end == "paid":
        make_payment(OWNER_A, link, state="succeeded", succeeded_at=utcnow())
    elif end == "cancelled":
        t2p.cancel_request(OWNER_A, link.id)
    else:
        link.expires_at = utcnow() - timedelta(seconds=1)
        session().commit()
    with pytest.raises(Conflict, match=f"was {end}"):
        t2p.resend_request(OWNER_A, link.id)
    assert len(sms.sent) == 1


def test_resend_to_a_contact_who_opted_out_since_is_refused(
    ctx: Flask, people: People, sms: SmsBox
) -> None:
    from ..hosts import crm_a

    link = t2p.request_payment(OWNER_A, people.ada, TWO_ITEMS, currency="USD")
    ada = crm_a.db.session.get(crm_a.Customer, int(people.ada))
    ada.do_not_text = True
    crm_a.db.session.commit()
    with pytest.raises(InvalidInput) as refused:
        t2p.resend_request(OWNER_A, link.id)
    assert "opted out of texts" in refused.value.errors["contact"]
    assert len(sms.sent) == 1
    assert _count(Payment) == 0
