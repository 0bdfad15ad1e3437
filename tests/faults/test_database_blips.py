"""PostgreSQL restarted, or away for seconds, under paying customers.

A dedicated throw-away cluster (it is restarted, so it is not the session's),
test host A served by gunicorn with sync workers and no ``pool_pre_ping``,
and a bounded load of concurrent customers who open the page, ask for the
quote and pay with the sandbox's good card. No customer may see a bare 500;
each 503 must say truthfully whether they were charged, and the database
must agree.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from flask_paylinks.db import migrate
from flask_paylinks.db.models import (
    LinkItem,
    Payment,
    PaymentLink,
    PaymentState,
    Product,
)
from flask_paylinks.links.service import new_slug
from flask_paylinks.web.checkout.receipt_links import RECEIPT_SALT
from flask_paylinks.web.db_outage import NOT_CHARGED

from ..checkout.conftest import GOOD_CARD, form_of
from ..hosts import crm_a
from ..services import (
    PostgresCluster,
    _as_postgres_user,
    _pg_tool,
    free_port,
    postgres_cluster,
    wait_for_port,
)

pytestmark = [pytest.mark.slow, pytest.mark.faults]

ROOT = Path(__file__).resolve().parents[2]
#: The gunicorn of the environment running the tests.
GUNICORN = Path(sys.executable).parent / "gunicorn"
CUSTOMERS = 10
#: How long customers keep paying, and the most payments each may make.
LOAD_SECONDS = 10.0
MAX_PAYMENTS_EACH = 200
_REFERENCE = r"PL-[0-9A-Z]{8}"


# -- the cluster and the server ------------------------------------------------


def _pg_ctl(cluster: PostgresCluster, *args: str) -> None:
    data = cluster.directory / "data"
    subprocess.run(
        _as_postgres_user([_pg_tool("pg_ctl"), "-D", str(data), *args]),
        check=True,
        capture_output=True,
        timeout=60,
    )


def _server_options(cluster: PostgresCluster) -> str:
    # What the running postmaster was started with, minus the binary and -D.
    words = shlex.split((cluster.directory / "data" / "postmaster.opts").read_text())
    options: list[str] = []
    skip = False
    for word in words[1:]:
        if skip:
            skip = False
        elif word == "-D":
            skip = True
        else:
            options.append(word)
    return shlex.join(options)


def stop_database(cluster: PostgresCluster) -> str:
    """Stop the server the way an operator restarting it does; its options."""
    options = _server_options(cluster)
    _pg_ctl(cluster, "-m", "fast", "stop")
    return options


def start_database(cluster: PostgresCluster, options: str) -> None:
    """Start the server again with *options*; wait until it takes connections."""
    log = str(cluster.directory / "log")
    _pg_ctl(cluster, "-o", options, "-l", log, "-w", "start")


def _prepare(url: str) -> str:
    """Tables, host tables, and one $25 link of owner 1; its slug."""
    engine = create_engine(url)
    migrate.upgrade(engine)
    crm_a.HostBase.metadata.create_all(engine)
    with Session(engine) as session:
        product = Product(
            owner_id="1", name="Yoga class", unit_amount=2500, currency="USD"
        )
        session.add(product)
        session.flush()
        link = PaymentLink(owner_id="1", slug=new_slug(), name="Blips", currency="USD")
        link.items.append(
            LinkItem(owner_id="1", product_id=product.id, position=0, quantity=1)
        )
        session.add(link)
        session.commit()
        slug = link.slug
    engine.dispose()
    return slug


def _wait_until_serving(base: str, slug: str) -> None:
    # The master listens before its workers have imported the app: wait
    # for answers from every worker, or the load starts seconds late.
    deadline = time.monotonic() + 90
    answered = 0
    while answered < 6:
        assert time.monotonic() < deadline, "gunicorn did not answer in 90 s"
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{base}/pay/{slug}?r=warm", timeout=30).ok:
                answered += 1
                continue
        time.sleep(0.2)


@contextlib.contextmanager
def served(url: str, slug: str, log: Path) -> Iterator[str]:
    """Host A on *url* under gunicorn (3 sync workers, errors to *log*)."""
    port = free_port()
    log_file = log.open("w")
    process = subprocess.Popen(
        [
            str(GUNICORN),
            "--workers",
            "3",
            "--bind",
            f"127.0.0.1:{port}",
            "--timeout",
            "30",
            "--graceful-timeout",
            "5",
            f"tests.hosts.crm_a:create_app({url!r})",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log_file,
    )
    try:
        wait_for_port(port, timeout=30)
        base = f"http://127.0.0.1:{port}"
        _wait_until_serving(base, slug)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log_file.close()


@dataclass
class Setup:
    cluster: PostgresCluster
    url: str
    slug: str
    base: str


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    with postgres_cluster() as cluster:
        admin = create_engine(cluster.admin_url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text('CREATE DATABASE "blips"'))
        admin.dispose()
        url = cluster.url("blips")
        slug = _prepare(url)
        with served(url, slug, tmp_path / "gunicorn.log") as base:
            yield Setup(cluster, url, slug, base)


# -- the customers ---------------------------------------------------------------


@dataclass
class Seen:
    """What every customer saw, answer by answer."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    #: (step, status, body) of every answer.
    answers: list[tuple[str, int, str]] = field(default_factory=list)
    #: email -> the reference of the receipt a 303 sent them to.
    receipts: dict[str, str] = field(default_factory=dict)
    #: email -> the reference a "went through" 503 named.
    went_through: dict[str, str] = field(default_factory=dict)
    #: email -> the reference a "could not confirm" 503 named.
    in_doubt: dict[str, str] = field(default_factory=dict)
    #: emails whose page, quote or pay answered "not charged".
    not_charged: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)

    def record(self, step: str, email: str, response: requests.Response) -> None:
        with self.lock:
            self.answers.append((step, response.status_code, response.text))
            if response.status_code == 503 and NOT_CHARGED in response.text:
                self.not_charged.add(email)


