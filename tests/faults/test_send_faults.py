"""A bulk send survives Redis going away and a worker killed mid-batch.

Real processes: a PostgreSQL cluster, a redis-server that is crashed and
started again empty, ``flask paylinks worker`` processes (one SIGKILLed),
and the HTTPS fake of Vonage's SMS API (:mod:`tests.fake_vonage`), which
records every message it is handed.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from flask_paylinks.sends import service
from flask_paylinks.sends.delivery import IN_DOUBT, QUEUE_DOWN
from flask_paylinks.sends.service import Message, Selection

from ..fake_vonage import FakeVonage, fake_vonage, vonage_config
from ..sends.helpers import OWNER, a_link, add_people, host, link_of, send_row
from ..sends.helpers import recipients as recipient_rows
from ..services import worker_command
from .harness import Postgres, Process, Redis, poll, postgres, redis
from .test_outages import _dispose, _migrated

pytestmark = [pytest.mark.slow, pytest.mark.postgresql, pytest.mark.faults]
ROOT = Path(__file__).resolve().parents[2]
SMS = "Hi {first_name}, pay here: {link}"


@pytest.fixture(scope="module")
def pg() -> Iterator[Postgres]:
    with postgres() as server:
        yield server


@pytest.fixture
def rd(tmp_path: Path) -> Iterator[Redis]:
    with redis(tmp_path) as server:
        yield server


@pytest.fixture
def fake() -> Iterator[FakeVonage]:
    with fake_vonage() as running:
        yield running


def _setup(
    pg: Postgres, rd: Redis, fake: FakeVonage, contacts: int, **extra: object
) -> tuple[str, dict[str, object], Flask, int]:
    """A migrated database, host A on it, and a send of *contacts* queued."""
    url = _migrated(pg)
    config: dict[str, object] = {
        **vonage_config(fake),
        "PAYLINKS_REDIS_URL": rd.url,
        "PAYLINKS_SWEEP_SECONDS": 1,
        "PAYLINKS_OUTBOX_REDISPATCH_SECONDS": 2,
        **extra,
    }
    app = host(url, **config)
    people = add_people(
        app,
        [
            {"full_name": f"Contact {i}", "mobile": f"+1415555{i:04d}"}
            for i in range(contacts)
        ],
    )
    link_id = a_link(app)
    with app.test_request_context():
        send_id = service.start_send(
            OWNER,
            link_of(link_id),
            Selection(segment_ids=(str(people.tag_id),)),
            ["sms"],
            Message(sms_body=SMS),
        ).id
    return url, config, app, send_id


def _worker(url: str, config: dict[str, object], name: str, logs: Path) -> Process:
    arguments = ", ".join(f"{key}={value!r}" for key, value in config.items())
    factory = f"tests.sends.helpers:host({url!r}, {arguments})"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    return Process(name, worker_command(factory), env=env, log=logs / f"{name}.log")


def test_redis_crashing_mid_send_pauses_it_loses_nothing_and_sends_nothing_twice(
    pg: Postgres, rd: Redis, fake: FakeVonage, tmp_path: Path
) -> None:
    fake.latency = 0.05
    url, config, app, send_id = _setup(
        pg, rd, fake, 60, PAYLINKS_SEND_RATE=10, PAYLINKS_SEND_BATCH_SIZE=10
    )
    worker = _worker(url, config, "worker", tmp_path)
    try:
        sent, _ = poll(lambda: len(fake.accepted()), lambda n: n >= 10, timeout=60)
        assert sent >= 10, worker.tail()
        rd.stop(crash=True)  # no persistence: the queued batches are gone
        paused, _ = poll(
            lambda: send_row(app, send_id), lambda s: s.state == "paused", timeout=30
        )
        # What the merchant sees: paused, and why.
        assert paused.state == "paused", worker.tail()
        assert paused.paused_reason == QUEUE_DOWN
        at_pause = len(fake.accepted())
        assert at_pause < 60
        rd.start()  # back, empty
        done, _ = poll(
            lambda: send_row(app, send_id).state, lambda s: s == "finished", timeout=120
        )
        assert done == "finished", worker.tail()
        assert worker.alive  # the same worker lived through it
    finally:
        worker.stop()
    per_number = Counter(m.to for m in fake.accepted())
    assert len(per_number) == 60
    assert set(per_number.values()) == {1}
    assert {r.state for r in recipient_rows(app, send_id)} == {"sent"}
    _dispose(app)


def test_a_worker_killed_mid_batch_leaves_its_messages_sent_once_after_a_restart(
    pg: Postgres, rd: Redis, fake: FakeVonage, tmp_path: Path
) -> None:
    fake.latency = 0.3
    url, config, app, send_id = _setup(
        pg,
        rd,
        fake,
        60,
        PAYLINKS_SEND_RATE=20,
        PAYLINKS_SEND_BATCH_SIZE=30,
        PAYLINKS_MESSAGE_LEASE_SECONDS=3,
    )
    first = _worker(url, config, "worker-1", tmp_path)
    second: Process | None = None
    try:
        sent, _ = poll(lambda: len(fake.received), lambda n: n >= 8, timeout=60)
        assert sent >= 8, first.tail()
        first.kill(children=True)  # SIGKILL, with messages in flight
        killed_after = len(fake.received)
        assert killed_after < 60
        second = _worker(url, config, "worker-2", tmp_path)
        done, _ = poll(
            lambda: send_row(app, send_id).state, lambda s: s == "finished", timeout=120
        )
        assert done == "finished", second.tail()
    finally:
        for process in (first, second):
            if process is not None:
                process.stop()
    rows = recipient_rows(app, send_id)
    per_number = Counter(m.to for m in fake.received)
    # No number got two messages.
    assert max(per_number.values()) == 1
    in_doubt = [r for r in rows if r.state == "failed"]
    # At most the messages in flight when the worker died are in doubt, and
    # they say so; every other recipient got exactly one message.
    assert len(in_doubt) <= int(config.get("PAYLINKS_SEND_CONCURRENCY", 4))
    assert all(r.reason == IN_DOUBT[:200] for r in in_doubt)
    for row in rows:
        if row.state == "sent":
            assert per_number[(row.address or "").lstrip("+")] == 1
    assert len([r for r in rows if r.state == "sent"]) + len(in_doubt) == 60
    _dispose(app)
