"""Real services the test run starts itself: PostgreSQL and Redis.

Each starter raises :class:`ServiceUnavailable` with the reason when it
cannot start; the fixtures turn that into a failed test, never a skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


class ServiceUnavailable(RuntimeError):
    """A service the tests need could not be started."""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    """Block until something accepts connections on *port*."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=0.5),
        ):
            return
        time.sleep(0.05)
    raise ServiceUnavailable(f"nothing listens on port {port} after {timeout}s")


def _pg_tool(name: str) -> str:
    for directory in PG_BIN_DIRS:
        candidate = directory / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise ServiceUnavailable(
        f"PostgreSQL's {name} is not installed (Debian: apt-get install postgresql)"
    )


@dataclass
class PostgresCluster:
    """A throw-away PostgreSQL cluster in a temporary folder."""

    directory: Path
    port: int
    user: str = "paylinks"

    def url(self, database: str) -> str:
        """A SQLAlchemy URL for *database* on this cluster (psycopg 3)."""
        return (
            f"postgresql+psycopg://{self.user}@/{database}"
            f"?host={self.directory}&port={self.port}"
        )

    def admin_url(self) -> str:
        """The URL of the maintenance database."""
        return self.url("postgres")


def _as_postgres_user(args: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; CI runs as root.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


@contextlib.contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    """Start a PostgreSQL cluster for the test session and stop it after."""
    initdb, pg_ctl = _pg_tool("initdb"), _pg_tool("pg_ctl")
    directory = Path(tempfile.mkdtemp(prefix="paylinks-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    data = directory / "data"
    port = free_port()
    cluster = PostgresCluster(directory, port)
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    try:
        subprocess.run(
            _as_postgres_user(
                [
                    initdb,
                    "-D",
                    str(data),
                    "-U",
                    cluster.user,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
            env=env,
        )
        options = (
            f"-k {directory} -p {port} -c listen_addresses='' -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        subprocess.run(
            _as_postgres_user(
                [
                    pg_ctl,
                    "-D",
                    str(data),
                    "-o",
                    options,
                    "-l",
                    str(directory / "log"),
                    "-w",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
            env=env,
        )
    except subprocess.CalledProcessError as error:
        log = directory / "log"
        detail = log.read_text() if log.exists() else error.stderr.decode()
        raise ServiceUnavailable(f"PostgreSQL did not start: {detail}") from error
    try:
        yield cluster
    finally:
        subprocess.run(
            _as_postgres_user([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(directory, ignore_errors=True)


@dataclass
class RedisServer:
    """A redis-server process for the test session."""

    port: int

    @property
    def url(self) -> str:
        """The Redis URL of database 0."""
        return f"redis://127.0.0.1:{self.port}/0"


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    """Start redis-server on a free port; stop it after."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).exists():
        raise ServiceUnavailable(
            "redis-server is not installed (Debian: apt-get install redis-server)"
        )
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield RedisServer(port)
    finally:
        process.terminate()
        process.wait(timeout=10)


#: The repository's root: ``flask --app`` factories import from here.
REPO_ROOT = Path(__file__).resolve().parent.parent


def worker_command(app: str, *, burst: bool = False) -> list[str]:
    """``flask --app APP paylinks worker`` (``--burst``: drain the queue and exit)."""
    command = [sys.executable, "-m", "flask", "--app", app, "paylinks", "worker"]
    return [*command, "--burst"] if burst else command


def run_burst_worker(app: str, *, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a real worker process for *app* until its queue is empty."""
    return subprocess.run(
        worker_command(app, burst=True),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
