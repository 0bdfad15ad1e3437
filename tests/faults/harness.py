"""Real processes for the fault tests and the follow-up benchmark, and a bounded load.

Everything here starts a real process and hands back something that controls
it; every context manager stops what it started, whatever happens inside:

* :func:`postgres` — a throw-away PostgreSQL cluster that can be stopped,
  started and restarted on the same port (:class:`Postgres`);
* :func:`redis` — a redis-server without persistence that can be stopped and
  started again on the same port, empty, as after a crash (:class:`Redis`);
* :func:`example_crm` — the example CRM on a database: tables made, demo
  seeded, served by gunicorn with N sync workers, plus K ``flask paylinks
  worker`` processes that can be SIGKILLed and replaced (:class:`ExampleCrm`);
* :func:`run_load` — M customer threads paying the CRM's links for T seconds
  with ``requests`` (CSRF token and cookie as a browser has them), recording
  each request (:class:`LoadResult`);
* :class:`Database` — reads the CRM's database directly: payments and outbox
  rows by state, follow-ups owed, contacts per email, timeline notes.

A typical fault test::

    with postgres() as pg, redis() as rd:
        with example_crm(pg.create_database(), rd.url, job_workers=2) as crm:
            load = run_load(crm.base_url, crm.links, customers=10, seconds=5)
            assert not load.server_errors()
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from ..services import (
    PostgresCluster,
    ServiceUnavailable,
    _as_postgres_user,
    _pg_tool,
    free_port,
    wait_for_port,
    worker_command,
)

ROOT = Path(__file__).resolve().parents[2]
#: The example CRM's SECRET_KEY in every process the harness starts; the load
#: reads payment references out of receipt URLs with it.
SECRET_KEY = "paylinks-fault-harness"
#: Salt of the receipt token (``flask_paylinks.web.checkout.views.RECEIPT_SALT``).
RECEIPT_SALT = "paylinks.receipt"
#: All customers come from 127.0.0.1, so the per-address checkout limits
#: would answer 429 after 20 payments a minute: the served app turns them off.
APP_FACTORY = "example_app:create_app({'PAYLINKS_RATELIMIT_ENABLED': False})"
GOOD_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"
#: The coupon every demo merchant has (10 % off).
DEMO_COUPON = "WELCOME10"

T = TypeVar("T")


# -- child processes --------------------------------------------------------


class Process:
    """A child process in its own process group, its output in a log file."""

    def __init__(
        self, name: str, args: Sequence[str], *, env: Mapping[str, str], log: Path
    ) -> None:
        self.name = name
        self.log_path = log
        self._log = log.open("ab")
        self.popen = subprocess.Popen(
            list(args),
            cwd=ROOT,
            env=dict(env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        """The process id."""
        return self.popen.pid

    @property
    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL, *, children: bool = False) -> None:
        """Send *sig* to the process (with *children*: its whole group).

        After SIGKILL the process is reaped before this returns.
        """
        with contextlib.suppress(ProcessLookupError):
            if children:
                os.killpg(self.popen.pid, sig)
            else:
                self.popen.send_signal(sig)
        if sig == signal.SIGKILL:
            self.popen.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL to the whole group after *timeout*; close the log."""
        try:
            if self.alive:
                self.popen.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.popen.wait(timeout=timeout)
            # Whatever the process left behind in its group (gunicorn's
            # workers after a killed master) goes too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)
        finally:
            self._log.close()

    def output(self) -> str:
        """Everything the process wrote so far."""
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 40) -> str:
        """The last *lines* lines the process wrote, for a failure message."""
        text_lines = self.output().splitlines()[-lines:]
        return f"--- {self.name} (pid {self.pid}) ---\n" + "\n".join(text_lines)

    def wait_for_output(self, needle: str, timeout: float = 60.0) -> None:
        """Block until the log holds *needle*; fail when the process dies first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.output():
                return
            if not self.alive:
                raise ServiceUnavailable(f"{self.name} exited\n{self.tail()}")
            time.sleep(0.1)
        raise ServiceUnavailable(
            f"{self.name} did not log {needle!r} in {timeout}s\n{self.tail()}"
        )


def poll(
    probe: Callable[[], T],
    done: Callable[[T], bool],
    *,
    timeout: float,
    interval: float = 0.25,
) -> tuple[T, float]:
    """Call *probe* until *done* holds or *timeout* passes: (last value, seconds)."""
    started = time.monotonic()
    while True:
        value = probe()
        waited = time.monotonic() - started
        if done(value) or waited >= timeout:
            return value, waited
        time.sleep(interval)


# -- PostgreSQL -------------------------------------------------------------


class Postgres(PostgresCluster):
    """A throw-away PostgreSQL cluster that can be stopped and started again.

    It keeps its folder and port across a restart, so URLs handed out before
    stay valid: clients see the outage and then the same server again.
    """

    def __init__(self, directory: Path, port: int) -> None:
        super().__init__(directory, port)
        self.data = directory / "data"
        self._pg_ctl = _pg_tool("pg_ctl")

    def _ctl(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            _as_postgres_user([self._pg_ctl, "-D", str(self.data), *args]),
            capture_output=True,
            check=False,
            env={**os.environ, "LC_ALL": "C.UTF-8"},
        )

    def is_running(self) -> bool:
        """Whether the server is up (``pg_ctl status``)."""
        return self._ctl("status").returncode == 0

    def start(self) -> None:
        """Start the server and wait until it takes connections."""
        options = (
            f"-k {self.directory} -p {self.port} -c listen_addresses='' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        log = self.directory / "log"
        done = self._ctl("-o", options, "-l", str(log), "-w", "-t", "60", "start")
        if done.returncode != 0:
            detail = log.read_text() if log.exists() else done.stderr.decode()
            raise ServiceUnavailable(f"PostgreSQL did not start: {detail}")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` (clients cut off) or ``immediate`` (a crash)."""
        self._ctl("-m", mode, "-w", "stop")

    def restart(self, down_for: float = 0.0, mode: str = "fast") -> float:
        """Stop, stay down *down_for* seconds, start; the seconds it was down."""
        self.stop(mode)
        stopped = time.monotonic()
        time.sleep(down_for)
        self.start()
        return time.monotonic() - stopped

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database; its URL."""
        name = name or f"f_{uuid.uuid4().hex[:12]}"
        admin = create_engine(self.admin_url(), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        return self.url(name)


@contextlib.contextmanager
def postgres() -> Iterator[Postgres]:
    """A new PostgreSQL cluster in a temporary folder; removed afterwards."""
    initdb = _pg_tool("initdb")
    directory = Path(tempfile.mkdtemp(prefix="paylinks-faults-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    server = Postgres(directory, free_port())
    try:
        made = subprocess.run(
            _as_postgres_user(
                [
                    initdb,
                    "-D",
                    str(server.data),
                    "-U",
                    server.user,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-sync",
                ]
            ),
            capture_output=True,
            check=False,
            env={**os.environ, "LC_ALL": "C.UTF-8"},
        )
        if made.returncode != 0:
            raise ServiceUnavailable(f"initdb failed: {made.stderr.decode()}")
        server.start()
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)


# -- Redis ------------------------------------------------------------------


class Redis:
    """A redis-server on a fixed port, without persistence: a restart empties it."""

    def __init__(self, port: int, logs: Path) -> None:
        self.port = port
        self.logs = logs
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(self.binary).exists():
            raise ServiceUnavailable(
                "redis-server is not installed (Debian: apt-get install redis-server)"
            )
        self.process: Process | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        """The Redis URL of database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    def is_running(self) -> bool:
        """Whether the server process is alive."""
        return self.process is not None and self.process.alive

    def start(self) -> None:
        """Start the server on this port and wait until it listens."""
        if self.is_running():
            return
        self.starts += 1
        self.process = Process(
            "redis-server",
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            env=os.environ,
            log=self.logs / f"redis-{self.starts}.log",
        )
        wait_for_port(self.port)

    def stop(self, *, crash: bool = False) -> None:
        """Stop the server (SIGTERM; *crash*: SIGKILL). What it held is gone."""
        if self.process is None:
            return
        if crash:
            self.process.kill(signal.SIGKILL)
        self.process.stop()
        self.process = None

    def restart(self, down_for: float = 0.0, *, crash: bool = False) -> None:
        """Stop, stay down *down_for* seconds, start again empty on the same port."""
        self.stop(crash=crash)
        time.sleep(down_for)
        self.start()


