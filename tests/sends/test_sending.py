"""Sending a link to contacts, inline (no Redis): rows, skips, messages, retries.

SMS go through the real Vonage SDK to an HTTPS fake of Vonage's API
(:mod:`tests.fake_vonage`); the database is the run's (SQLite or PostgreSQL).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import update

from flask_paylinks.core.errors import InvalidInput, NotFound
from flask_paylinks.db.models import Recipient, utcnow
from flask_paylinks.db.session import session
from flask_paylinks.sends import delivery, service
from flask_paylinks.sends.service import Message, Selection

from ..fake_vonage import FakeVonage, fake_vonage, vonage_config
from ..hosts.crm_a import Customer
from .helpers import OTHER_OWNER, OWNER, a_link, add_people, hosted, link_of, send_row
from .helpers import recipients as recipient_rows

SMS = "Hi {first_name}, your {link_name} pass: {link}"
URL = re.compile(r"https://crm\.example\.test/pay/p/([A-Za-z0-9_-]{22})$")


@pytest.fixture
def fake() -> Iterator[FakeVonage]:
    with fake_vonage() as running:
        yield running


@pytest.fixture
def app(database_url: str, fake: FakeVonage) -> Iterator[Flask]:
    with hosted(database_url, **vonage_config(fake)) as host:
        yield host


def text_one(app: Flask, link_id: int, contact_id: int) -> int:
    """Send the link by SMS to one contact, from a request; the send's id."""
    with app.test_request_context():
        return service.start_send(
            OWNER,
            link_of(link_id),
            Selection(contact_ids=(str(contact_id),)),
            ["sms"],
            Message(sms_body=SMS),
        ).id


MIXED = [
    {"full_name": "Ada Lovelace", "mobile": "+14155550101", "email": "ada@x.test"},
    {"full_name": "Alan Turing", "mobile": "+14155550102", "email": None},
    {"full_name": "No Phone", "mobile": None, "email": "np@x.test"},
    {"full_name": "Bad Number", "mobile": "+1 555", "email": None},
    {"full_name": "Opted Out", "mobile": "+14155550105", "do_not_text": True},
    # Shares Ada's phone: one message per number.
    {"full_name": "Ada Again", "mobile": "+14155550101", "email": None},
]


def test_a_send_texts_each_reachable_contact_once_with_their_own_url(
    app: Flask, fake: FakeVonage
) -> None:
    people = add_people(app, MIXED)
    link_id = a_link(app)
    with app.test_request_context():
        send = service.start_send(
            OWNER,
            link_of(link_id),
            Selection(
                segment_ids=(str(people.tag_id),), contact_ids=(str(people.ids[0]),)
            ),
            ["sms"],
            Message(sms_body=SMS),
        )
        send_id = send.id
    rows = recipient_rows(app, send_id)
    by_name = {row.name: row for row in rows}
    assert {name: (row.state, row.reason) for name, row in by_name.items()} == {
        "Ada Lovelace": ("sent", None),
        "Alan Turing": ("sent", None),
        "No Phone": ("skipped", "no phone"),
        "Bad Number": ("skipped", "invalid number"),
        "Opted Out": ("skipped", "opted out"),
    }
    assert send_row(app, send_id).duplicates == 2  # Ada picked twice, Ada's number
    assert send_row(app, send_id).state == "finished"
    accepted = fake.accepted()
    assert sorted(m.to for m in accepted) == ["14155550101", "14155550102"]
    texts = {m.to: m.text for m in accepted}
    ada = by_name["Ada Lovelace"]
    assert texts["14155550101"] == (
        f"Hi Ada, your Yoga pass: https://crm.example.test/pay/p/{ada.token}"
    )
    assert all(URL.search(text) for text in texts.values())
    assert len({URL.search(text).group(1) for text in texts.values()}) == 2  # type: ignore[union-attr]
    assert {m.client_ref for m in accepted} == {
        str(by_name["Ada Lovelace"].id),
        str(by_name["Alan Turing"].id),
    }
    assert ada.provider_message_id
    assert ada.sent_at is not None


def test_running_a_range_again_sends_nothing_twice(
    app: Flask, fake: FakeVonage
) -> None:
    people = add_people(app, MIXED[:2])
    link_id = a_link(app)
    with app.test_request_context():
        send = service.start_send(
            OWNER,
            link_of(link_id),
            Selection(segment_ids=(str(people.tag_id),)),
            ["sms"],
            Message(sms_body=SMS),
        )
        first, last = recipient_rows(app)[0].id, recipient_rows(app)[-1].id
        session().execute(update(type(send)).values(state="sending"))
        session().commit()
        assert delivery.deliver_range(send.id, first, last) == 0
    assert len(fake.accepted()) == 2


