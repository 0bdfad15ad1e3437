"""The links table at scale: 100,000 links and 1,000,000 payments for one merchant.

Run from the repository root::

    .venv/bin/python benchmarks/dashboard_table.py            # about a minute
    .venv/bin/python benchmarks/dashboard_table.py --requests 50 --explain

It starts its own PostgreSQL cluster (``tests/services.py``), migrates it,
bulk-loads the data with ``INSERT ... SELECT generate_series`` and runs
``VACUUM ANALYZE``. Then it serves test host A (``tests/hosts/crm_a.py``, the
real dashboard) plus a bare ``/bare`` Flask route from one gunicorn worker,
logs in as the merchant, and times the table page for several filter
combinations and pages, the link page of a link with 100,000 payments, and the
bare route, all over HTTP in the same run. It prints p50 and p95 in
milliseconds for each, next to the bare route's. ``--explain`` also prints
PostgreSQL's plan of each table query.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, event, text  # noqa: E402

from flask_paylinks.db import migrate  # noqa: E402
from tests.services import free_port, postgres_cluster, wait_for_port  # noqa: E402

OWNER = "1"
LINKS = 100_000
PAYMENTS = 1_000_000
#: Payments of the merchant's newest link (the rest are spread over the others).
HOT_LINK_PAYMENTS = 100_000
OTHER_OWNERS = 10
OTHER_LINKS_EACH = 5_000
ENV_URL = "PAYLINKS_BENCH_DATABASE_URL"

LOAD = [
    # The merchant's catalogue: 50 products, every fourth one a subscription.
    f"""
    INSERT INTO paylinks_products (owner_id, name, description, kind, interval,
        interval_count, unit_amount, currency, active, listed, created_at, updated_at)
    SELECT '{OWNER}', 'Product ' || g, '',
        CASE WHEN g % 4 = 0 THEN 'recurring' ELSE 'one_time' END,
        CASE WHEN g % 4 = 0 THEN 'month' END, CASE WHEN g % 4 = 0 THEN 1 END,
        500 + g * 100, 'USD', true, true, now(), now()
    FROM generate_series(1, 50) g
    """,
    # 100,000 links over a year: 10 % inactive, 5 % Text-to-Pay, 15 % API.
    f"""
    INSERT INTO paylinks_links (owner_id, slug, name, status, source, currency,
        require_phone, collect_address, allow_coupons, redirect_new_tab, single_use,
        created_at, updated_at)
    SELECT '{OWNER}', md5('slug' || g),
        (ARRAY['Spring', 'Summer', 'Autumn', 'Winter', 'Launch', 'Webinar',
               'Course', 'Coaching', 'Retreat', 'Workshop', 'Bundle', 'Gift',
               'Membership'])[1 + (g * 7) % 13] || ' promo ' || g,
        CASE WHEN g % 10 = 0 THEN 'inactive' ELSE 'active' END,
        CASE WHEN g % 20 = 1 THEN 'text_to_pay'
             WHEN g % 20 IN (2, 3, 4) THEN 'api' ELSE 'dashboard' END,
        'USD', false, false, g % 3 = 0, false, false,
        now() - g * interval '5 minutes', now() - g * interval '5 minutes'
    FROM generate_series(1, {LINKS}) g
    """,
    # One to three items a link, some with a quantity the customer chooses.
    f"""
    INSERT INTO paylinks_link_items (owner_id, link_id, product_id, position,
        quantity, adjustable, min_quantity, max_quantity)
    SELECT l.owner_id, l.id, 1 + ((l.id * 7 + p) % 50), p, 1,
        (l.id + p) % 5 = 0,
        CASE WHEN (l.id + p) % 5 = 0 THEN 1 END,
        CASE WHEN (l.id + p) % 5 = 0 THEN 10 END
    FROM paylinks_links l, generate_series(0, 2) p
    WHERE l.owner_id = '{OWNER}' AND p <= l.id % 3
    """,
    # Other merchants' links share the tables.
    f"""
    INSERT INTO paylinks_links (owner_id, slug, name, status, source, currency,
        require_phone, collect_address, allow_coupons, redirect_new_tab, single_use,
        created_at, updated_at)
    SELECT (2 + g % {OTHER_OWNERS})::text, md5('other' || g), 'Other promo ' || g,
        'active', 'dashboard', 'USD', false, false, false, false, false,
        now() - g * interval '3 minutes', now() - g * interval '3 minutes'
    FROM generate_series(1, {OTHER_OWNERS * OTHER_LINKS_EACH}) g
    """,
    # 1,000,000 payments: 100,000 on the newest link (id 1), the rest spread.
    f"""
    INSERT INTO paylinks_payments (owner_id, reference, link_id, state, currency,
        amount_subtotal, amount_discount, amount_total, snapshot, customer_name,
        customer_email, customer_phone, contact_id, gateway, idempotency_key,
        created_at, updated_at, succeeded_at)
    SELECT '{OWNER}', 'PL-' || g,
        CASE WHEN g <= {HOT_LINK_PAYMENTS} THEN 1
             ELSE 1 + (g::bigint * 7919) % {LINKS} END,
        CASE WHEN g % 10 = 0 THEN 'failed' WHEN g % 25 = 0 THEN 'refunded'
             ELSE 'succeeded' END,
        'USD', 4900, 0, 4900, '{{"items": []}}'::jsonb, 'Customer ' || g,
        'customer' || g || '@example.test',
        '+1555' || lpad((g % 10000000)::text, 7, '0'),
        (g % 50000)::text, 'sandbox', md5('key' || g),
        now() - (g % 525600) * interval '1 minute',
        now() - (g % 525600) * interval '1 minute',
        now() - (g % 525600) * interval '1 minute'
    FROM generate_series(1, {PAYMENTS}) g
    """,
]


def create_bench_app() -> Any:
    """Host A on the benchmark database, plus a bare route to compare with."""
    from tests.hosts import crm_a

    app = crm_a.create_app(os.environ[ENV_URL])

    @app.get("/bare")
    def bare() -> str:
        return "ok"

    return app


def load(url: str) -> None:
    """Migrate and fill the database, then VACUUM ANALYZE it."""
    engine = create_engine(url)
    migrate.upgrade(engine)
    with engine.begin() as connection:
        for statement in LOAD:
            started = time.perf_counter()
            result = connection.execute(text(statement))
            table = statement.split("INSERT INTO ")[1].split()[0]
            print(
                f"  loaded {result.rowcount:>9,} rows into {table} "
                f"in {time.perf_counter() - started:.1f}s",
                flush=True,
            )
    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
    with autocommit.connect() as connection:
        started = time.perf_counter()
        connection.execute(text("VACUUM ANALYZE"))
        print(f"  VACUUM ANALYZE in {time.perf_counter() - started:.1f}s", flush=True)
    engine.dispose()
    os.environ[ENV_URL] = url
    app = create_bench_app()
    from tests.hosts import crm_a

    with app.app_context():
        crm_a.db.create_all()
        crm_a.db.session.add(crm_a.User(id=1, account_id=int(OWNER), email="m@x.test"))
        crm_a.db.session.commit()
        crm_a.db.engine.dispose()


def scenarios(url: str) -> list[tuple[str, str]]:
    """(label, path) of each page to time; cursors point deep into the table."""
    from flask_paylinks.db.pagination import encode_cursor

    engine = create_engine(url)
    with engine.connect() as connection:
        deep_created = connection.execute(
            text(
                "SELECT created_at, id FROM paylinks_links WHERE owner_id = :o "
                "AND deleted_at IS NULL ORDER BY created_at DESC, id DESC "
                "OFFSET 75000 LIMIT 1"
            ),
            {"o": OWNER},
        ).one()
        deep_name = connection.execute(
            text(
                "SELECT lower(name), id FROM paylinks_links WHERE owner_id = :o "
                "AND deleted_at IS NULL ORDER BY lower(name), id OFFSET 60000 LIMIT 1"
            ),
            {"o": OWNER},
        ).one()
        slug = connection.scalar(
            text("SELECT slug FROM paylinks_links WHERE id = 4242")
        )
        quiet_link = connection.scalar(
            text(
                "SELECT id FROM paylinks_links WHERE owner_id = :o AND id > 1 "
                "ORDER BY id LIMIT 1"
            ),
            {"o": OWNER},
        )
    engine.dispose()
    after_created = encode_cursor("c-", tuple(deep_created))
    after_name = encode_cursor("n+", tuple(deep_name))
    return [
        ("table: newest first, page 1", "/paylinks/"),
        ("table: page 3,001 (75,000 rows in)", f"/paylinks/?after={after_created}"),
        ("table: sort by name, page 1", "/paylinks/?sort=name"),
        (
            "table: sort by name, page 2,401",
            f"/paylinks/?sort=name&after={after_name}",
        ),
        ("table: status inactive", "/paylinks/?status=inactive"),
        ("table: source Text-to-Pay", "/paylinks/?source=text_to_pay"),
        ("table: source API, oldest first", "/paylinks/?source=api&sort=created"),
        ("table: search 'promo 4242'", "/paylinks/?q=promo+4242"),
        ("table: search 'summer' (1 in 13)", "/paylinks/?q=summer"),
        ("table: search a pasted URL", f"/paylinks/?q=https://x.test/pay/{slug}"),
        (
            "table: one week of dates",
            "/paylinks/?created_from={}&created_to={}".format(*_week_ago_range()),
        ),
        (
            "table: all filters, newest first",
            "/paylinks/?q=summer&status=active&source=dashboard"
            "&created_from={}&created_to={}".format(*_week_ago_range(days=120)),
        ),
        (
            "table: all filters, sort by name",
            "/paylinks/?q=summer&status=active&source=dashboard&sort=-name"
            "&created_from={}&created_to={}".format(*_week_ago_range(days=120)),
        ),
        ("link page: 100,000 payments", "/paylinks/links/1"),
        ("link page: ~10 payments", f"/paylinks/links/{quiet_link}"),
    ]


def _week_ago_range(days: int = 7) -> tuple[str, str]:
    from datetime import UTC, datetime, timedelta

    today = datetime.now(UTC).date()
    return str(today - timedelta(days=days + 30)), str(today - timedelta(days=30))


@contextmanager
def gunicorn(url: str) -> Iterator[int]:
    """One sync gunicorn worker serving the benchmark app."""
    port = free_port()
    env = {**os.environ, ENV_URL: url, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--log-level",
            "warning",
            "benchmarks.dashboard_table:create_bench_app()",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_for_port(port, timeout=30)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=20)


def fetch(port: int, path: str, cookie: str = "") -> tuple[int, bytes, float]:
    """GET *path*; the status, the body and the seconds it took."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    response = connection.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    connection.close()
    return response.status, body, elapsed