@contextlib.contextmanager
def redis(logs: Path | None = None) -> Iterator[Redis]:
    """A redis-server on a free port; stopped afterwards."""
    folder = logs or Path(tempfile.mkdtemp(prefix="paylinks-faults-redis-"))
    server = Redis(free_port(), folder)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        if logs is None:
            shutil.rmtree(folder, ignore_errors=True)


# -- the database, read directly ---------------------------------------------


@dataclass(frozen=True)
class Link:
    """An active link of the seeded CRM, and what its checkout asks for."""

    slug: str
    owner_id: str
    require_phone: bool
    collect_address: bool
    allow_coupons: bool


class Database:
    """Reads the example CRM's database directly (no app, no pool kept).

    Every call opens and closes its own connection, so a reader survives a
    PostgreSQL restart.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, poolclass=NullPool)

    def close(self) -> None:
        """Release the engine."""
        self.engine.dispose()

    def rows(self, sql: str, **params: Any) -> list[Any]:
        """The rows of *sql*."""
        with self.engine.connect() as connection:
            return list(connection.execute(text(sql), params))

    def scalar(self, sql: str, **params: Any) -> Any:
        """The first column of the first row of *sql*."""
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def has_table(self, name: str) -> bool:
        """Whether the database has the table *name*."""
        return bool(inspect(self.engine).has_table(name))

    def links(self) -> list[Link]:
        """The active, undeleted links, oldest first."""
        found = self.rows(
            "SELECT slug, owner_id, require_phone, collect_address, allow_coupons "
            "FROM paylinks_links WHERE status = 'active' AND deleted_at IS NULL "
            "AND single_use = false ORDER BY id"
        )
        return [Link(r[0], r[1], bool(r[2]), bool(r[3]), bool(r[4])) for r in found]

    def payments_by_state(self) -> dict[str, int]:
        """How many payments are in each state."""
        found = self.rows(
            "SELECT state, count(*) FROM paylinks_payments GROUP BY state"
        )
        return {state: int(count) for state, count in found}

    def payment_states(self) -> dict[str, str]:
        """Every payment's state, by reference."""
        found = self.rows("SELECT reference, state FROM paylinks_payments")
        return {str(reference): str(state) for reference, state in found}

    def succeeded_without_contact(self) -> int:
        """Succeeded payments not linked to a contact yet."""
        return int(
            self.scalar(
                "SELECT count(*) FROM paylinks_payments "
                "WHERE state = 'succeeded' AND contact_id IS NULL"
            )
        )

    def followups_owed(self) -> int:
        """Succeeded payments whose follow-up has not finished."""
        return int(
            self.scalar(
                "SELECT count(*) FROM paylinks_payments "
                "WHERE state = 'succeeded' AND followed_up_at IS NULL"
            )
        )

    def followups_done(self) -> int:
        """Succeeded payments whose follow-up finished."""
        return int(
            self.scalar(
                "SELECT count(*) FROM paylinks_payments "
                "WHERE state = 'succeeded' AND followed_up_at IS NOT NULL"
            )
        )

    def uses_outbox(self) -> bool:
        """Whether follow-ups go through ``paylinks_outbox`` (it has rows)."""
        if not self.has_table("paylinks_outbox"):
            return False
        return bool(self.scalar("SELECT count(*) FROM paylinks_outbox"))

    def outbox_by_state(self) -> dict[str, int]:
        """How many outbox rows are in each state (empty without the table)."""
        if not self.has_table("paylinks_outbox"):
            return {}
        found = self.rows("SELECT state, count(*) FROM paylinks_outbox GROUP BY state")
        return {state: int(count) for state, count in found}

    def backlog(self) -> tuple[str, int]:
        """Follow-ups not done yet, and what was counted.

        Outbox rows not ``done`` once the outbox is in use; before that,
        succeeded payments whose follow-up has not finished.
        """
        if self.uses_outbox():
            by_state = self.outbox_by_state()
            return "outbox rows", sum(n for s, n in by_state.items() if s != "done")
        return "payments", self.followups_owed()

    def jobs_done(self) -> tuple[str, int]:
        """Follow-ups finished so far (outbox rows ``done``, or payments)."""
        if self.uses_outbox():
            return "outbox rows", self.outbox_by_state().get("done", 0)
        return "payments", self.followups_done()

    def contacts_per_email(self, emails: Sequence[str] | None = None) -> dict[str, int]:
        """CRM customers per lower-cased email (all, or only *emails*)."""
        found = self.rows(
            "SELECT account_id, lower(email), count(*) FROM customers "
            "WHERE email IS NOT NULL GROUP BY account_id, lower(email)"
        )
        wanted = {e.lower() for e in emails} if emails is not None else None
        counts: dict[str, int] = {}
        for _account, email, count in found:
            if wanted is None or email in wanted:
                counts[email] = max(counts.get(email, 0), int(count))
        return counts

    def paid_notes(self) -> int:
        """Timeline notes the CRM wrote for payments ("Paid $X for …")."""
        return int(
            self.scalar(
                "SELECT count(*) FROM messages "
                "WHERE channel = 'note' AND body LIKE 'Paid %'"
            )
        )


