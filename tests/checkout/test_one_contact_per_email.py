"""Concurrent first payments by one new email make one contact, on any database.

Real concurrent HTTP requests to a served app, with follow-ups inline (the
fallback when Redis is away too) and through a real RQ worker; on SQLite,
and on PostgreSQL with ``--db=postgresql``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from flask import Flask

from ..browser import live_server
from ..hosts import crm_a
from .conftest import Shop, priced, submission
from .test_hostile_customers import all_at_once, http_post

PAIRS = 30


def _pay_in_pairs(app: Flask) -> list[str]:
    """30 new emails, each paid for by two customers at the same moment."""
    shop = Shop(app)
    link = shop.link([{"product": shop.product()}], require_phone=True)
    forms = []
    emails = []
    for pair in range(PAIRS):
        email = f"new{pair}@example.com"
        emails.append(email)
        for twin in range(2):
            client = app.test_client()
            phone = f"(415) 555-{1000 + pair * 2 + twin:04d}"
            forms.append(
                priced(client, link, submission(client, link, email=email, phone=phone))
            )
    with live_server(app) as server:
        answers = all_at_once(
            len(forms), lambda i: http_post(server, f"/pay/{link.slug}", forms[i])
        )
    assert [code for code, _ in answers] == [303] * len(forms)
    return emails


def _contacts_per_email(app: Flask) -> Counter[str]:
    with app.app_context():
        emails = crm_a.db.session.scalars(crm_a.db.select(crm_a.Customer.email))
        return Counter(e for e in emails if e)


def test_inline_follow_ups_make_one_contact_per_email(host_a: Flask) -> None:
    emails = _pay_in_pairs(host_a)
    counts = _contacts_per_email(host_a)
    assert {email: counts[email] for email in emails} == dict.fromkeys(emails, 1)
    shop = Shop(host_a)
    paid = shop.payments(state="succeeded")
    assert len(paid) == 2 * PAIRS
    assert all(p.contact_id is not None and p.followed_up_at for p in paid)


@pytest.fixture
def queued(database_url: str, redis_url: str) -> Iterator[Flask]:
    app = crm_a.create_app(database_url, PAYLINKS_REDIS_URL=redis_url)
    with app.app_context():
        crm_a.db.create_all()
    yield app
    with app.app_context():
        crm_a.db.session.remove()
        crm_a.db.engine.dispose()


@pytest.mark.slow
def test_follow_ups_on_two_real_workers_make_one_contact_per_email(
    queued: Flask, database_url: str, redis_url: str
) -> None:
    import subprocess
    import sys

    from .test_jobs_and_limits import ROOT

    emails = _pay_in_pairs(queued)
    assert _contacts_per_email(queued) == Counter()  # all still queued
    factory = (
        f"tests.hosts.crm_a:create_app({database_url!r}, "
        f"PAYLINKS_REDIS_URL={redis_url!r})"
    )
    command = [sys.executable, "-m", "flask", "--app", factory, "paylinks", "worker"]
    workers = [
        subprocess.Popen(
            [*command, "--burst"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for worker in workers:
        _, errors = worker.communicate(timeout=180)
        assert worker.returncode == 0, errors
    counts = _contacts_per_email(queued)
    assert {email: counts[email] for email in emails} == dict.fromkeys(emails, 1)
    paid = Shop(queued).payments(state="succeeded")
    assert all(p.contact_id is not None for p in paid)