def login(port: int) -> str:
    """The session cookie of the merchant."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", "/login/1")
    response = connection.getresponse()
    response.read()
    cookie = response.getheader("Set-Cookie") or ""
    connection.close()
    return cookie.split(";", 1)[0]


def percentile(values: list[float], share: float) -> float:
    """The *share* quantile (0.5, 0.95) of *values*."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def explain(url: str, pages: list[tuple[str, str]]) -> None:
    """PostgreSQL's plan of each SQL statement of each table page."""
    os.environ[ENV_URL] = url
    app = create_bench_app()
    from tests.hosts import crm_a

    with app.app_context():
        engine = crm_a.db.engine
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *a: Any) -> None:
        if "paylinks_" in statement and not statement.startswith("EXPLAIN"):
            captured.append((statement, params))

    event.listen(engine, "before_cursor_execute", capture)
    client = app.test_client()
    client.get("/login/1")
    for label, path in pages:
        captured.clear()
        client.get(path)
        print(f"\n=== {label}  {path[:80]}")
        statements = list(captured)
        with engine.connect() as connection:
            for statement, params in statements:
                plan = connection.exec_driver_sql(
                    "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, params
                ).scalars()
                print("\n".join("    " + line for line in plan))
                print()


def main() -> None:
    """Load, serve, time and print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=100, help="timed requests")
    parser.add_argument("--explain", action="store_true", help="print query plans")
    args = parser.parse_args()

    with postgres_cluster() as cluster:
        admin = create_engine(cluster.admin_url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text('CREATE DATABASE "bench"'))
        admin.dispose()
        url = cluster.url("bench")
        print(
            f"Loading {LINKS:,} links and {PAYMENTS:,} payments for one merchant "
            f"(+ {OTHER_OWNERS * OTHER_LINKS_EACH:,} links of {OTHER_OWNERS} others)",
            flush=True,
        )
        load(url)
        pages = scenarios(url)
        if args.explain:
            explain(url, pages)
        with gunicorn(url) as port:
            cookie = login(port)
            timings: dict[str, list[float]] = {}
            for label, path in [("bare Flask route", "/bare"), *pages]:
                for _ in range(5):
                    status, body, _elapsed = fetch(port, path, cookie)
                    assert status == 200, (label, status, body[:500])
                timings[label] = []
            # Interleave the pages so a noisy moment hits them all alike.
            for _ in range(args.requests):
                for label, path in [("bare Flask route", "/bare"), *pages]:
                    status, _body, elapsed = fetch(port, path, cookie)
                    assert status == 200, (label, status)
                    timings[label].append(elapsed * 1000)
        bare = timings["bare Flask route"]
        print(
            f"\n{args.requests} requests each over HTTP, one gunicorn sync worker, "
            "PostgreSQL on the same machine (ms):\n"
        )
        print(f"{'page':<40} {'p50':>8} {'p95':>8}   {'bare p50':>8} {'bare p95':>8}")
        for label, values in timings.items():
            print(
                f"{label:<40} {statistics.median(values):8.1f} "
                f"{percentile(values, 0.95):8.1f}   {statistics.median(bare):8.1f} "
                f"{percentile(bare, 0.95):8.1f}"
            )


if __name__ == "__main__":
    main()