def _reference_of_receipt(location: str) -> str:
    from itsdangerous import URLSafeSerializer

    token = location.rsplit("/", 1)[-1]
    return str(URLSafeSerializer("test", salt=RECEIPT_SALT).loads(token))


def _pay_once(base: str, slug: str, email: str, seen: Seen) -> None:
    session = requests.Session()
    page = session.get(f"{base}/pay/{slug}", timeout=20)
    seen.record("page", email, page)
    if page.status_code != 200:
        return
    data = form_of(page.text)
    data.update(
        {
            "name": "Load Customer",
            "email": email,
            "card-number": GOOD_CARD,
            "card-expiry": "12 / 34",
            "card-cvc": "123",
        }
    )
    quote = session.post(
        f"{base}/pay/{slug}/quote",
        data=data,
        headers={"Accept": "application/json"},
        timeout=20,
    )
    seen.record("quote", email, quote)
    if quote.status_code != 200:
        return
    data["terms"] = quote.json()["terms"]
    pay = session.post(
        f"{base}/pay/{slug}", data=data, allow_redirects=False, timeout=20
    )
    seen.record("pay", email, pay)
    with seen.lock:
        if pay.status_code == 303:
            seen.receipts[email] = _reference_of_receipt(pay.headers["Location"])
        elif pay.status_code == 503:
            found = re.search(_REFERENCE, pay.text)
            if "Your payment went through" in pay.text and found:
                seen.went_through[email] = found.group()
            elif "could not confirm your payment" in pay.text and found:
                seen.in_doubt[email] = found.group()


def _customer(number: int, base: str, slug: str, until: float, seen: Seen) -> None:
    for attempt in range(MAX_PAYMENTS_EACH):
        if time.monotonic() >= until:
            return
        email = f"c{number}-{attempt}@example.com"
        try:
            _pay_once(base, slug, email, seen)
        except requests.RequestException as error:  # a dropped socket: no answer
            with seen.lock:
                seen.errors.append(f"{email}: {error!r}")


