"""A send through Redis and real ``flask paylinks worker`` processes.

The run's redis-server, its database, the HTTPS fake of Vonage's SMS API
(:mod:`tests.fake_vonage`), and worker processes started here.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from flask_paylinks.messaging.sms import sign
from flask_paylinks.sends import service, tracking
from flask_paylinks.sends.service import Message, Selection

from ..fake_vonage import FakeVonage, fake_vonage, vonage_config
from ..faults.harness import Process, poll
from ..services import run_burst_worker, worker_command
from .helpers import OWNER, a_link, add_people, hosted, link_of, send_row
from .helpers import recipients as recipient_rows
from .test_personal_links import inputs

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
SMS = "Hi {first_name}, pay here: {link}"
SECRET = "vonage-signature-secret"


@pytest.fixture
def fake() -> Iterator[FakeVonage]:
    with fake_vonage() as running:
        yield running


def _config(fake: FakeVonage, redis_url: str, **extra: object) -> dict[str, object]:
    return {
        **vonage_config(fake),
        "PAYLINKS_REDIS_URL": redis_url,
        "PAYLINKS_VONAGE_SIGNATURE_SECRET": SECRET,
        **extra,
    }


def _factory(database_url: str, config: dict[str, object]) -> str:
    arguments = ", ".join(f"{key}={value!r}" for key, value in config.items())
    return f"tests.sends.helpers:host({database_url!r}, {arguments})"


def _segment_of_500() -> tuple[list[dict[str, object]], dict[str, str]]:
    """500 contacts: most reachable, some without a phone, invalid or opted out."""
    rows: list[dict[str, object]] = []
    expected: dict[str, str] = {}
    for i in range(500):
        name = f"Contact {i:03d}"
        if i % 50 == 7:
            rows.append({"full_name": name, "mobile": None})
            expected[name] = "no phone"
        elif i % 50 == 13:
            rows.append({"full_name": name, "mobile": "+1 555 01"})
            expected[name] = "invalid number"
        elif i % 50 == 21:
            rows.append(
                {"full_name": name, "mobile": f"+1415555{i:04d}", "do_not_text": True}
            )
            expected[name] = "opted out"
        else:
            rows.append({"full_name": name, "mobile": f"+1415555{i:04d}"})
    return rows, expected


def test_a_500_contact_segment_goes_out_once_each_through_redis_and_a_worker(
    database_url: str, redis_url: str, fake: FakeVonage
) -> None:
    config = _config(
        fake, redis_url, PAYLINKS_SEND_RATE=500, PAYLINKS_SEND_BATCH_SIZE=50
    )
    with hosted(database_url, **config) as app:
        rows, skipped = _segment_of_500()
        people = add_people(app, rows)
        link_id = a_link(app)
        with app.test_request_context():
            send = service.start_send(
                OWNER,
                link_of(link_id),
                Selection(segment_ids=(str(people.tag_id),)),
                ["sms"],
                Message(sms_body=SMS),
            )
            send_id = send.id
        # Queued in Redis, in batches; nothing sent before a worker runs.
        assert Redis.from_url(redis_url).llen("rq:queue:paylinks") == 10
        assert fake.received == []

        worker = run_burst_worker(_factory(database_url, config), timeout=240)
        assert worker.returncode == 0, worker.stderr[-3000:]

        recipients = recipient_rows(app, send_id)
        assert len(recipients) == 500
        reachable = [r for r in recipients if r.state != "skipped"]
        assert len(reachable) == 500 - len(skipped) == 470
        assert {r.state for r in reachable} == {"sent"}
        assert {r.name: r.reason for r in recipients if r.state == "skipped"} == skipped
        # Exactly one message each, with the recipient's own URL.
        accepted = fake.accepted()
        assert Counter(m.to for m in accepted) == Counter(
            (r.address or "").lstrip("+") for r in reachable
        )
        assert max(Counter(m.to for m in accepted).values()) == 1
        texts = {m.client_ref: m.text for m in accepted}
        for recipient in reachable:
            assert texts[str(recipient.id)].endswith(f"/pay/p/{recipient.token}")
        assert send_row(app, send_id).state == "finished"

        # Opening one URL marks that recipient opened; paying ties the payment.
        chosen = reachable[123]
        client = app.test_client()
        page = client.get(f"/pay/p/{chosen.token}", follow_redirects=True)
        assert page.status_code == 200
        fields = inputs(page.text)
        assert fields["name"] == chosen.name
        data = {
            **fields,
            "email": "c123@example.com",
            "card-number": "4242 4242 4242 4242",
            "card-expiry": "12 / 34",
            "card-cvc": "123",
        }
        with app.app_context():
            slug = link_of(link_id).slug
        data["terms"] = client.post(
            f"/pay/{slug}/quote", data=data, headers={"Accept": "application/json"}
        ).json["terms"]  # type: ignore[index]
        assert client.post(f"/pay/{slug}", data=data).status_code == 303
        after = {r.id: r for r in recipient_rows(app, send_id)}
        assert after[chosen.id].opened_at is not None
        assert after[chosen.id].paid_at is not None
        assert sum(r.paid_at is not None for r in after.values()) == 1
        with app.app_context():
            funnel = tracking.funnel(OWNER, link_of(link_id), send_id)
        assert (funnel.sent, funnel.opened, funnel.started, funnel.paid) == (
            470,
            1,
            1,
            1,
        )


def test_stop_received_mid_send_means_nothing_more_for_that_contact(
    database_url: str, redis_url: str, fake: FakeVonage, tmp_path: Path
) -> None:
    config = _config(fake, redis_url, PAYLINKS_SEND_RATE=4, PAYLINKS_SEND_BATCH_SIZE=5)
    with hosted(database_url, **config) as app:
        rows = [
            {"full_name": f"Contact {i}", "mobile": f"+1415555{i:04d}"}
            for i in range(20)
        ]
        people = add_people(app, rows)
        link_id = a_link(app)
        with app.test_request_context():
            send_id = service.start_send(
                OWNER,
                link_of(link_id),
                Selection(segment_ids=(str(people.tag_id),)),
                ["sms"],
                Message(sms_body=SMS),
            ).id
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        worker = Process(
            "worker",
            worker_command(_factory(database_url, config)),
            env=env,
            log=tmp_path / "worker.log",
        )
        try:
            count, _ = poll(lambda: len(fake.accepted()), lambda n: n >= 3, timeout=60)
            assert count >= 3, worker.tail()
            # The last contact texts STOP while the send is going out.
            stamped = {
                "msisdn": "14155550019",
                "to": "AcmeShop",
                "messageId": "0A00000012345678",
                "text": "Stop",
                "type": "text",
                "keyword": "STOP",
                "api-key": "abcd1234",
                "message-timestamp": "2026-11-26 23:50:00",
                "timestamp": str(int(time.time())),
            }
            answer = app.test_client().post(
                "/paylinks/webhooks/vonage/inbound",
                data={**stamped, "sig": sign(stamped, SECRET)},
            )
            assert answer.status_code == 200
            done, _ = poll(
                lambda: send_row(app, send_id).state,
                lambda s: s == "finished",
                timeout=90,
            )
            assert done == "finished", worker.tail()
        finally:
            worker.stop()
        states = {r.address: (r.state, r.reason) for r in recipient_rows(app, send_id)}
        assert states["+14155550019"] == ("skipped", "opted out")
        assert "14155550019" not in {m.to for m in fake.received}
        assert len(fake.accepted()) == 19
        assert max(Counter(m.to for m in fake.accepted()).values()) == 1
