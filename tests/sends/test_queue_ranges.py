"""The jobs a send queues: its queued recipients' ids, in order, a batch per job."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from flask_paylinks.db.models import Channel, RecipientState, Send, SendState, utcnow
from flask_paylinks.db.session import session
from flask_paylinks.sends import service
from flask_paylinks.sends.audience import Selection, resolve

from .helpers import OWNER, a_link, add_people, hosted, recipients


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    with hosted(database_url, PAYLINKS_SEND_BATCH_SIZE=2) as host:
        yield host


def test_ranges_cover_the_queued_recipients_a_batch_each_and_skip_the_skipped(
    app: Flask,
) -> None:
    people = add_people(
        app,
        [
            {"full_name": "A", "mobile": "+14155550101"},
            {"full_name": "No phone", "mobile": None},
            {"full_name": "B", "mobile": "+14155550102"},
            {"full_name": "C", "mobile": "+14155550103"},
            {"full_name": "Opted out", "mobile": "+14155550104", "do_not_text": True},
            {"full_name": "D", "mobile": "+14155550105"},
            {"full_name": "E", "mobile": "+14155550106"},
        ],
    )
    link_id = a_link(app)
    with app.app_context():
        now = utcnow()
        send = Send(
            owner_id=OWNER,
            link_id=link_id,
            channels="sms",
            sms_body="{link}",
            state=SendState.QUEUED,
            base_url="https://crm.example.test",
            created_at=now,
            updated_at=now,
        )
        session().add(send)
        session().flush()
        audience = resolve(OWNER, Selection(segment_ids=(str(people.tag_id),)))
        ranges, duplicates = service._insert_recipients(
            send, audience, [Channel.SMS], now
        )
        session().commit()
        send_id = send.id
    rows = recipients(app, send_id)
    queued = [row.id for row in rows if row.state == RecipientState.QUEUED]
    assert [row.name for row in rows if row.state == RecipientState.QUEUED] == [
        "A",
        "B",
        "C",
        "D",
        "E",
    ]
    assert ranges == [
        (queued[0], queued[1]),
        (queued[2], queued[3]),
        (queued[4], queued[4]),
    ]
    assert duplicates == 0
