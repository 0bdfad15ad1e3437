"""The example CRM's "Paid" timeline note, end to end through a real RQ worker.

A customer pays on the checkout of the example CRM with jobs on a real
redis-server; a ``flask paylinks worker`` process (the CLI, as a host runs
it) runs the follow-up; the note the CRM's ``payment_succeeded`` receiver
writes commits with it and shows in the contact's conversation.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from ..checkout.conftest import priced, submission
from ..conftest import ExampleDemo
from ..services import run_burst_worker


@pytest.mark.slow
def test_the_paid_note_is_written_by_the_worker(
    make_example_demo: Callable[..., ExampleDemo], database_url: str, redis_url: str
) -> None:
    from example_app.extensions import db
    from example_app.models import Customer, Message

    config = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "TESTING": True,
        "SECRET_KEY": "example-app-tests",
        "PAYLINKS_RATELIMIT_ENABLED": False,
        "PAYLINKS_REDIS_URL": redis_url,
        "WTF_CSRF_ENABLED": False,
    }
    demo = make_example_demo(**config)
    app = demo.app
    slug = demo.seed["acme"]["slugs"][0]

    link = SimpleNamespace(slug=slug)  # all the form helpers read of a link
    client = app.test_client()
    data = priced(
        client, link, submission(client, link, email="first.time@example.com")
    )  # type: ignore[arg-type]
    assert client.post(f"/pay/{slug}", data=data).status_code == 303

    with app.app_context():
        assert (
            db.session.scalars(
                select(Customer).where(Customer.email == "first.time@example.com")
            ).all()
            == []
        )  # the follow-up waits in Redis

    factory = f"example_app:create_app({config!r})"
    worker = run_burst_worker(factory, timeout=180)
    assert worker.returncode == 0, worker.stderr

    with app.app_context():
        [customer] = db.session.scalars(
            select(Customer).where(Customer.email == "first.time@example.com")
        ).all()
        notes = db.session.scalars(
            select(Message.body).where(
                Message.customer_id == customer.id, Message.channel == "note"
            )
        ).all()
    assert len(notes) == 1
    assert notes[0].startswith("Paid $")
