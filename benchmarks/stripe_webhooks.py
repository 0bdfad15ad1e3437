"""Events per second of Stripe's webhook endpoint next to two baselines, under gunicorn.

One command::

    .venv/bin/python benchmarks/stripe_webhooks.py [--payers 600] [--seconds 4]
        [--rounds 3] [--concurrency 8] [--workers 1] [--database-url URL|postgresql]

It seeds the example CRM (a throw-away SQLite file; ``--database-url
postgresql`` starts a throw-away PostgreSQL cluster as the other benchmarks
do, any other URL is used as it is and its demo merchants are wiped) on the
Stripe gateway with the tests' test keys, adds ``--payers`` pending $10.00
Stripe payments of the first merchant, each with its own PaymentIntent id,
and serves ``benchmarks.webhooks_app`` with gunicorn (sync workers). Then,
from ``--concurrency`` connections, it posts ``payment_intent.succeeded``
events shaped as Stripe's (a fresh event id per payment) and signed as
Stripe signs them (``Stripe-Signature: t=...,v1=HMAC-SHA256`` over the exact
body, signed when sent), in rounds that alternate four kinds of request for
``--seconds`` each:

* ``bare``: the bodies to ``POST /bench/bare`` (Flask reads them, says ok);
* ``verify``: to ``POST /bench/verify`` (only the signature checked);
* ``first``: to ``/paylinks/webhooks/stripe``, each event once: verified,
  stored, the payment moved to succeeded and its follow-ups owed in the
  outbox (the example CRM has no Redis by default, so they run in the
  request; ``--redis`` starts a redis-server and they are queued for an RQ
  worker instead, none runs: the outbox rows stay owed);
* ``again``: the events delivered before, redelivered (freshly signed, as
  Stripe does): verified and found applied before, nothing changes (the
  endpoint answers "duplicate").

A round's ``first`` stops early when its share of the payers is used. The
events left are delivered after the timing, then the database is CHECKED:
every payment succeeded once (one event row per event id, both follow-ups
owed exactly once, in the outbox); the run exits non-zero when it is not,
or when any request did not answer 200.

It prints each rate (mean of the rounds), its ratio to ``verify`` and to
``bare``, and the server CPU per request (on Linux; steadier than the rates
when other work shares the machine). With one worker the server gets one
core and the client the other on a two-core machine.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import itertools
import json
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.checkout_page import (  # noqa: E402
    bench_environ,
    fetch,
    free_port,
    worker_cpu_seconds,
)
from benchmarks.load import Tally, drive, http_request  # noqa: E402
from benchmarks.webhooks_app import WEBHOOK_SECRET  # noqa: E402
from tests.services import postgres_cluster, redis_server  # noqa: E402

URL = "/paylinks/webhooks/stripe"
KINDS = ("bare", "verify", "first", "again")
PATHS = {"bare": "/bench/bare", "verify": "/bench/verify", "first": URL, "again": URL}


# -- seeding ------------------------------------------------------------------


def _app(database_url: str) -> Any:
    from benchmarks.webhooks_app import create_app

    env = bench_environ()
    return create_app(
        {"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": env["SECRET_KEY"]}
    )


def seed(database_url: str, payers: int) -> list[str]:
    """Seed the CRM and *payers* pending Stripe payments; their PaymentIntent ids."""
    from example_app.extensions import db
    from example_app.seed import create_tables, seed_demo
    from tests.factories import make_payment

    app = _app(database_url)
    intents = [f"pi_{secrets.token_hex(12)}" for _ in range(payers)]
    with app.app_context():
        create_tables(db)
        demo = seed_demo(db, customers_per_account=20)
        owner, link_id = demo["acme"]["owner"], demo["acme"]["links"][0]
        for intent in intents:
            make_payment(
                owner,
                commit=False,
                link_id=link_id,
                state="pending",
                gateway="stripe",
                gateway_payment_id=intent,
            )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return intents


# -- events -------------------------------------------------------------------


def succeeded_event(intent: str) -> bytes:
    """A ``payment_intent.succeeded`` Event of a $10.00 USD *intent*, as Stripe's.

    The shape of ``tests/stripe/test_webhooks.py``'s ``intent_event``.
    """
    event = {
        "id": f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": "2025-01-27.acacia",
        "created": int(time.time()),
        "data": {
            "object": {
                "id": intent,
                "object": "payment_intent",
                "amount": 1000,
                "amount_received": 1000,
                "currency": "usd",
                "status": "succeeded",
                "livemode": False,
                "last_payment_error": None,
                "cancellation_reason": None,
                "metadata": {},
            }
        },
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "payment_intent.succeeded",
    }
    return json.dumps(event).encode()


def signed(path: str, port: int, body: bytes) -> bytes:
    """A POST of *body* to *path* with the ``Stripe-Signature`` Stripe sends now."""
    stamp = int(time.time())
    mac = hmac.new(WEBHOOK_SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
    headers = {
        "Content-Type": "application/json",
        "Stripe-Signature": f"t={stamp},v1={mac.hexdigest()}",
    }
    return http_request("POST", path, port, headers=headers, body=body)


@dataclass
class Events:
    """The bodies, and which were delivered (first deliveries answered 200)."""

    bodies: list[bytes]
    next_new: int = 0
    delivered: list[bytes] = field(default_factory=list)

    def first(self, port: int, until: int) -> Callable[[], bytes | None]:
        """Each body not sent yet, once, up to index *until*."""

        def take() -> bytes | None:
            if self.next_new >= min(until, len(self.bodies)):
                return None
            body = self.bodies[self.next_new]
            self.next_new += 1
            self.delivered.append(body)
            return signed(URL, port, body)

        return take

    def cycling(
        self, path: str, port: int, bodies: list[bytes]
    ) -> Callable[[], bytes | None]:
        """*bodies* in turn, forever, each freshly signed."""
        turn = itertools.cycle(list(bodies))
        return lambda: signed(path, port, next(turn))


# -- the run ------------------------------------------------------------------


@dataclass
class Figures:
    """Rates and server CPU per request, per kind and round."""

    rates: dict[str, list[float]] = field(
        default_factory=lambda: {k: [] for k in KINDS}
    )
    cpu_ms: dict[str, list[float]] = field(
        default_factory=lambda: {k: [] for k in KINDS}
    )
    answers: dict[str, Counter[str]] = field(
        default_factory=lambda: {k: Counter() for k in KINDS}
    )
    failed: int = 0
    timed_first: int = 0
    untimed_first: int = 0


@contextlib.contextmanager
def database(url: str | None, work: Path) -> Iterator[tuple[str, str]]:
    """The database URL to use, and what it is (for the report)."""
    if url is None:
        yield f"sqlite:///{work / 'bench.db'}", "SQLite (throw-away file)"
        return
    if url != "postgresql":
        from example_app import normalise_database_url

        yield normalise_database_url(url), url.split(":", 1)[0]
        return
    from sqlalchemy import create_engine, text

    with postgres_cluster() as pg:
        admin = create_engine(pg.admin_url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text('CREATE DATABASE "bench_webhooks"'))
        admin.dispose()
        yield pg.url("bench_webhooks"), "PostgreSQL (throw-away cluster)"


def measure(
    kind: str,
    port: int,
    master: int,
    request: Callable[[], bytes | None],
    seconds: float,
    concurrency: int,
    figures: Figures,
) -> Tally:
    """One timed phase of *kind*: its rate, CPU per request and answers recorded."""
    before = worker_cpu_seconds(master)
    tally = drive(port, request, seconds, concurrency, keep_answers=True)
    after = worker_cpu_seconds(master)
    figures.rates[kind].append(tally.rate)
    if before is not None and after is not None and tally.ok:
        figures.cpu_ms[kind].append((after - before) / tally.ok * 1000)
    figures.answers[kind].update(tally.answers)
    figures.failed += tally.failed
    return tally


def run(
    args: argparse.Namespace, database_url: str, redis_url: str | None
) -> tuple[Figures, list[str]]:
    """Seed, serve, drive the rounds and deliver what is left; the figures."""
    print(f"[seed] {args.payers:,} pending payments...", file=sys.stderr, flush=True)
    intents = seed(database_url, args.payers)
    events = Events([succeeded_event(intent) for intent in intents])
    port = free_port()
    env = {**bench_environ(), "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    if redis_url is not None:
        env["REDIS_URL"] = redis_url
    server = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "--workers",
            str(args.workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "benchmarks.webhooks_app:create_app()",
        ],
        cwd=ROOT,
        env=env,
    )
    figures = Figures()
    try:
        for _ in range(100):
            try:
                fetch(f"http://127.0.0.1:{port}/pay/static/paylinks/checkout.css")
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit("gunicorn did not start")
        warm = Figures()
        sample = events.bodies[:50]
        share = (len(events.bodies) - 2 * args.concurrency) // args.rounds
        for kind in ("bare", "verify"):
            request = events.cycling(PATHS[kind], port, sample)
            measure(kind, port, server.pid, request, 1.0, args.concurrency, warm)
        first = events.first(port, 2 * args.concurrency)
        measure("first", port, server.pid, first, 1.0, args.concurrency, warm)
        figures.failed += warm.failed
        figures.untimed_first += warm.answers["first"].total()
        for number in range(args.rounds):
            print(f"[round {number + 1}/{args.rounds}]", file=sys.stderr, flush=True)
            for kind in KINDS:
                if kind == "first":
                    until = events.next_new + share
                    request = events.first(port, until)
                elif kind == "again":
                    request = events.cycling(URL, port, events.delivered)
                else:
                    request = events.cycling(PATHS[kind], port, events.bodies)
                tally = measure(
                    kind,
                    port,
                    server.pid,
                    request,
                    args.seconds,
                    args.concurrency,
                    figures,
                )
                if kind == "first":
                    figures.timed_first += tally.ok + tally.failed
        rest = events.first(port, len(events.bodies))
        rest_tally = drive(port, rest, 600, args.concurrency)
        figures.failed += rest_tally.failed
        figures.untimed_first += rest_tally.ok + rest_tally.failed
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return figures, intents


# -- the check ----------------------------------------------------------------


def check(database_url: str, intents: list[str]) -> list[str]:
    """What is wrong in the database once every event was delivered (or nothing)."""
    from sqlalchemy import func, select

    from example_app.extensions import db
    from flask_paylinks.db.models import GatewayEvent, OutboxItem, Payment
    from flask_paylinks.payments.followups import FOLLOWUP_KINDS

    problems: list[str] = []
    app = _app(database_url)
    with app.app_context():
        session = db.session
        payments = {
            p.gateway_payment_id: p
            for p in session.scalars(select(Payment).where(Payment.gateway == "stripe"))
        }
        states = Counter(p.state for p in payments.values())
        if set(payments) != set(intents) or states != {"succeeded": len(intents)}:
            problems.append(
                f"payments: {dict(states)}, expected {len(intents)} succeeded"
            )
        if any(p.succeeded_at is None for p in payments.values()):
            problems.append("a payment has no succeeded_at")
        rows = session.execute(
            select(
                GatewayEvent.event_id,
                GatewayEvent.payment_id,
                GatewayEvent.processed_at,
            ).where(GatewayEvent.gateway == "stripe")
        ).all()
        per_event = Counter(row.event_id for row in rows)
        per_payment = Counter(row.payment_id for row in rows)
        ids = {p.id for p in payments.values()}
        if len(per_event) != len(intents) or max(per_event.values(), default=0) > 1:
            problems.append(
                f"event rows: {len(rows)} for {len(per_event)} event ids,"
                f" expected one for each of {len(intents)}"
            )
        if set(per_payment) != ids or max(per_payment.values(), default=0) != 1:
            problems.append("not exactly one stored event per payment")
        if any(row.processed_at is None for row in rows):
            problems.append("an event was stored unapplied (parked)")
        owed = Counter(
            (item.subject_id, item.kind)
            for item in session.scalars(
                select(OutboxItem).where(OutboxItem.kind.in_(FOLLOWUP_KINDS))
            )
        )
        expected = {(pid, kind): 1 for pid in ids for kind in FOLLOWUP_KINDS}
        if owed != expected:
            extra = sum(1 for key, n in owed.items() if n != expected.get(key))
            missing = sum(1 for key in expected if key not in owed)
            problems.append(
                f"follow-ups: {sum(owed.values())} outbox rows, expected"
                f" {len(expected)} ({missing} missing, {extra} wrong)"
            )
        outbox_states = session.execute(
            select(OutboxItem.state, func.count()).group_by(OutboxItem.state)
        ).all()
        print(
            "  outbox rows by state: "
            + ", ".join(f"{state} {count}" for state, count in outbox_states),
        )
        session.remove()
        db.engine.dispose()
    return problems


# -- the report ---------------------------------------------------------------


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def report(args: argparse.Namespace, figures: Figures, what: str) -> None:
    """Print the rates, ratios, CPU per request and answers."""
    print(
        f"gunicorn sync, {args.workers} worker(s); client: {args.concurrency}"
        f" connections; {args.rounds} rounds of {args.seconds:g} s; {what}"
    )
    verify, bare = _mean(figures.rates["verify"]), _mean(figures.rates["bare"])
    labels = {
        "bare": "bare      POST /bench/bare  ",
        "verify": "verify    POST /bench/verify",
        "first": "first     webhook, applied  ",
        "again": "again     webhook, stored   ",
    }
    for kind in KINDS:
        rate = _mean(figures.rates[kind])
        rounds = ", ".join(f"{r:.0f}" for r in figures.rates[kind])
        cpu = _mean(figures.cpu_ms[kind])
        cpu_text = f"{cpu:6.2f} ms CPU" if figures.cpu_ms[kind] else "   ? ms CPU"
        ratios = ""
        if kind in ("first", "again") and verify and bare:
            ratios = f"  {rate / verify:.2f} of verify, {rate / bare:.2f} of bare"
        print(
            f"  {labels[kind]} {rate:7.0f} events/s  {cpu_text}/request"
            f"  (rounds: {rounds}){ratios}"
        )
    print(
        f"  first deliveries: {figures.timed_first:,} timed,"
        f" {figures.untimed_first:,} untimed (warm-up and the rest)"
    )
    for kind in ("first", "again"):
        answers = ", ".join(f"{a!r} x{n}" for a, n in figures.answers[kind].items())
        print(f"  answers to {kind}: {answers}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--payers", type=int, default=600, help="pending payments")
    parser.add_argument(
        "--seconds", type=float, default=4.0, help="per kind, per round"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8, help="client connections")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers")
    parser.add_argument(
        "--database-url",
        default=None,
        help="'postgresql' for a throw-away PostgreSQL cluster, or a database URL"
        " (its demo merchants are wiped); default: a throw-away SQLite file",
    )
    parser.add_argument(
        "--redis",
        action="store_true",
        help="start a redis-server: follow-ups are queued, not run in the request",
    )
    args = parser.parse_args()
    if args.payers < 2 * args.concurrency + args.rounds:
        parser.error("--payers: too few for the warm-up and the rounds")

    work = Path(tempfile.mkdtemp(prefix="paylinks-bench-webhooks-"))
    try:
        with (
            database(args.database_url, work) as (database_url, what),
            redis_server() if args.redis else contextlib.nullcontext() as redis,
        ):
            started = time.perf_counter()
            figures, intents = run(args, database_url, redis.url if redis else None)
            what += "; follow-ups " + (
                "queued in Redis (no worker)" if redis else "run in the request"
            )
            report(args, figures, what)
            problems = check(database_url, intents)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"  ({time.perf_counter() - started:.0f} s from seeding to the check)")
    if figures.failed:
        problems.append(f"{figures.failed} requests did not answer 200")
    if problems:
        print("CHECK FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
        raise SystemExit(1)
    print(
        f"  check: {len(intents):,} payments succeeded once each; events and"
        " follow-ups stored once each"
    )


if __name__ == "__main__":
    main()