# -- the example CRM's processes ----------------------------------------------


def app_environment(database_url: str, redis_url: str | None) -> dict[str, str]:
    """The environment the example CRM's processes run with."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    for key in ("REDIS_URL", "FLASK_DEBUG", "FLASK_APP"):
        env.pop(key, None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def wait_for_http(
    url: str, timeout: float = 60.0, process: Process | None = None
) -> None:
    """Block until GET *url* answers 200."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if process is not None and not process.alive:
            raise ServiceUnavailable(f"{process.name} exited\n{process.tail()}")
        try:
            response = requests.get(url, timeout=5)
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}"
        except requests.RequestException as error:
            last = str(error)
        time.sleep(0.2)
    tail = process.tail() if process is not None else ""
    raise ServiceUnavailable(f"{url} did not answer 200 in {timeout}s ({last})\n{tail}")


class ExampleCrm:
    """The example CRM's processes on one database: gunicorn and job workers.

    Make it with :func:`example_crm`. ``base_url`` is gunicorn's address;
    ``links`` the seeded active links; ``db`` reads the database.
    """

    def __init__(self, database_url: str, redis_url: str | None, logs: Path) -> None:
        self.database_url = database_url
        self.redis_url = redis_url
        self.logs = logs
        self.env = app_environment(database_url, redis_url)
        self.db = Database(database_url)
        self.links: list[Link] = []
        self.server: Process | None = None
        self.port = 0
        self.workers: list[Process] = []
        self._started = 0

    @property
    def base_url(self) -> str:
        """Where gunicorn serves the CRM."""
        return f"http://127.0.0.1:{self.port}"

    def flask(self, *args: str, timeout: float = 300.0) -> str:
        """Run ``flask --app example_app ARGS`` to the end; its output."""
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "example_app", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise ServiceUnavailable(
                f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
            )
        return done.stdout

    def prepare(self, customers: int = 50) -> list[Link]:
        """Create the tables, seed the demo, and read back its active links."""
        self.flask("init-db")
        self.flask("seed", "--customers", str(customers))
        self.links = self.db.links()
        if not self.links:
            raise ServiceUnavailable("the seed made no active links")
        return self.links

    def serve(self, workers: int = 2, timeout: float = 90.0) -> str:
        """Serve the CRM with gunicorn (*workers* sync workers); its base URL."""
        self.port = free_port()
        self.server = Process(
            "gunicorn",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(workers),
                "--worker-class",
                "sync",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--timeout",
                "60",
                "--graceful-timeout",
                "10",
                "--log-level",
                "warning",
                APP_FACTORY,
            ],
            env=self.env,
            log=self.logs / "gunicorn.log",
        )
        probe = f"/pay/{self.links[0].slug}" if self.links else "/login"
        wait_for_http(self.base_url + probe, timeout, self.server)
        return self.base_url

    def start_worker(self, timeout: float = 90.0) -> Process:
        """Start one more ``flask paylinks worker`` and wait until it listens."""
        if not self.redis_url:
            raise ValueError("jobs run inline without Redis: there is no worker")
        self._started += 1
        worker = Process(
            f"worker-{self._started}",
            worker_command("example_app"),
            env=self.env,
            log=self.logs / f"worker-{self._started}.log",
        )
        self.workers.append(worker)
        worker.wait_for_output("Listening on", timeout)
        return worker

    def kill_worker(
        self, worker: Process | None = None, *, children: bool = False
    ) -> Process:
        """SIGKILL *worker* (default: the oldest one alive), as ``kill -9 PID`` does.

        Only that process dies; a child it had forked would live on until
        :meth:`stop` (the worker forks none: RQ's scheduler child once kept
        a killed worker's Redis connection open). With *children* the whole
        process group is killed at once, as when a container is killed.
        """
        alive = [w for w in self.workers if w.alive]
        target = worker or alive[0]
        target.kill(signal.SIGKILL, children=children)
        return target

    def stop(self) -> None:
        """Stop every process this CRM started, workers first."""
        for process in [*self.workers, self.server]:
            if process is not None:
                with contextlib.suppress(Exception):
                    process.stop()
        self.db.close()

    def tails(self, lines: int = 30) -> str:
        """The end of every process's output, for a failure message."""
        processes = [p for p in [self.server, *self.workers] if p is not None]
        return "\n".join(p.tail(lines) for p in processes)


