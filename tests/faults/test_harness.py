"""The fault harness itself, on real processes.

PostgreSQL, redis-server, gunicorn (2 workers) and one ``flask paylinks
worker`` serve 10 customers paying for 5 seconds, with no fault injected.
The checkout must answer no 5xx, each success page must be a succeeded
payment (and each succeeded payment a success page), and the worker must
link every payment's contact. The controls the fault tests rely on are
checked too: PostgreSQL and Redis come back on the same port (Redis empty),
and a SIGKILLed worker is gone while a new one takes its place.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_client
from sqlalchemy.exc import OperationalError

from .harness import (
    DECLINED_CARD,
    Database,
    ExampleCrm,
    Postgres,
    Redis,
    example_crm,
    poll,
    postgres,
    redis,
    run_load,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgresql, pytest.mark.faults]


@pytest.fixture(scope="module")
def pg() -> Iterator[Postgres]:
    """A PostgreSQL cluster of this module's own."""
    with postgres() as server:
        yield server


@pytest.fixture
def rd(tmp_path: Path) -> Iterator[Redis]:
    """A redis-server for one test."""
    with redis(tmp_path) as server:
        yield server


@pytest.fixture
def crm(pg: Postgres, rd: Redis, tmp_path: Path) -> Iterator[ExampleCrm]:
    """The example CRM: gunicorn with 2 workers and 1 job worker, on RQ."""
    with example_crm(
        pg.create_database(), rd.url, web_workers=2, job_workers=1, logs=tmp_path
    ) as served:
        yield served


def test_customers_pay_and_the_worker_links_every_contact(crm: ExampleCrm) -> None:
    load = run_load(crm.base_url, crm.links, customers=10, seconds=5)
    context = f"\n{load.summary()}\n{crm.tails()}"

    assert not load.server_errors(), context
    assert not load.no_answer(), context
    assert load.statuses("page") == {200: len(load.of("page"))}, context
    assert load.statuses("quote") == {200: len(load.of("quote"))}, context
    pays = load.of("pay")
    assert pays, context
    assert {h.status for h in pays} <= {303, 402}, context
    declined = [h for h in pays if h.card == DECLINED_CARD]
    assert declined, "the load paid with the declined card at least once"
    assert all(h.status == 402 for h in declined), context
    assert all(h.status == 200 for h in load.of("receipt")), context
    assert len(load.of("receipt")) == len(load.paid())

    # Each success page is one succeeded payment, and nothing else succeeded.
    references = load.references()
    assert all(references), "every success page names its payment"
    assert len(set(references)) == len(references)
    states = crm.db.payment_states()
    assert {states.get(r) for r in references} == {"succeeded"}, context
    assert crm.db.payments_by_state().get("succeeded", 0) == len(references)
    assert crm.db.payments_by_state().get("pending", 0) == 0

    # The worker links each payment to a contact: a new one per new email.
    unlinked, waited = poll(
        crm.db.succeeded_without_contact, lambda n: n == 0, timeout=30
    )
    assert unlinked == 0, f"{unlinked} payments unlinked after {waited:.0f}s{context}"
    emails = {h.email.lower() for h in load.paid()}
    assert crm.db.contacts_per_email(sorted(emails)) == dict.fromkeys(emails, 1)
    assert crm.workers[0].alive, context


def test_postgres_comes_back_on_the_same_url(pg: Postgres) -> None:
    db = Database(pg.create_database())
    try:
        with db.engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE kept (n integer)")
            connection.exec_driver_sql("INSERT INTO kept VALUES (7)")
        pg.stop()
        assert not pg.is_running()
        with pytest.raises(OperationalError):
            db.scalar("SELECT 1")
        pg.start()
        assert pg.is_running()
        assert db.scalar("SELECT n FROM kept") == 7
        down = pg.restart(down_for=0.3)
        assert down >= 0.3
        assert db.scalar("SELECT n FROM kept") == 7
    finally:
        db.close()


def test_redis_restarts_empty_on_the_same_port(rd: Redis) -> None:
    client = redis_client.Redis.from_url(rd.url)
    try:
        client.set("queued", "job")
        port = rd.port
        rd.stop()
        assert not rd.is_running()
        with pytest.raises(redis_client.ConnectionError):
            client.get("queued")
        rd.start()
        assert rd.port == port
        assert client.get("queued") is None
        client.set("queued", "again")
        rd.restart(down_for=0.2, crash=True)
        assert client.get("queued") is None
    finally:
        client.close()


def test_a_killed_worker_is_gone_and_a_new_one_works(crm: ExampleCrm) -> None:
    first = crm.workers[0]
    # The whole group, as when a container is killed.
    crm.kill_worker(first, children=True)
    assert not first.alive
    assert first.popen.returncode == -9

    second = crm.start_worker()
    load = run_load(crm.base_url, crm.links, customers=2, seconds=2)
    assert load.paid(), load.summary()
    unlinked, _ = poll(crm.db.succeeded_without_contact, lambda n: n == 0, timeout=75)
    assert unlinked == 0, crm.tails()
    assert second.alive
    assert "paylinks-outbox-" in second.output()


def test_a_job_handed_to_a_killed_worker_still_runs(crm: ExampleCrm) -> None:
    first = crm.workers[0]
    crm.kill_worker(first)  # the worker's pid only, as `kill -9 PID`
    crm.start_worker()
    load = run_load(crm.base_url, crm.links, customers=1, seconds=60, max_payments=3)
    assert len(load.paid()) >= 1, load.summary()
    # Whatever Redis handed the dead worker, the sweeper hands out again.
    unlinked, _ = poll(crm.db.succeeded_without_contact, lambda n: n == 0, timeout=75)
    assert unlinked == 0, crm.tails()