def test_preview_counts_who_receives_and_who_is_skipped_and_why(app: Flask) -> None:
    people = add_people(app, MIXED)
    link_id = a_link(app)
    with app.test_request_context():
        preview = service.preview(
            OWNER,
            link_of(link_id),
            Selection(segment_ids=(str(people.tag_id),)),
            ["sms", "email"],
            Message(sms_body=SMS, email_subject="Your pass", email_body="Pay: {link}"),
        )
    assert preview.receiving == {"sms": 2, "email": 2}
    assert preview.skipped == {
        ("sms", "no phone"): 1,
        ("sms", "invalid number"): 1,
        ("sms", "opted out"): 1,
        ("sms", "duplicate"): 1,
        ("email", "no email"): 4,
    }
    assert preview.contacts == 6
    assert preview.sample is not None
    assert preview.sample.sms.startswith(
        "Hi Ada, your Yoga pass: https://crm.example.test/pay/p/"
    )
    assert preview.sms_segments is not None
    assert (preview.sms_segments.encoding, preview.sms_segments.segments) == (
        "GSM-7",
        1,
    )
    assert recipient_rows(app) == []  # a preview writes nothing


@pytest.mark.parametrize(
    ("message", "field", "words"),
    [
        (Message(sms_body="Pay now"), "sms_body", "{link}"),
        (Message(sms_body="Hi {nickname} {link}"), "sms_body", "{nickname}"),
        (Message(sms_body="x" * 1600 + " {link}"), "sms_body", "10"),
    ],
)
def test_bad_messages_are_refused_and_nothing_is_sent(
    app: Flask, fake: FakeVonage, message: Message, field: str, words: str
) -> None:
    people = add_people(app, MIXED[:1])
    link_id = a_link(app)
    with app.test_request_context(), pytest.raises(InvalidInput) as refused:
        service.start_send(
            OWNER,
            link_of(link_id),
            Selection(contact_ids=(str(people.ids[0]),)),
            ["sms"],
            message,
        )
    assert words in refused.value.errors[field]
    assert recipient_rows(app) == []
    assert fake.received == []


def test_an_empty_selection_and_no_channel_are_refused(app: Flask) -> None:
    link_id = a_link(app)
    with app.test_request_context(), pytest.raises(InvalidInput) as refused:
        service.start_send(
            OWNER, link_of(link_id), Selection(), [], Message(sms_body=SMS)
        )
    assert set(refused.value.errors) == {"contacts", "channels"}


def test_another_owners_segment_or_contact_is_not_found(app: Flask) -> None:
    theirs = add_people(app, MIXED[:1], owner=OTHER_OWNER)
    link_id = a_link(app)
    for selection in (
        Selection(segment_ids=(str(theirs.tag_id),)),
        Selection(contact_ids=(str(theirs.ids[0]),)),
    ):
        with app.test_request_context(), pytest.raises(NotFound):
            service.start_send(
                OWNER, link_of(link_id), selection, ["sms"], Message(sms_body=SMS)
            )
    assert recipient_rows(app) == []


def test_without_a_worker_a_large_send_is_refused_with_the_reason(app: Flask) -> None:
    people = add_people(app, [{"mobile": f"+1415555{i:04d}"} for i in range(60)])
    link_id = a_link(app)
    with app.test_request_context(), pytest.raises(InvalidInput) as refused:
        service.start_send(
            OWNER,
            link_of(link_id),
            Selection(segment_ids=(str(people.tag_id),)),
            ["sms"],
            Message(sms_body=SMS),
        )
    assert "flask paylinks worker" in refused.value.errors["contacts"]
    assert recipient_rows(app) == []


def test_throttling_is_retried_later_not_failed(app: Flask, fake: FakeVonage) -> None:
    people = add_people(app, MIXED[:1])
    link_id = a_link(app)
    fake.answer = lambda form: "1"  # Throttled
    send_id = text_one(app, link_id, people.ids[0])
    [row] = recipient_rows(app)
    assert (row.state, row.attempts) == ("queued", 1)
    assert row.run_after is not None
    assert row.run_after > utcnow()
    assert "throttling" in (row.last_error or "")
    assert send_row(app, send_id).state == "sending"
    fake.answer = lambda form: "0"
    with app.app_context():
        session().execute(
            update(Recipient).values(run_after=utcnow() - timedelta(seconds=1))
        )
        session().commit()
        delivery.settle(utcnow())
    [row] = recipient_rows(app)
    assert (row.state, row.attempts) == ("sent", 2)
    assert [m.status for m in fake.received] == ["1", "0"]
    assert send_row(app, send_id).state == "finished"


