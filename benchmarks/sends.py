"""Bulk sends on PostgreSQL: queueing 100,000 messages, and the sustained send rate.

One command::

    .venv/bin/python benchmarks/sends.py [--contacts 100000] [--small 10000]
                                         [--rate-contacts 900] [--workers 1,4]

It starts a throw-away PostgreSQL cluster and a redis-server, seeds test
host A's tables (``crm_customers``, ``crm_tags``, ``crm_customer_tags``;
see ``tests/hosts/crm_a.py``) with ``--contacts`` customers holding valid
US mobiles in one tag and the first ``--small`` of them in another, and
measures:

1. **Queueing** (no worker runs): ``service.start_send`` to the small and
   the large tag, each in a fresh subprocess, from the call to its return
   (recipient rows inserted and committed, the range jobs in Redis). Peak
   memory is the process's peak RSS (``ru_maxrss``) minus its RSS right
   before the call, and, in a second subprocess, the peak of
   ``tracemalloc`` (Python allocations only; tracing slows the call, so
   its time is not the one reported). Next to it, in the same run and the
   same way, the FLOOR: one ``session.execute(insert(Recipient), rows)``
   of as many ready-made rows as the large tag has, committed, then as
   many pipelined ``RPUSH`` into the same Redis. Goals: time <= 2 x the
   floor; peak(large) <= peak(small) + 20 MB. When a goal is missed the
   large send is run once more under cProfile and the top of the profile
   is printed.
2. **Sustained rate**: an HTTPS fake of Vonage's SMS API
   (``tests/fake_vonage.py``) answering after ``--latency`` seconds, a send
   of ``--rate-contacts`` SMS drained by 1 and then by 4 real
   ``flask paylinks worker`` processes with ``PAYLINKS_SEND_RATE``
   ``--rate``. From the fake's receive times: messages/s from the first to
   the last, the most in any sliding 1-second window (the bucket allows
   the rate + a burst of 1), and whether every recipient got exactly one
   message (counted by ``to``).

PostgreSQL, Redis, the workers and this process share the machine; on a
busy two-core box the figures are a floor.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import signal
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402

from tests.services import (  # noqa: E402 (the services live beside the tests)
    postgres_cluster,
    redis_server,
    worker_command,
)

OWNER = "1"
SMS = "Hi {first_name}, your {link_name} pass: {link}"
#: Area codes whose 555 exchange ``phonenumbers`` takes as valid US numbers.
AREA_CODES = ("415", "650", "212", "310", "312", "617", "206", "512", "303", "404")
RATE_AREA_CODE = "718"
PUBLIC_URL = "https://crm.example.test"
MB = 1024 * 1024


# -- seeding ------------------------------------------------------------------


@dataclass
class Seeded:
    """What the benchmark database holds."""

    database_url: str
    large_tag: int
    small_tag: int
    rate_tag: int
    link_id: int
    contacts: int
    small: int
    rate_contacts: int


def _phone(i: int, area_codes: tuple[str, ...] = AREA_CODES) -> str:
    return f"+1{area_codes[i // 10000]}555{i % 10000:04d}"


def seed(database_url: str, args: argparse.Namespace) -> Seeded:
    """Migrate, create host A's tables and fill them; one link to send."""
    from flask_paylinks.db import migrate
    from tests.factories import make_link, make_product
    from tests.hosts import crm_a
    from tests.hosts.crm_a import Customer, Tag, customer_tags
    from tests.sends.helpers import hosted

    if args.contacts > 10000 * len(AREA_CODES):
        raise SystemExit(f"--contacts: at most {10000 * len(AREA_CODES):,}")
    engine = create_engine(database_url)
    migrate.upgrade(engine)
    engine.dispose()
    with hosted(database_url) as app, app.app_context():
        db = crm_a.db.session
        tags = [Tag(account_id=int(OWNER), name=n) for n in ("large", "small", "rate")]
        db.add_all(tags)
        db.flush()
        large, small, rate = (tag.id for tag in tags)

        def add(count: int, phone: Any, name: str) -> list[int]:
            ids: list[int] = []
            for start in range(0, count, 10000):
                rows = [
                    {
                        "account_id": int(OWNER),
                        "full_name": f"{name} {i}",
                        "mobile": phone(i),
                        "do_not_text": False,
                    }
                    for i in range(start, min(count, start + 10000))
                ]
                ids.extend(db.scalars(insert(Customer).returning(Customer.id), rows))
            return ids

        ids = add(args.contacts, _phone, "Customer")
        rate_ids = add(
            args.rate_contacts, lambda i: _phone(i, (RATE_AREA_CODE,)), "Texted"
        )
        members = (
            [(cid, large) for cid in ids]
            + [(cid, small) for cid in ids[: args.small]]
            + [(cid, rate) for cid in rate_ids]
        )
        for start in range(0, len(members), 20000):
            db.execute(
                insert(customer_tags),
                [
                    {"customer_id": cid, "tag_id": tid}
                    for cid, tid in members[start : start + 20000]
                ],
            )
        db.commit()
        product = make_product(OWNER, name="Yoga class", unit_amount=2500)
        link_id = make_link(OWNER, [product], name="Yoga").id
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return Seeded(
        database_url,
        large,
        small,
        rate,
        link_id,
        args.contacts,
        min(args.small, args.contacts),
        args.rate_contacts,
    )


