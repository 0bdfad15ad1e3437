"""Do the follow-ups keep up with the checkout? RQ workers next to jobs inline.

One command::

    .venv/bin/python benchmarks/followups.py [--seconds 60] [--payers 40]

It starts a throw-away PostgreSQL cluster, and for each mode a fresh
database with the example CRM seeded on it, served by gunicorn (4 sync
workers). ``rq``: jobs go to a redis-server and 2 ``flask paylinks worker``
processes run them; ``inline``: no Redis, each follow-up runs in the web
request after the payment. Then ``--payers`` customer threads pay for
``--seconds`` (85 % good card, 15 % declined, coupons on the link that
takes them; see ``tests/faults/harness.py``), and it prints, side by side:

* payments/s (success pages) and declines;
* p50/p95 of the checkout page GET and of the pay POST;
* follow-ups done per second while the load ran (and per worker);
* the backlog when the load stopped and 10 s later, and how long it took
  to drain.

A follow-up is counted as an outbox row ``done`` once ``paylinks_outbox``
is in use; before that, as a succeeded payment whose follow-up finished
(``followed_up_at`` set). The payers, the server, the workers and
PostgreSQL share the machine, so on two cores the figures are a floor.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.faults.harness import (  # noqa: E402 (the harness lives beside the tests)
    DECLINED_CARD,
    Database,
    ExampleCrm,
    LoadResult,
    Postgres,
    example_crm,
    postgres,
    redis,
    run_load,
)

MODES = ("rq", "inline")


@dataclass
class Sample:
    """Follow-ups done and owed at one moment (seconds since the load started)."""

    at: float
    done: int
    backlog: int


@dataclass
class Figures:
    """What one mode measured."""

    mode: str
    job_workers: int
    load: LoadResult
    counted: str = "payments"
    samples: list[Sample] = field(default_factory=list)
    backlog_at_stop: int = 0
    backlog_10s_after: int | None = None
    drain_seconds: float | None = None
    done_at_start: int = 0
    done_at_stop: int = 0


class Sampler:
    """Counts follow-ups done and owed every *interval* seconds in a thread."""

    def __init__(self, db: Database, started: float, interval: float = 1.0) -> None:
        self.db = db
        self.started = started
        self.interval = interval
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def take(self) -> Sample:
        """Count now."""
        _, done = self.db.jobs_done()
        _, backlog = self.db.backlog()
        sample = Sample(time.monotonic() - self.started, done, backlog)
        self.samples.append(sample)
        return sample

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.take()

    @contextlib.contextmanager
    def running(self) -> Iterator[Sampler]:
        """Sample in the background while the block runs."""
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(timeout=30)


def warm_up(crm: ExampleCrm, rounds: int = 3) -> None:
    """Load each link's page a few times so every gunicorn worker has imported."""
    for _ in range(rounds):
        for link in crm.links:
            requests.get(f"{crm.base_url}/pay/{link.slug}", timeout=30)


def measure(
    crm: ExampleCrm, mode: str, job_workers: int, args: argparse.Namespace
) -> Figures:
    """Run the load against *crm*, then watch the follow-ups drain."""
    warm_up(crm)
    started = time.monotonic()
    sampler = Sampler(crm.db, started)
    first = sampler.take()
    with sampler.running():
        load = run_load(
            crm.base_url, crm.links, customers=args.payers, seconds=args.seconds
        )
        stopped = sampler.take()
        figures = Figures(
            mode,
            job_workers,
            load,
            counted=crm.db.backlog()[0],
            backlog_at_stop=stopped.backlog,
            done_at_start=first.done,
            done_at_stop=stopped.done,
        )
        deadline = time.monotonic() + args.drain_timeout
        backlog = stopped.backlog
        while True:
            now = time.monotonic()
            since = now - load.finished
            if figures.backlog_10s_after is None and since >= 10:
                figures.backlog_10s_after = backlog
            if backlog == 0:
                figures.drain_seconds = since
                break
            if now >= deadline:
                break
            time.sleep(0.25)
            backlog = crm.db.backlog()[1]
        if figures.drain_seconds is not None and figures.backlog_10s_after is None:
            figures.backlog_10s_after = 0  # drained within 10 s; nothing new comes
    figures.samples = sampler.samples
    return figures