def test_out_of_credit_pauses_the_send_and_resume_goes_on(
    app: Flask, fake: FakeVonage
) -> None:
    people = add_people(app, MIXED[:2])
    link_id = a_link(app)
    fake.answer = lambda form: "9"  # Partner quota exceeded
    with app.test_request_context():
        send = service.start_send(
            OWNER,
            link_of(link_id),
            Selection(segment_ids=(str(people.tag_id),)),
            ["sms"],
            Message(sms_body=SMS),
        )
        send_id = send.id
    paused = send_row(app, send_id)
    assert paused.state == "paused"
    assert "out of credit" in (paused.paused_reason or "")
    assert {row.state for row in recipient_rows(app)} == {"queued"}
    assert {row.attempts for row in recipient_rows(app)} == {0}
    fake.answer = lambda form: "0"
    with app.test_request_context():
        service.resume(OWNER, send_id)
    assert {row.state for row in recipient_rows(app)} == {"sent"}
    assert send_row(app, send_id).state == "finished"
    assert len(fake.accepted()) == 2


def test_an_invalid_number_at_vonage_fails_that_recipient_only(
    app: Flask, fake: FakeVonage
) -> None:
    people = add_people(app, MIXED[:2])
    link_id = a_link(app)
    fake.answer = lambda form: "7" if form["to"] == "14155550101" else "0"
    with app.test_request_context():
        service.start_send(
            OWNER,
            link_of(link_id),
            Selection(segment_ids=(str(people.tag_id),)),
            ["sms"],
            Message(sms_body=SMS),
        )
    states = {row.name: (row.state, row.reason) for row in recipient_rows(app)}
    assert states["Alan Turing"] == ("sent", None)
    assert states["Ada Lovelace"][0] == "failed"
    assert "barred" in (states["Ada Lovelace"][1] or "")


def test_a_claim_that_outlived_its_lease_is_never_sent_again(
    app: Flask, fake: FakeVonage
) -> None:
    people = add_people(app, MIXED[:1])
    link_id = a_link(app)
    fake.answer = lambda form: "1"
    text_one(app, link_id, people.ids[0])
    fake.answer = lambda form: "0"
    # As a worker killed between its claim and Vonage's answer leaves it.
    with app.app_context():
        session().execute(
            update(Recipient).values(
                claim="dead-worker",
                lease_until=utcnow() - timedelta(seconds=1),
                run_after=None,
            )
        )
        session().commit()
        delivery.settle(utcnow())
    [row] = recipient_rows(app)
    assert row.state == "failed"
    assert "may have gone out" in (row.reason or "")
    assert len(fake.accepted()) == 0


def test_quiet_hours_hold_sms_until_morning_in_the_contacts_timezone(
    database_url: str, fake: FakeVonage
) -> None:
    with hosted(database_url, **vonage_config(fake)) as app:
        app.config["PAYLINKS_QUIET_HOURS"] = "00:00-23:59"
        people = add_people(app, [{"full_name": "Night Owl", "mobile": "+14155550101"}])
        link_id = a_link(app)
        with app.test_request_context():
            service.start_send(
                OWNER,
                link_of(link_id),
                Selection(contact_ids=(str(people.ids[0]),)),
                ["sms"],
                Message(sms_body=SMS),
            )
        [row] = recipient_rows(app)
    assert row.state == "queued"
    assert row.attempts == 0
    assert row.run_after is not None
    local = row.run_after.astimezone(
        __import__("zoneinfo").ZoneInfo("America/Los_Angeles")
    )
    assert (local.hour, local.minute) == (23, 59)
    assert fake.received == []


def test_a_host_automation_sends_with_paylinks_send_link_outside_a_request(
    app: Flask, fake: FakeVonage
) -> None:
    from flask_paylinks import PayLinks

    people = add_people(app, MIXED[:2])
    link_id = a_link(app)
    with app.app_context():
        send = PayLinks().send_link(
            OWNER, link_id, str(people.tag_id), ["sms"], "Renew, {first_name}: {link}"
        )
        assert send.state == "finished"
    texts = sorted(m.text for m in fake.accepted())
    assert texts[0].startswith("Renew, Ada: https://crm.example.test/pay/p/")
    assert texts[1].startswith("Renew, Alan: https://crm.example.test/pay/p/")