def reset(database_url: str, redis_url: str) -> None:
    """No sends, no recipients, an empty Redis: each measurement starts alike."""
    from redis import Redis

    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("TRUNCATE paylinks_sends, paylinks_recipients CASCADE"))
        connection.execute(text("VACUUM ANALYZE paylinks_recipients"))
    engine.dispose()
    Redis.from_url(redis_url).flushdb()


# -- part 1: queueing, each measurement in a fresh process ---------------------


def _rss_now() -> int:
    """The resident set size now, in bytes (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_rss() -> int:
    """The process's peak resident set size so far, in bytes (Linux: KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@contextmanager
def _measured(mode: str, out: dict[str, Any]) -> Iterator[None]:
    """Time the block; its RSS growth to the peak, or tracemalloc's peak."""
    gc.collect()
    if mode == "tracemalloc":
        tracemalloc.start()
    rss_before = _rss_now()
    started = time.perf_counter()
    yield
    out["seconds"] = time.perf_counter() - started
    out["rss_peak_growth"] = max(0, _peak_rss() - rss_before)
    out["rss_before"] = rss_before
    if mode == "tracemalloc":
        out["traced_peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


def child_queue(spec: dict[str, Any]) -> dict[str, Any]:
    """In a fresh process: ``start_send`` to one tag, measured."""
    from redis import Redis

    from flask_paylinks.db.models import Recipient
    from flask_paylinks.db.session import session
    from flask_paylinks.sends import service
    from flask_paylinks.sends.audience import phone_problem
    from flask_paylinks.sends.compose import new_token
    from flask_paylinks.state import paylinks_state
    from tests.sends.helpers import hosted, link_of

    out: dict[str, Any] = {}
    with (
        hosted(spec["database_url"], PAYLINKS_REDIS_URL=spec["redis_url"]) as app,
        app.app_context(),
    ):
        # Warm up what any call loads once: the connection pool, the phone
        # metadata, rq, the directory's segments.
        link = link_of(spec["link_id"])
        paylinks_state().contacts.segments(OWNER)
        phone_problem("+14155550000")
        new_token()
        paylinks_state().jobs.connection().ping()
        import rq  # noqa: F401

        session().commit()
        selection = service.Selection(segment_ids=(str(spec["tag_id"]),))
        message = service.Message(sms_body=SMS)
        if spec["mode"] == "profile":
            import cProfile
            import pstats

            profile = cProfile.Profile()
            profile.enable()
            send = service.start_send(OWNER, link, selection, ["sms"], message)
            profile.disable()
            stats = pstats.Stats(profile, stream=sys.stderr)
            stats.sort_stats("cumulative").print_stats(30)
            stats.sort_stats("tottime").print_stats(20)
        else:
            with _measured(spec["mode"], out):
                send = service.start_send(OWNER, link, selection, ["sms"], message)
        out["send_state"] = str(send.state)
        out["recipients"] = session().scalar(
            select(func.count()).where(Recipient.send_id == send.id)
        )
        queue = f"rq:queue:{app.config['PAYLINKS_QUEUE_NAME']}"
        out["jobs"] = Redis.from_url(spec["redis_url"]).llen(queue)
    return out


def child_floor(spec: dict[str, Any]) -> dict[str, Any]:
    """In a fresh process: the same rows, ready-made, in one executemany + RPUSHes."""
    from redis import Redis

    from flask_paylinks.db.models import Recipient, RecipientState, Send, utcnow
    from flask_paylinks.db.session import session
    from flask_paylinks.sends.compose import new_token
    from tests.sends.helpers import hosted

    out: dict[str, Any] = {}
    count = int(spec["count"])
    with (
        hosted(spec["database_url"], PAYLINKS_REDIS_URL=spec["redis_url"]) as app,
        app.app_context(),
    ):
        db = session()
        now = utcnow()
        send = Send(
            owner_id=OWNER,
            link_id=spec["link_id"],
            channels="sms",
            sms_body=SMS,
            state="sending",
            base_url=PUBLIC_URL,
            created_at=now,
            updated_at=now,
        )
        db.add(send)
        db.commit()
        rows = [
            {
                "owner_id": OWNER,
                "send_id": send.id,
                "link_id": spec["link_id"],
                "contact_id": str(i + 1),
                "name": f"Customer {i}",
                "channel": "sms",
                "address": _phone(i),
                "token": new_token(),
                "state": RecipientState.QUEUED,
                "reason": None,
                "created_at": now,
                "dispatched_at": now,
            }
            for i in range(count)
        ]
        redis = Redis.from_url(spec["redis_url"])
        redis.ping()
        payloads = [f"{send.id}:{i}".encode() for i in range(count)]
        with _measured(spec["mode"], out):
            db.execute(insert(Recipient), rows)
            db.commit()
            for start in range(0, count, 1000):
                with redis.pipeline(transaction=False) as pipe:
                    for payload in payloads[start : start + 1000]:
                        pipe.rpush("bench:floor", payload)
                    pipe.execute()
        out["recipients"] = db.scalar(
            select(func.count()).where(Recipient.send_id == send.id)
        )
        out["jobs"] = redis.llen("bench:floor")
    return out


def run_child(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; its figures."""
    done = subprocess.run(
        [sys.executable, __file__, "_child", kind, json.dumps(spec)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{kind} {spec.get('mode')} failed:\n{done.stderr[-4000:]}")
    if kind == "queue" and spec["mode"] == "profile":
        print(done.stderr, file=sys.stderr)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@dataclass
class Queueing:
    """Part 1's figures."""

    small: dict[str, Any]
    large: dict[str, Any]
    floor: dict[str, Any]
    small_traced: dict[str, Any] | None = None
    large_traced: dict[str, Any] | None = None
    profiled: bool = False

    @property
    def ratio(self) -> float:
        """Queueing the large send over the floor."""
        return float(self.large["seconds"]) / float(self.floor["seconds"])

    @property
    def memory_growth(self) -> int:
        """Peak RSS growth of the large send over the small one, bytes."""
        return int(self.large["rss_peak_growth"]) - int(self.small["rss_peak_growth"])


def part_queueing(seeded: Seeded, redis_url: str, args: argparse.Namespace) -> Queueing:
    """Queue the small and the large send, and the floor, each in a fresh process."""
    base = {
        "database_url": seeded.database_url,
        "redis_url": redis_url,
        "link_id": seeded.link_id,
    }

    def queue(tag: int, mode: str, label: str) -> dict[str, Any]:
        reset(seeded.database_url, redis_url)
        print(f"[queue] {label} ({mode})...", file=sys.stderr, flush=True)
        return run_child("queue", {**base, "tag_id": tag, "mode": mode})

    small = queue(seeded.small_tag, "rss", f"{seeded.small:,}")
    large = queue(seeded.large_tag, "rss", f"{seeded.contacts:,}")
    reset(seeded.database_url, redis_url)
    print(f"[queue] floor {seeded.contacts:,}...", file=sys.stderr, flush=True)
    floor = run_child("floor", {**base, "count": seeded.contacts, "mode": "rss"})
    result = Queueing(small, large, floor)
    if not args.no_tracemalloc:
        result.small_traced = queue(seeded.small_tag, "tracemalloc", "small")
        result.large_traced = queue(seeded.large_tag, "tracemalloc", "large")
    if args.profile or result.ratio > 2 or result.memory_growth > 20 * MB:
        queue(seeded.large_tag, "profile", "large, under cProfile")
        result.profiled = True
    reset(seeded.database_url, redis_url)
    return result


# -- part 2: the sustained rate -------------------------------------------------


@dataclass
class Rate:
    """Part 2's figures for one number of workers."""

    workers: int
    expected: int
    received: int
    per_second: float
    max_in_window: int
    once_each: bool
    repeated: int
    missing: int
    states: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """The most timestamps in any half-open interval ``[t, t + window)``."""
    times = sorted(times)
    most = start = 0
    for end, at in enumerate(times):
        while at - times[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    return most


def _factory(database_url: str, redis_url: str, rate: int, rest_host: str) -> str:
    config = {
        "PAYLINKS_REDIS_URL": redis_url,
        "PAYLINKS_QUIET_HOURS": None,
        "PAYLINKS_PUBLIC_URL": PUBLIC_URL,
        "PAYLINKS_SEND_RATE": rate,
        "PAYLINKS_SMS_BACKEND": "vonage",
        "PAYLINKS_VONAGE_API_KEY": "abcd1234",
        "PAYLINKS_VONAGE_API_SECRET": "secret123",
        "PAYLINKS_SMS_FROM": "AcmeShop",
        "PAYLINKS_VONAGE_REST_HOST": rest_host,
    }
    keywords = ", ".join(f"{key}={value!r}" for key, value in config.items())
    return f"tests.hosts.crm_a:create_app({database_url!r}, {keywords})"


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def part_rate(
    seeded: Seeded, redis_url: str, args: argparse.Namespace, logs: Path
) -> list[Rate]:
    """A send drained by 1, then by 4 worker processes, against the fake Vonage."""
    from redis import Redis

    from flask_paylinks.db.models import Recipient
    from flask_paylinks.db.session import session
    from flask_paylinks.sends import service
    from tests.fake_vonage import fake_vonage, vonage_config
    from tests.sends.helpers import hosted, link_of

    results: list[Rate] = []
    redis = Redis.from_url(redis_url)
    with fake_vonage() as fake:
        fake.latency = args.latency
        factory = _factory(seeded.database_url, redis_url, args.rate, fake.rest_host)
        expected = {
            _phone(i, (RATE_AREA_CODE,)).lstrip("+")
            for i in range(seeded.rate_contacts)
        }
        for workers in args.workers:
            reset(seeded.database_url, redis_url)
            with fake.lock:
                fake.received.clear()
            print(
                f"[rate] {workers} worker(s) starting...", file=sys.stderr, flush=True
            )
            env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
            processes = []
            for n in range(workers):
                log = open(logs / f"worker-{workers}-{n}.log", "wb")  # noqa: SIM115
                processes.append(
                    subprocess.Popen(
                        worker_command(factory),
                        cwd=ROOT,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
            try:
                deadline = time.monotonic() + 90
                while redis.scard("rq:workers") < workers:
                    if time.monotonic() > deadline or any(
                        process.poll() is not None for process in processes
                    ):
                        raise SystemExit(f"the workers did not start; see {logs}")
                    time.sleep(0.2)
                with (
                    hosted(
                        seeded.database_url,
                        PAYLINKS_REDIS_URL=redis_url,
                        PAYLINKS_SEND_RATE=args.rate,
                        **vonage_config(fake),
                    ) as app,
                    app.app_context(),
                ):
                    send = service.start_send(
                        OWNER,
                        link_of(seeded.link_id),
                        service.Selection(segment_ids=(str(seeded.rate_tag),)),
                        ["sms"],
                        service.Message(sms_body=SMS),
                    )
                    send_id = send.id
                    print(
                        f"[rate] {workers} worker(s): sending {len(expected)} SMS...",
                        file=sys.stderr,
                        flush=True,
                    )
                    started = time.monotonic()
                    quiet_since, last_count = started, 0
                    while True:
                        count = len(fake.accepted())
                        now = time.monotonic()
                        if count != last_count:
                            quiet_since, last_count = now, count
                        if count >= len(expected) or now - quiet_since > 30:
                            break
                        time.sleep(0.25)
                    time.sleep(1.0)  # anything sent twice would come now
                    seconds = time.monotonic() - started
                    states = dict(
                        session()
                        .execute(
                            select(Recipient.state, func.count())
                            .where(Recipient.send_id == send_id)
                            .group_by(Recipient.state)
                        )
                        .all()
                    )
                    session().commit()
            finally:
                for process in processes:
                    _stop(process)
            accepted = fake.accepted()
            times = [message.at for message in accepted]
            by_to = Counter(message.to for message in accepted)
            span = max(times) - min(times) if len(times) > 1 else 0.0
            results.append(
                Rate(
                    workers=workers,
                    expected=len(expected),
                    received=len(accepted),
                    per_second=(len(times) - 1) / span if span else 0.0,
                    max_in_window=max_in_window(times),
                    once_each=set(by_to) == expected
                    and all(n == 1 for n in by_to.values()),
                    repeated=sum(n - 1 for n in by_to.values() if n > 1),
                    missing=len(expected - set(by_to)),
                    states={str(k): int(v) for k, v in states.items()},
                    seconds=seconds,
                )
            )
    return results


# -- the report ---------------------------------------------------------------


def _mb(value: int | None) -> str:
    return "-" if value is None else f"{value / MB:.1f}"


def report(
    seeded: Seeded,
    queueing: Queueing | None,
    rates: list[Rate],
    args: argparse.Namespace,
) -> None:
    """Print every figure in one table."""
    rows: list[tuple[str, str]] = []
    if queueing is not None:
        q = queueing
        small, large = f"{seeded.small:,}", f"{seeded.contacts:,}"
        rows += [
            (f"queue {small} (s)", f"{q.small['seconds']:.2f}"),
            (f"queue {large} (s)", f"{q.large['seconds']:.2f}"),
            (f"floor {large}: executemany + RPUSH (s)", f"{q.floor['seconds']:.2f}"),
            ("ratio queue / floor (goal <= 2.0)", f"{q.ratio:.2f}"),
            (
                f"  rows / jobs queued {small}",
                f"{q.small['recipients']:,} / {q.small['jobs']:,}",
            ),
            (
                f"  rows / jobs queued {large}",
                f"{q.large['recipients']:,} / {q.large['jobs']:,}",
            ),
            (
                f"  rows / RPUSH floor {large}",
                f"{q.floor['recipients']:,} / {q.floor['jobs']:,}",
            ),
            (f"peak RSS growth {small} (MB)", _mb(q.small["rss_peak_growth"])),
            (f"peak RSS growth {large} (MB)", _mb(q.large["rss_peak_growth"])),
            (
                f"  {large} minus {small} (goal <= 20 MB)",
                _mb(q.memory_growth),
            ),
            (
                f"  floor {large} (rows built before) (MB)",
                _mb(q.floor["rss_peak_growth"]),
            ),
        ]
        if q.small_traced and q.large_traced:
            rows += [
                (
                    f"tracemalloc peak {small} / {large} (MB)",
                    f"{_mb(q.small_traced['traced_peak'])} / "
                    f"{_mb(q.large_traced['traced_peak'])}",
                ),
            ]
    for r in rates:
        label = f"{r.workers} worker{'s' if r.workers > 1 else ''}"
        rows += [
            (f"{label}: SMS received / sent", f"{r.received} / {r.expected}"),
            (f"{label}: msgs/s first to last", f"{r.per_second:.1f}"),
            (
                f"{label}: most in any 1 s (limit {args.rate:g} + 1)",
                str(r.max_in_window),
            ),
            (
                f"{label}: each recipient exactly once",
                "yes"
                if r.once_each
                else f"NO ({r.repeated} repeated, {r.missing} missing)",
            ),
            (
                f"{label}: recipient states",
                ", ".join(f"{k} {v}" for k, v in sorted(r.states.items())),
            ),
        ]
    width = max(len(label) for label, _ in rows) + 2
    print(
        f"PostgreSQL + Redis on this machine ({os.cpu_count()} CPUs); "
        f"rate part: fake Vonage answering in {args.latency * 1000:.0f} ms, "
        f"PAYLINKS_SEND_RATE={args.rate:g}"
    )
    for label, value in rows:
        print(f"{label:<{width}}{value:>16}")


def main() -> None:
    """Parse the arguments, start the services, run the parts, print the table."""
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        kind, spec = sys.argv[2], json.loads(sys.argv[3])
        figures = child_queue(spec) if kind == "queue" else child_floor(spec)
        print(json.dumps(figures))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--rate-contacts", type=int, default=900)
    parser.add_argument("--rate", type=int, default=30, help="PAYLINKS_SEND_RATE")
    parser.add_argument(
        "--latency", type=float, default=0.05, help="the fake Vonage's answer time (s)"
    )
    parser.add_argument(
        "--workers",
        default="1,4",
        type=lambda text: [int(n) for n in text.split(",") if n.strip()],
        help="comma-separated numbers of worker processes",
    )
    parser.add_argument(
        "--parts", default="queue,rate", help="comma-separated, from: queue, rate"
    )
    parser.add_argument("--no-tracemalloc", action="store_true")
    parser.add_argument(
        "--profile", action="store_true", help="profile the large send anyway"
    )
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the workers' logs"
    )
    args = parser.parse_args()
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    if not parts or parts - {"queue", "rate"}:
        parser.error("--parts: queue, rate or both")
    import shutil
    import tempfile

    logs = Path(tempfile.mkdtemp(prefix="paylinks-bench-sends-"))
    try:
        queueing, rates, seeded = run(args, parts, logs)
    except BaseException:
        print(f"(worker logs in {logs})", file=sys.stderr)
        raise
    report(seeded, queueing, rates, args)
    if args.keep_logs:
        print(f"(worker logs in {logs})", file=sys.stderr)
    else:
        shutil.rmtree(logs, ignore_errors=True)


def run(
    args: argparse.Namespace, parts: set[str], logs: Path
) -> tuple[Queueing | None, list[Rate], Seeded]:
    """Start PostgreSQL and Redis, seed, and run the parts asked for."""
    with postgres_cluster() as pg, redis_server() as rd:
        admin = create_engine(pg.admin_url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text('CREATE DATABASE "bench_sends"'))
        admin.dispose()
        print(f"[seed] {args.contacts:,} contacts...", file=sys.stderr, flush=True)
        seeded = seed(pg.url("bench_sends"), args)
        queueing = part_queueing(seeded, rd.url, args) if "queue" in parts else None
        rates = part_rate(seeded, rd.url, args, logs) if "rate" in parts else []
    return queueing, rates, seeded


if __name__ == "__main__":
    main()