def run_load(setup: Setup, fault: threading.Thread) -> Seen:
    """Customers pay for LOAD_SECONDS while *fault* runs; what they saw."""
    seen = Seen()
    until = time.monotonic() + LOAD_SECONDS
    threads = [
        threading.Thread(
            target=_customer, args=(n, setup.base, setup.slug, until, seen)
        )
        for n in range(CUSTOMERS)
    ]
    for thread in threads:
        thread.start()
    fault.start()
    fault.join(timeout=60)
    for thread in threads:
        thread.join(timeout=LOAD_SECONDS + 60)
    assert not any(thread.is_alive() for thread in [*threads, fault])
    return seen


def _outage(cluster: PostgresCluster, down_for: float, failed: list[str]) -> None:
    try:
        time.sleep(2.5)
        options = stop_database(cluster)
        time.sleep(down_for)
        start_database(cluster, options)
    except Exception as error:  # reported by the test, not lost in a thread
        failed.append(repr(error))


def _payments(url: str) -> dict[str, Payment]:
    engine = create_engine(url)
    with Session(engine) as session:
        rows = session.scalars(select(Payment)).all()
        found = {row.customer_email: row for row in rows}
        session.expunge_all()
    engine.dispose()
    return found


def _assert_no_bare_errors(seen: Seen) -> None:
    readable = (NOT_CHARGED, "Your payment went through", "could not confirm")
    for step, status, body in seen.answers:
        assert status < 500 or status == 503, (step, status, body[:300])
        if status == 503:
            if step == "quote":
                assert NOT_CHARGED in body, body[:300]
            else:
                assert any(text in body for text in readable), body[:300]
    assert seen.errors == []


def test_postgresql_restart_mid_load(setup: Setup) -> None:
    failed: list[str] = []
    fault = threading.Thread(target=_outage, args=(setup.cluster, 1.5, failed))

    seen = run_load(setup, fault)

    assert failed == []
    _assert_no_bare_errors(seen)
    assert any(status == 503 for _, status, _ in seen.answers), "the restart missed"
    assert seen.receipts, "nobody paid"
    payments = _payments(setup.url)
    for email, reference in seen.went_through.items():
        assert payments[email].reference == reference
        assert payments[email].state == PaymentState.SUCCEEDED
    for email, reference in seen.receipts.items():
        assert payments[email].reference == reference
        assert payments[email].state == PaymentState.SUCCEEDED
    for email, payment in payments.items():
        if payment.state == PaymentState.SUCCEEDED:
            shown = (
                seen.receipts.get(email)
                or seen.went_through.get(email)
                or seen.in_doubt.get(email)
            )
            assert shown == payment.reference, (email, payment.reference)
    for email in seen.not_charged:
        assert email not in payments or payments[email].state != "succeeded"
    _assert_the_sweeper_leaves_nothing_pending(setup)


def _assert_the_sweeper_leaves_nothing_pending(setup: Setup) -> None:
    """The worker's sweeper, run once the sandbox's window has passed, settles
    what the blip left pending: its clock is moved on instead of the test
    waiting two minutes."""
    from datetime import timedelta

    from flask_paylinks.db.models import utcnow
    from flask_paylinks.gateways.sandbox import SandboxGateway
    from flask_paylinks.jobs import outbox

    app = crm_a.create_app(setup.url)
    try:
        with app.app_context():
            later = utcnow() + timedelta(seconds=SandboxGateway.abandon_after + 1)
            outbox.sweep(now=later)
    finally:
        with app.app_context():
            crm_a.db.session.remove()
            crm_a.db.engine.dispose()
    states = [p.state for p in _payments(setup.url).values()]
    assert PaymentState.PENDING not in states


def test_postgresql_down_for_seconds(setup: Setup) -> None:
    failed: list[str] = []
    fault = threading.Thread(target=_outage, args=(setup.cluster, 3.0, failed))

    seen = run_load(setup, fault)

    assert failed == []
    _assert_no_bare_errors(seen)
    assert seen.not_charged, "no customer paid while the database was down"
    payments = _payments(setup.url)
    for email in seen.not_charged:
        assert email not in payments or payments[email].state != "succeeded", email
    for email, payment in payments.items():
        if payment.state == PaymentState.SUCCEEDED:
            assert payment.reference in (
                seen.receipts.get(email),
                seen.went_through.get(email),
                seen.in_doubt.get(email),
            )
    _assert_the_sweeper_leaves_nothing_pending(setup)
