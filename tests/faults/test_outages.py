"""Nothing after the charge is lost: Redis stopped mid-load, a worker SIGKILLed.

Real processes: a PostgreSQL cluster, redis-server, the example CRM served by
gunicorn, and ``flask paylinks worker`` processes. Loads are bounded in
customers and seconds; every process is stopped on the way out.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from ..services import worker_command
from .harness import (
    Database,
    Postgres,
    Process,
    Redis,
    example_crm,
    poll,
    postgres,
    redis,
    run_load,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgresql, pytest.mark.faults]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pg() -> Iterator[Postgres]:
    with postgres() as server:
        yield server


@pytest.fixture
def rd(tmp_path: Path) -> Iterator[Redis]:
    with redis(tmp_path) as server:
        yield server


def _exactly_once(db: Database) -> None:
    """Every succeeded payment followed up, one note and one receipt each."""
    succeeded = db.scalar(
        "SELECT count(*) FROM paylinks_payments WHERE state = 'succeeded'"
    )
    assert db.followups_owed() == 0
    assert db.paid_notes() == succeeded  # the receiver ran once per payment
    duplicates = db.rows(
        "SELECT body, count(*) FROM messages WHERE channel = 'note' "
        "GROUP BY body HAVING count(*) > 1"
    )
    assert duplicates == []
    sent = db.scalar(
        "SELECT count(*) FROM paylinks_payments WHERE state = 'succeeded' "
        "AND receipt_sent_at IS NOT NULL"
    )
    assert sent == succeeded
    assert db.outbox_by_state() == {"done": 2 * succeeded}


def test_a_redis_outage_mid_load_loses_no_follow_up_and_no_worker(
    pg: Postgres, rd: Redis, tmp_path: Path
) -> None:
    with example_crm(
        pg.create_database(), rd.url, web_workers=2, job_workers=2, logs=tmp_path
    ) as crm:
        workers = list(crm.workers)

        def outage(clock: object) -> None:
            clock.sleep_until(3)  # type: ignore[attr-defined]
            rd.stop(crash=True)  # no persistence: the queue is gone with it
            time.sleep(5)
            rd.start()

        load = run_load(crm.base_url, crm.links, customers=8, seconds=14, during=outage)
        context = f"\n{load.summary()}\n{crm.tails()}"
        assert not load.server_errors(), context
        assert load.paid(), context

        backlog, waited = poll(
            lambda: crm.db.backlog()[1], lambda n: n == 0, timeout=120
        )
        assert backlog == 0, f"{backlog} follow-ups owed after {waited:.0f}s{context}"
        _exactly_once(crm.db)
        # The same two workers lived through it and work again.
        assert all(w.alive for w in workers), context
        assert crm.workers == workers
        after = run_load(crm.base_url, crm.links, customers=2, seconds=3)
        assert after.paid(), context
        owed, _ = poll(lambda: crm.db.backlog()[1], lambda n: n == 0, timeout=60)
        assert owed == 0, crm.tails()
        _exactly_once(crm.db)


def _slow_host(database_url: str, redis_url: str) -> str:
    return f"tests.hosts.slow_receiver:create_app({database_url!r}, {redis_url!r})"


def _migrated(pg: Postgres) -> str:
    from sqlalchemy import create_engine

    from flask_paylinks.db import migrate

    url = pg.create_database()
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


def _slow_app(pg: Postgres, rd: Redis) -> tuple[str, Flask]:
    """A migrated database and test host A with its slow receiver on it."""
    from ..hosts import crm_a, slow_receiver

    url = _migrated(pg)
    app = slow_receiver.create_app(url, rd.url)
    with app.app_context():
        crm_a.db.create_all()
    return url, app


def _dispose(app: Flask) -> None:
    from ..hosts import crm_a

    with app.app_context():
        crm_a.db.session.remove()
        crm_a.db.engine.dispose()


def test_a_worker_killed_mid_job_leaves_the_job_done_once_within_a_minute(
    pg: Postgres, rd: Redis, tmp_path: Path
) -> None:
    from ..checkout.conftest import Shop, priced, submission

    url, app = _slow_app(pg, rd)
    shop = Shop(app)
    link = shop.link([{"product": shop.product()}])
    client = app.test_client()
    assert (
        client.post(
            f"/pay/{link.slug}", data=priced(client, link, submission(client, link))
        ).status_code
        == 303
    )
    db = Database(url)
    command = worker_command(_slow_host(url, rd.url))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    first = Process("worker-1", command, env=env, log=tmp_path / "worker-1.log")
    second: Process | None = None
    try:
        running, _ = poll(
            lambda: db.outbox_by_state().get("running", 0), lambda n: n > 0, timeout=60
        )
        assert running, first.tail()
        killed_at = time.monotonic()
        first.kill(signal.SIGKILL, children=True)  # mid-job: the receiver sleeps
        assert db.scalar("SELECT count(*) FROM crm_tags") == 0  # nothing half-done
        second = Process("worker-2", command, env=env, log=tmp_path / "worker-2.log")
        done, _ = poll(
            lambda: db.outbox_by_state(),
            lambda by_state: by_state == {"done": 2},
            timeout=75,
        )
        took = time.monotonic() - killed_at
        assert done == {"done": 2}, second.tail()
        assert took < 60, f"took {took:.0f}s"
        # The receiver's row is there once: the killed run left nothing.
        assert db.rows("SELECT name FROM crm_tags") == [
            (f"paid {shop.payments()[0].reference}",)
        ]
    finally:
        for process in (first, second):
            if process is not None:
                process.stop()
        db.close()
        _dispose(app)


def test_the_worker_exits_cleanly_on_sigterm(
    pg: Postgres, rd: Redis, tmp_path: Path
) -> None:
    url, app = _slow_app(pg, rd)
    worker = subprocess.Popen(
        worker_command(_slow_host(url, rd.url)),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(4)
        worker.send_signal(signal.SIGTERM)
        _, errors = worker.communicate(timeout=30)
        assert worker.returncode == 0, errors
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        _dispose(app)


def test_a_worker_started_while_redis_is_down_waits_for_it(
    pg: Postgres, rd: Redis, tmp_path: Path
) -> None:
    from ..checkout.conftest import Shop, priced, submission

    url, app = _slow_app(pg, rd)
    db = Database(url)
    rd.stop(crash=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    command = worker_command(_slow_host(url, rd.url))
    worker = Process("worker", command, env=env, log=tmp_path / "worker.log")
    try:
        time.sleep(6)
        assert worker.alive, worker.tail()
        assert "Redis is unreachable" in worker.output()
        rd.start()
        shop = Shop(app)
        link = shop.link([{"product": shop.product()}])
        client = app.test_client()
        form = priced(client, link, submission(client, link))
        assert client.post(f"/pay/{link.slug}", data=form).status_code == 303
        done, _ = poll(
            lambda: db.outbox_by_state(),
            lambda by_state: by_state == {"done": 2},
            timeout=60,
        )
        assert done == {"done": 2}, worker.tail()
        assert "Redis is reachable again" in worker.output()
    finally:
        worker.stop()
        db.close()
        _dispose(app)
