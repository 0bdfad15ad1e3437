"""Shared fixtures: databases (SQLite or a real PostgreSQL), Redis, host apps.

``pytest`` runs on SQLite; ``pytest --db=postgresql`` runs the same tests on a
PostgreSQL cluster the run starts itself. Tests marked ``postgresql`` always
use PostgreSQL. A service that cannot start fails the test run; nothing skips.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from flask_paylinks.db import migrate

from .services import (
    PostgresCluster,
    RedisServer,
    ServiceUnavailable,
    postgres_cluster,
    redis_server,
)

if TYPE_CHECKING:
    from .browser import LiveServer


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        default="sqlite",
        choices=("sqlite", "postgresql"),
        help="database the tests run on (default sqlite)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "postgresql: needs PostgreSQL whatever --db says"
    )
    config.addinivalue_line("markers", "browser: drives headless Chromium")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
    config.addinivalue_line(
        "markers",
        "faults: stops and starts real PostgreSQL, Redis, gunicorn and workers "
        "(run once, in the PostgreSQL lane)",
    )


# -- services ---------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster started for this test session."""
    try:
        with postgres_cluster() as cluster:
            yield cluster
    except ServiceUnavailable as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def pg_template(pg_cluster: PostgresCluster) -> str:
    """A database at the newest paylinks revision, copied for each test."""
    name = "paylinks_template"
    admin = create_engine(pg_cluster.admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = create_engine(pg_cluster.url(name))
    migrate.upgrade(engine)
    engine.dispose()
    return name


def _new_pg_database(cluster: PostgresCluster, template: str = "template0") -> str:
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(cluster.admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    admin.dispose()
    return cluster.url(name)


@pytest.fixture(scope="session")
def redis_service() -> Iterator[RedisServer]:
    """A redis-server started for this test session."""
    try:
        with redis_server() as server:
            yield server
    except ServiceUnavailable as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture
def redis_url(redis_service: RedisServer) -> str:
    """An emptied Redis database."""
    from redis import Redis

    Redis.from_url(redis_service.url).flushdb()
    return redis_service.url


# -- databases --------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at the newest paylinks revision, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "paylinks.db"
    engine = create_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


def _backend(request: pytest.FixtureRequest) -> str:
    if request.node.get_closest_marker("postgresql"):
        return "postgresql"
    return str(request.config.getoption("--db"))


@pytest.fixture
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of a database with no tables at all."""
    if _backend(request) == "postgresql":
        cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
        return _new_pg_database(cluster)
    return f"sqlite:///{tmp_path / 'empty.db'}"


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of a database whose paylinks tables are at the newest revision."""
    if _backend(request) == "postgresql":
        cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
        template: str = request.getfixturevalue("pg_template")
        return _new_pg_database(cluster, template)
    template_file: Path = request.getfixturevalue("sqlite_template")
    path = tmp_path / "paylinks.db"
    shutil.copy(template_file, path)
    return f"sqlite:///{path}"


def is_postgresql(url: str) -> bool:
    """Whether *url* names a PostgreSQL database."""
    return make_url(url).get_backend_name() == "postgresql"


# -- host apps --------------------------------------------------------------


def _with_host_tables(app: Flask) -> Flask:
    db = app.extensions["paylinks"].db
    with app.app_context():
        db.create_all()
    return app


@pytest.fixture
def host_a(database_url: str) -> Iterator[Flask]:
    """Test host A (Flask-Login, ``crm_customers``) on a migrated database."""
    from .hosts import crm_a

    app = _with_host_tables(crm_a.create_app(database_url))
    yield app
    with app.app_context():
        crm_a.db.session.remove()
        crm_a.db.engine.dispose()


@pytest.fixture
def host_b(database_url: str) -> Iterator[Flask]:
    """Test host B (own login, ``people``) on a migrated database."""
    from .hosts import crm_b

    app = _with_host_tables(crm_b.create_app(database_url))
    yield app
    with app.app_context():
        crm_b.db.session.remove()
        crm_b.db.engine.dispose()


@pytest.fixture
def app(host_a: Flask) -> Flask:
    """The app pytest-flask's ``client`` fixture uses: host A."""
    return host_a


def make_config(**overrides: Any) -> dict[str, Any]:
    """Config for an app made inside a test, with rate limits off."""
    return {"PAYLINKS_RATELIMIT_ENABLED": False, **overrides}


# -- browser ----------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium through Playwright, for the session."""
    from .browser import chromium

    try:
        with chromium() as instance:
            yield instance
    except ServiceUnavailable as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh desktop-sized page (own cookies) that fails on console errors."""
    from .browser import watched_page

    with watched_page(browser) as new_page:
        yield new_page


# -- the example CRM (example_app/) ---------------------------------------------

#: Customers the example fixtures seed per merchant (the demo seeds 300).
EXAMPLE_CUSTOMERS = 40


@dataclass
class ExampleDemo:
    """The example CRM made for one test, and what its seed created.

    ``seed`` is :func:`example_app.seed.seed_demo`'s answer: per merchant key
    (``"acme"``: alice@acme.test, ``"globex"``: bob@globex.test) the
    ``account_id``, ``owner``, ``customers`` (ids), ``tags`` (name -> id),
    ``products`` (key -> id), ``links`` and ``slugs`` (adjustable quantity;
    phone + address + coupons; redirect to https://example.com/thanks;
    inactive), plus ``password``.
    """

    app: Flask
    seed: dict[str, Any]


@pytest.fixture
def make_example_demo(database_url: str) -> Iterator[Callable[..., ExampleDemo]]:
    """Build the example CRM on the test's database, seeded, with *config* on top.

    ``make_example_demo(WTF_CSRF_ENABLED=False)`` gives one whose forms take
    posts without a CSRF token. Each call re-seeds the same database.
    """
    import example_app
    from example_app.extensions import db
    from example_app.seed import seed_demo

    made: list[Flask] = []

    def make(**config: Any) -> ExampleDemo:
        app = example_app.create_app(
            {
                "SQLALCHEMY_DATABASE_URI": database_url,
                "TESTING": True,
                "SECRET_KEY": "example-app-tests",
                "PAYLINKS_RATELIMIT_ENABLED": False,
                # Tests must not depend on the hour they run at; quiet hours
                # have tests of their own.
                "PAYLINKS_QUIET_HOURS": None,
                **config,
            }
        )
        made.append(app)
        with app.app_context():
            db.create_all()
            seed = seed_demo(db, customers_per_account=EXAMPLE_CUSTOMERS)
        return ExampleDemo(app, seed)

    yield make
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def example_demo(make_example_demo: Callable[..., ExampleDemo]) -> ExampleDemo:
    """The seeded example CRM (CSRF on, rate limits off) and its seed summary."""
    return make_example_demo()


@pytest.fixture
def example_app(example_demo: ExampleDemo) -> Flask:
    """The example CRM on ``database_url``: host tables made, demo data seeded.

    CSRF protection is on, as in production; log in with
    ``tests.example_app.helpers.login`` (browser) or ``login_client`` (test
    client), both of which submit the real form.
    """
    return example_demo.app


@pytest.fixture
def example_seed(example_demo: ExampleDemo) -> dict[str, Any]:
    """What seeding ``example_app`` created (ids, slugs; see :class:`ExampleDemo`)."""
    return example_demo.seed


@pytest.fixture
def example_server(example_app: Flask) -> Iterator[LiveServer]:
    """``example_app`` served on a free port; ``example_server.url`` is its base."""
    from .browser import live_server

    with live_server(example_app) as server:
        yield server