def run_mode(pg: Postgres, mode: str, args: argparse.Namespace, logs: Path) -> Figures:
    """Serve a fresh CRM in *mode* and measure it."""
    folder = logs / mode
    folder.mkdir()
    database_url = pg.create_database(f"bench_{mode}")
    print(f"[{mode}] seeding and starting gunicorn...", file=sys.stderr, flush=True)
    if mode == "rq":
        with (
            redis(folder) as server,
            example_crm(
                database_url,
                server.url,
                web_workers=args.web_workers,
                job_workers=args.job_workers,
                logs=folder,
            ) as crm,
        ):
            print(f"[{mode}] load running...", file=sys.stderr, flush=True)
            return measure(crm, mode, args.job_workers, args)
    with example_crm(
        database_url, None, web_workers=args.web_workers, logs=folder
    ) as crm:
        print(f"[{mode}] load running...", file=sys.stderr, flush=True)
        return measure(crm, mode, 0, args)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def _rows(figures: Figures, args: argparse.Namespace) -> dict[str, str]:
    load = figures.load
    paid = len(load.paid())
    declined = sum(
        1 for h in load.of("pay") if h.card == DECLINED_CARD and h.status == 402
    )
    done_under_load = figures.done_at_stop - figures.done_at_start
    per_second = done_under_load / load.seconds
    drain = figures.drain_seconds
    after = figures.backlog_10s_after
    if figures.job_workers:
        per_worker = f"{per_second / figures.job_workers:.1f}"
    else:
        per_worker = "(in the web workers)"
    if figures.backlog_at_stop and drain is not None:
        drain_rate = f"{figures.backlog_at_stop / drain:.1f}"
    else:
        drain_rate = "-"
    return {
        "payments/s (success pages)": f"{paid / load.seconds:.1f}",
        "success pages / declined": f"{paid} / {declined}",
        "page GET p50 / p95 (ms)": (
            f"{_ms(load.latency('page', 0.5))} / {_ms(load.latency('page', 0.95))}"
        ),
        "pay POST p50 / p95 (ms)": (
            f"{_ms(load.latency('pay', 0.5))} / {_ms(load.latency('pay', 0.95))}"
        ),
        "follow-ups done/s under load": f"{per_second:.1f}",
        "  per job worker": per_worker,
        "backlog when the load stopped": str(figures.backlog_at_stop),
        "backlog 10 s after": "?" if after is None else str(after),
        "drain time (s)": (
            f"> {args.drain_timeout:.0f} (not drained)"
            if drain is None
            else f"{drain:.1f}"
        ),
        "follow-ups/s while draining": drain_rate,
        "5xx / no answer": f"{len(load.server_errors())} / {len(load.no_answer())}",
        "counted as": figures.counted,
    }


def report(results: list[Figures], args: argparse.Namespace) -> None:
    """Print the table, one column per mode."""
    titles = {
        "rq": f"RQ, {args.job_workers} workers",
        "inline": "inline (no Redis)",
    }
    columns = [(titles[f.mode], _rows(f, args)) for f in results]
    labels = list(columns[0][1])
    width = max(len(label) for label in labels) + 2
    col = max(22, *(len(title) + 2 for title, _ in columns))
    print(
        f"{args.payers} payers for {args.seconds:g} s; gunicorn {args.web_workers} "
        "sync workers; PostgreSQL; each payment: page, quote, pay, receipt"
    )
    print(" " * width + "".join(f"{title:>{col}}" for title, _ in columns))
    for label in labels:
        print(
            f"{label:<{width}}"
            + "".join(f"{rows[label]:>{col}}" for _, rows in columns)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="load duration")
    parser.add_argument("--payers", type=int, default=40, help="concurrent customers")
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--job-workers", type=int, default=2, help="RQ workers")
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=300.0,
        help="seconds to wait for the backlog to drain after the load",
    )
    parser.add_argument(
        "--modes",
        default=",".join(MODES),
        help="comma-separated, from: " + ", ".join(MODES),
    )
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the processes' logs"
    )
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(modes) - set(MODES)
    if unknown or not modes:
        parser.error(f"unknown mode(s): {', '.join(sorted(unknown)) or '(none)'}")

    logs = Path(tempfile.mkdtemp(prefix="paylinks-bench-followups-"))
    results = []
    try:
        with postgres() as pg:
            for mode in modes:
                results.append(run_mode(pg, mode, args, logs))
    finally:
        if args.keep_logs:
            print(f"logs kept in {logs}", file=sys.stderr)
        else:
            shutil.rmtree(logs, ignore_errors=True)
    report(results, args)


if __name__ == "__main__":
    main()