@contextlib.contextmanager
def example_crm(
    database_url: str,
    redis_url: str | None = None,
    *,
    web_workers: int = 2,
    job_workers: int = 0,
    customers: int = 50,
    logs: Path | None = None,
) -> Iterator[ExampleCrm]:
    """The example CRM seeded on *database_url*, served, with *job_workers* workers.

    Without *redis_url* jobs run inline in the web processes (and
    *job_workers* must be 0). Every process is stopped on the way out.
    """
    folder = logs or Path(tempfile.mkdtemp(prefix="paylinks-faults-crm-"))
    crm = ExampleCrm(database_url, redis_url, folder)
    try:
        crm.prepare(customers)
        crm.serve(web_workers)
        for _ in range(job_workers):
            crm.start_worker()
        yield crm
    finally:
        crm.stop()
        if logs is None:
            shutil.rmtree(folder, ignore_errors=True)


# -- the load -----------------------------------------------------------------


class _FormReader(HTMLParser):
    """What a browser submits untouched: hidden inputs, each select's choice.

    An option without a ``value`` attribute submits its text.
    """

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self._first: str | None = None
        #: The open option: its value (None: use its text), whether selected.
        self._option: tuple[str | None, bool] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        name = a.get("name")
        if tag == "input" and name and a.get("type") == "hidden":
            self.values[name] = a.get("value", "")
        elif tag == "select" and name:
            self._select, self._first = name, None
        elif tag == "option" and self._select:
            self._close_option()
            self._option = (a.get("value"), "selected" in a)

    def handle_data(self, data: str) -> None:
        if self._option is not None:
            self._text.append(data)

    def _close_option(self) -> None:
        if self._option is None or self._select is None:
            return
        value, selected = self._option
        chosen = value if value is not None else "".join(self._text).strip()
        if selected:
            self.values[self._select] = chosen
        elif self._first is None:
            self._first = chosen
        self._option, self._text = None, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "option":
            self._close_option()
        elif tag == "select" and self._select:
            self._close_option()
            if self._select not in self.values and self._first is not None:
                self.values[self._select] = self._first
            self._select = None