def test_a_national_format_number_is_texted_in_e164(
    app: Flask, fake: FakeVonage
) -> None:
    people = add_people(app, [{"full_name": "Local Lou", "mobile": "(415) 555-0123"}])
    link_id = a_link(app)
    text_one(app, link_id, people.ids[0])
    [row] = recipient_rows(app)
    assert (row.state, row.address) == ("sent", "+14155550123")
    assert [m.to for m in fake.accepted()] == ["14155550123"]


def test_stop_is_kept_by_the_extension_and_start_lifts_it(
    app: Flask, fake: FakeVonage
) -> None:
    from flask_paylinks.sends import optouts
    from flask_paylinks.sends.callbacks import apply_inbound_sms

    people = add_people(app, MIXED[:1])
    link_id = a_link(app)

    def send_once() -> str:
        with app.test_request_context():
            send = service.start_send(
                OWNER,
                link_of(link_id),
                Selection(contact_ids=(str(people.ids[0]),)),
                ["sms"],
                Message(sms_body=SMS),
            )
        return next(r for r in recipient_rows(app, send.id)).state

    assert send_once() == "sent"
    with app.app_context():
        apply_inbound_sms({"msisdn": "14155550101", "text": "stop"})
        assert optouts.opted_out(OWNER, "+14155550101")
        # Even if the CRM forgets its own flag, the extension does not.
        session().execute(
            update(Customer).values(do_not_text=False)  # the host's column
        )
        session().commit()
    assert send_once() == "skipped"
    with app.app_context():
        apply_inbound_sms({"msisdn": "14155550101", "text": "START"})
        assert not optouts.opted_out(OWNER, "+14155550101")
    assert send_once() == "sent"
    assert len(fake.accepted()) == 2


def test_a_message_waiting_when_the_number_changed_is_not_sent_to_the_new_owner(
    app: Flask, fake: FakeVonage
) -> None:
    people = add_people(app, MIXED[:1])
    link_id = a_link(app)
    fake.answer = lambda form: "1"  # throttled: the message waits
    text_one(app, link_id, people.ids[0])
    fake.answer = lambda form: "0"
    with app.app_context():
        session().execute(update(Customer).values(mobile="+14155550177"))
        session().execute(
            update(Recipient).values(run_after=utcnow() - timedelta(seconds=1))
        )
        session().commit()
        delivery.settle(utcnow())
    [row] = recipient_rows(app)
    assert (row.state, row.reason) == ("skipped", "address changed")
    assert fake.accepted() == []


def test_without_a_worker_the_limit_counts_messages_not_the_directorys_sizes(
    app: Flask,
) -> None:
    people = add_people(
        app,
        [
            {"mobile": f"+1415555{i:04d}", "email": f"p{i}@example.com"}
            for i in range(30)
        ],
    )
    link_id = a_link(app)
    with app.test_request_context(), pytest.raises(InvalidInput) as refused:
        service.start_send(
            OWNER,
            link_of(link_id),
            Selection(segment_ids=(str(people.tag_id),)),
            ["sms", "email"],  # 60 messages to 30 contacts
            Message(sms_body=SMS, email_subject="Pass", email_body="Pay: {link}"),
        )
    assert "more than 50 messages" in refused.value.errors["contacts"]
    assert recipient_rows(app) == []


def test_a_message_left_in_doubt_is_settled_by_its_delivery_receipt(
    app: Flask, fake: FakeVonage
) -> None:
    from flask_paylinks.sends.callbacks import apply_delivery_receipt

    people = add_people(app, MIXED[:1])
    link_id = a_link(app)
    fake.answer = lambda form: "1"
    text_one(app, link_id, people.ids[0])
    with app.app_context():
        # The worker died waiting for Vonage's answer, after Vonage took it.
        session().execute(
            update(Recipient).values(
                claim="dead-worker",
                lease_until=utcnow() - timedelta(seconds=1),
                run_after=None,
            )
        )
        session().commit()
        delivery.settle(utcnow())
        [row] = recipient_rows(app)
        assert row.state == "failed"
        apply_delivery_receipt(
            {
                "messageId": "0C000000217B7F99",
                "status": "delivered",
                "err-code": "0",
                "client-ref": str(row.id),
                "message-timestamp": "2026-11-27 01:00:00",
            }
        )
    [row] = recipient_rows(app)
    assert (row.state, row.reason) == ("delivered", None)
    assert row.sent_at is not None
    assert row.provider_message_id == "0C000000217B7F99"
