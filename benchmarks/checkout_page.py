"""Requests per second of ``GET /pay/<slug>`` next to a bare route, under gunicorn.

One command::

    .venv/bin/python benchmarks/checkout_page.py [--seconds 8] [--workers 1]

It seeds the example CRM into a throw-away SQLite file, serves it with
gunicorn (sync workers), and drives both URLs of the same app in the same
run from a small asyncio HTTP client (one connection per request, as
gunicorn's sync worker closes each): the seeded checkout that asks for
phone, address and a coupon, and ``/bench/bare``, a route returning "ok".
Rounds alternate (bare, page, bare, page) so drift hits both alike. It
prints each rate, their ratio (the target is >= 0.5 with the cache on and
>= 0.25 for a full render), the server CPU each request cost (on Linux; it
moves far less than the rates when other work shares the machine) and the
byte sizes of the page and of its CSS and JS.

With the page cache on (the default) every cached response still costs one
query: the link's revision, read to check the page is current.
``--cache-seconds 0`` turns the cache off and measures a full render.

With one worker the server gets one core and the client the other on a
two-core machine; ``--workers`` changes that.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.load import drive, http_request  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_environ() -> dict[str, str]:
    """This environment, with a throw-away ``SECRET_KEY`` when it has none.

    The example CRM refuses to start without one (and a checkout without a
    demo set up has no ``instance/secret_key``).
    """
    env = dict(os.environ)
    env.setdefault("SECRET_KEY", _SECRET_KEY)
    return env


_SECRET_KEY = secrets.token_hex()


def seed(database_url: str) -> str:
    """Seed the demo and return the slug of its phone + address + coupon link."""
    code = (
        "from example_app import create_app\n"
        "from example_app.extensions import db\n"
        "from example_app.seed import create_tables, seed_demo\n"
        "from flask_paylinks.db.models import PaymentLink\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    create_tables(db)\n"
        "    seed_demo(db, customers_per_account=50)\n"
        "    link = db.session.scalars(db.select(PaymentLink).where(\n"
        "        PaymentLink.require_phone.is_(True),\n"
        "        PaymentLink.collect_address.is_(True),\n"
        "    ).order_by(PaymentLink.id)).first()\n"
        "    print(link.slug)\n"
    )
    env = {**bench_environ(), "DATABASE_URL": database_url}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


def rate(port: int, path: str, seconds: float, concurrency: int) -> float:
    """Successful requests per second of ``GET`` *path* over *seconds*."""
    request = http_request("GET", path, port, headers={"Accept": "text/html"})
    tally = drive(port, lambda: request, seconds, concurrency)
    if tally.failed:
        raise SystemExit(f"{tally.failed} requests to {path} did not answer 200")
    return tally.rate


def worker_cpu_seconds(master: int) -> float | None:
    """CPU seconds the gunicorn workers of *master* used so far (Linux only).

    Requests per second move with whatever else the machine runs; the CPU a
    request costs the server moves much less, so it is printed beside them.
    """
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        total = 0
        for pid in children:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime, in ticks
    except (OSError, IndexError, ValueError):
        return None
    return total / os.sysconf("SC_CLK_TCK")


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (local)
        return bytes(response.read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds", type=float, default=8.0, help="per route, per round"
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers")
    parser.add_argument("--concurrency", type=int, default=8, help="client connections")
    parser.add_argument(
        "--cache-seconds",
        type=float,
        default=None,
        help="PAYLINKS_CHECKOUT_CACHE_SECONDS for the run (0: cache off, every page"
        " rendered; otherwise cached pages are checked against the link's revision"
        " per request and the merchant profile is asked again every N seconds)",
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="paylinks-bench-"))
    database_url = f"sqlite:///{work / 'bench.db'}"
    slug = seed(database_url)
    port = free_port()
    env = {**bench_environ(), "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    if args.cache_seconds is not None:
        env["BENCH_CHECKOUT_CACHE_SECONDS"] = str(args.cache_seconds)
    server = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "--workers",
            str(args.workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "benchmarks.checkout_app:create_app()",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        page_path, bare_path = f"/pay/{slug}", "/bench/bare"
        for _ in range(100):
            try:
                page = fetch(base + page_path)
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit("gunicorn did not start")
        css = fetch(base + "/pay/static/paylinks/checkout.css")
        js = fetch(base + "/pay/static/paylinks/checkout.js")
        rate(port, bare_path, 1.0, args.concurrency)  # warm up both
        rate(port, page_path, 1.0, args.concurrency)
        bare_rates, page_rates = [], []
        cpu: dict[str, list[float]] = {bare_path: [], page_path: []}
        for _ in range(args.rounds):
            for path, rates in ((bare_path, bare_rates), (page_path, page_rates)):
                before = worker_cpu_seconds(server.pid)
                rates.append(rate(port, path, args.seconds, args.concurrency))
                after = worker_cpu_seconds(server.pid)
                if before is not None and after is not None:
                    requests = rates[-1] * args.seconds
                    cpu[path].append((after - before) / requests * 1000)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)

    bare = sum(bare_rates) / len(bare_rates)
    page_rps = sum(page_rates) / len(page_rates)
    ours = len(page) + len(css) + len(js)
    if args.cache_seconds is None:
        cache = "on (default settings)"
    elif args.cache_seconds <= 0:
        cache = "off"
    else:
        cache = f"on (merchant profile re-asked every {args.cache_seconds:g} s)"
    print(
        f"gunicorn sync, {args.workers} worker(s); "
        f"client: {args.concurrency} connections; page cache: {cache}"
    )
    print(
        f"  bare route  /bench/bare   {bare:8.0f} req/s  (rounds: "
        + ", ".join(f"{r:.0f}" for r in bare_rates)
        + ")"
    )
    print(
        f"  checkout    /pay/<slug>   {page_rps:8.0f} req/s  (rounds: "
        + ", ".join(f"{r:.0f}" for r in page_rates)
        + ")"
    )
    full_render = args.cache_seconds is not None and args.cache_seconds <= 0
    target = 0.25 if full_render else 0.5
    ratio = page_rps / bare
    print(f"  ratio page / bare         {ratio:8.2f}  (target >= {target:.2f})")
    if cpu[bare_path] and cpu[page_path]:
        bare_cpu = sum(cpu[bare_path]) / len(cpu[bare_path])
        page_cpu = sum(cpu[page_path]) / len(cpu[page_path])
        print(
            f"  server CPU per request    bare {bare_cpu:.2f} ms, page"
            f" {page_cpu:.2f} ms (ratio {bare_cpu / page_cpu:.2f}; steadier than"
            " the rates on a busy machine)"
        )
    print(
        f"  page HTML {len(page):,} B, CSS {len(css):,} B, JS {len(js):,} B;"
        f" ours together {ours:,} B ({ours / 1024:.1f} KiB, budget 60 KiB)"
    )


if __name__ == "__main__":
    main()