def form_values(html: str) -> dict[str, str]:
    """The values the page's form submits without the customer typing."""
    reader = _FormReader()
    reader.feed(html)
    return reader.values


def receipt_reference(location: str) -> str | None:
    """The payment reference a receipt URL carries (its signed token), or None."""
    parts = urlsplit(location).path.rstrip("/").split("/")
    if len(parts) < 2 or parts[-2] != "receipt":
        return None
    serializer = URLSafeSerializer(SECRET_KEY, salt=RECEIPT_SALT)
    try:
        return str(serializer.loads(parts[-1]))
    except BadSignature:
        return None


@dataclass(frozen=True)
class Hit:
    """One request of the load and what came back.

    ``kind`` is ``page`` (GET the checkout), ``quote``, ``pay`` or
    ``receipt`` (following the pay answer's 303). ``status`` is 0 when no
    answer came (``error`` says why). ``body`` keeps the text of a 5xx.
    """

    customer: int
    kind: str
    slug: str
    status: int
    started: float
    seconds: float
    card: str = ""
    email: str = ""
    reference: str | None = None
    body: str = ""
    error: str = ""


def percentile(values: Sequence[float], share: float) -> float:
    """The *share* (0..1) percentile of *values*, nearest rank; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


@dataclass
class LoadResult:
    """Every request a load made, with the wall-clock bounds of the load."""

    hits: list[Hit] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0

    @property
    def seconds(self) -> float:
        """How long the load ran."""
        return self.finished - self.started

    def of(self, kind: str) -> list[Hit]:
        """The hits of one kind."""
        return [h for h in self.hits if h.kind == kind]

    def statuses(self, kind: str | None = None) -> Counter[int]:
        """How many answers had each status (of *kind*, or all)."""
        return Counter(h.status for h in self.hits if kind in (None, h.kind))

    def server_errors(self) -> list[Hit]:
        """Answers of 500 and above."""
        return [h for h in self.hits if h.status >= 500]

    def no_answer(self) -> list[Hit]:
        """Requests that got no HTTP answer at all."""
        return [h for h in self.hits if h.status == 0]

    def paid(self) -> list[Hit]:
        """Pay requests answered 303 (the success page)."""
        return [h for h in self.of("pay") if h.status == 303]

    def references(self) -> list[str]:
        """The payment reference of every success page, in order."""
        return [h.reference or "" for h in self.paid()]

    def latency(self, kind: str, share: float) -> float:
        """The *share* percentile of the seconds *kind* requests took."""
        return percentile([h.seconds for h in self.of(kind) if h.status], share)

    def summary(self) -> str:
        """One line per kind: count, statuses, p50/p95 (for a failure message)."""
        lines = []
        for kind in ("page", "quote", "pay", "receipt"):
            hits = self.of(kind)
            statuses = dict(sorted(Counter(h.status for h in hits).items()))
            lines.append(
                f"{kind:8} n={len(hits):5} statuses={statuses} "
                f"p50={self.latency(kind, 0.5) * 1000:.0f}ms "
                f"p95={self.latency(kind, 0.95) * 1000:.0f}ms"
            )
        return "\n".join(lines)


class Clock:
    """Seconds since a load started, for faults injected while it runs."""

    def __init__(self, started: float) -> None:
        self.started = started

    def elapsed(self) -> float:
        """Seconds since the load started."""
        return time.monotonic() - self.started

    def sleep_until(self, seconds: float) -> None:
        """Sleep until *seconds* after the load started."""
        time.sleep(max(0.0, seconds - self.elapsed()))


class _Budget:
    """A count of payments the load may still start, shared by its threads."""

    def __init__(self, limit: int | None) -> None:
        self.left = limit
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            if self.left is None:
                return True
            if self.left <= 0:
                return False
            self.left -= 1
            return True


@dataclass
class _Customer:
    """One simulated customer: a browser session paying links in a loop."""

    number: int
    base_url: str
    links: Sequence[Link]
    rng: random.Random
    decline_share: float
    coupon_share: float
    timeout: float
    record: Callable[[Hit], None]
    email_for: Callable[[int, random.Random], str]

    def _request(
        self,
        session: requests.Session,
        kind: str,
        slug: str,
        method: str,
        url: str,
        **kwargs: Any,
    ) -> tuple[requests.Response | None, Hit]:
        started = time.monotonic()
        try:
            response = session.request(
                method, url, timeout=self.timeout, allow_redirects=False, **kwargs
            )
        except requests.RequestException as error:
            hit = Hit(
                self.number,
                kind,
                slug,
                0,
                started,
                time.monotonic() - started,
                error=f"{type(error).__name__}: {error}"[:500],
            )
            return None, hit
        seconds = time.monotonic() - started
        body = response.text[:2000] if response.status_code >= 500 else ""
        return response, Hit(
            self.number, kind, slug, response.status_code, started, seconds, body=body
        )

    def pay_once(self) -> None:
        """Open a link, price the order, pay, and follow the success page."""
        link = self.rng.choice(self.links)
        url = f"{self.base_url}/pay/{link.slug}"
        with requests.Session() as session:
            page, hit = self._request(session, "page", link.slug, "GET", url)
            self.record(hit)
            if page is None or page.status_code != 200:
                return
            fields = form_values(page.text)
            if link.allow_coupons and self.rng.random() < self.coupon_share:
                fields["coupon"] = DEMO_COUPON
            quoted, hit = self._request(
                session,
                "quote",
                link.slug,
                "POST",
                url + "/quote",
                data=fields,
                headers={"Accept": "application/json"},
            )
            self.record(hit)
            if quoted is None or quoted.status_code != 200:
                return
            fields["terms"] = quoted.json()["terms"]
            declined = self.rng.random() < self.decline_share
            card = DECLINED_CARD if declined else GOOD_CARD
            email = self.email_for(self.number, self.rng)
            # The contact upsert matches by email or phone: a fresh email
            # needs a phone nobody used, or it joins that contact.
            phone = f"+1415{self.rng.randint(2, 9)}{self.rng.randint(0, 999_999):06d}"
            fields.update(
                {
                    "name": f"Load Customer {self.number}",
                    "email": email,
                    "phone": phone,
                    "line1": "12 Market St",
                    "city": "San Francisco",
                    "region": "CA",
                    "postal_code": "94105",
                    "country": "US",
                    "card-number": card,
                    "card-expiry": "12 / 34",
                    "card-cvc": "123",
                    "action": "pay",
                }
            )
            paid, hit = self._request(
                session, "pay", link.slug, "POST", url, data=fields
            )
            location = paid.headers.get("Location", "") if paid is not None else ""
            reference = receipt_reference(location) if location else None
            self.record(
                Hit(
                    hit.customer,
                    hit.kind,
                    hit.slug,
                    hit.status,
                    hit.started,
                    hit.seconds,
                    card=card,
                    email=email,
                    reference=reference,
                    body=hit.body,
                    error=hit.error,
                )
            )
            if paid is not None and paid.status_code == 303 and location:
                receipt_url = urljoin(url, location)
                _, hit = self._request(
                    session, "receipt", link.slug, "GET", receipt_url
                )
                self.record(hit)


def fresh_email(customer: int, rng: random.Random) -> str:
    """A new address for every payment: every payment makes a new contact.

    (Each payment also gets a new phone number, as contacts match by either.)
    """
    return f"load-{customer}-{rng.getrandbits(48):012x}@example.com"


def run_load(
    base_url: str,
    links: Sequence[Link],
    *,
    customers: int,
    seconds: float,
    max_payments: int | None = None,
    decline_share: float = 0.15,
    coupon_share: float = 0.3,
    timeout: float = 30.0,
    seed: int = 0,
    email_for: Callable[[int, random.Random], str] = fresh_email,
    during: Callable[[Clock], None] | None = None,
) -> LoadResult:
    """*customers* threads paying *links* for *seconds* (and at most *max_payments*).

    Each payment: GET the page, POST the quote as JSON for ``terms``, POST
    the pay form with a good card (or, *decline_share* of the time, the
    declined one), a coupon on links that take one (*coupon_share*), then
    GET the success page. No request waits longer than *timeout*; a customer
    starts no payment after *seconds*. *during*, if given, runs in the
    calling thread while the load runs, with the load's :class:`Clock` (e.g.
    ``clock.sleep_until(2); redis.restart(5)``); the load still ends on time.
    """
    if not links:
        raise ValueError("no links to pay")
    result = LoadResult()
    lock = threading.Lock()
    budget = _Budget(max_payments)

    def record(hit: Hit) -> None:
        with lock:
            result.hits.append(hit)

    result.started = time.monotonic()
    deadline = result.started + seconds

    def customer_loop(number: int) -> None:
        customer = _Customer(
            number,
            base_url,
            links,
            random.Random(seed * 100_003 + number),
            decline_share,
            coupon_share,
            timeout,
            record,
            email_for,
        )
        while time.monotonic() < deadline and budget.take():
            customer.pay_once()

    threads = [
        threading.Thread(target=customer_loop, args=(n,), daemon=True, name=f"c{n}")
        for n in range(customers)
    ]
    for thread in threads:
        thread.start()
    try:
        if during is not None:
            during(Clock(result.started))
    finally:
        # A payment started before the deadline makes at most four requests.
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()) + 4 * timeout)
    result.finished = time.monotonic()
    stuck = [t.name for t in threads if t.is_alive()]
    if stuck:
        raise RuntimeError(f"customer threads still running: {stuck}")
    with lock:
        result.hits.sort(key=lambda h: h.started)
    return result
