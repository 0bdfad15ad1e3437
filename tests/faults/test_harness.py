"""The fault harness itself, end to end on real processes, with no fault injected.

PostgreSQL, redis-server, gunicorn (2 workers) and one ``flask paylinks
worker`` serve 10 customers paying for 5 seconds. The checkout must answer
no 5xx, each success page must be a succeeded payment (and each succeeded
payment a success page), and the worker must link every payment's contact.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import (
    DECLINED_CARD,
    ExampleCrm,
    Postgres,
    Redis,
    example_crm,
    poll,
    postgres,
    redis,
    run_load,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgresql]


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
