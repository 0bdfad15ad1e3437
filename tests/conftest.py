"""Shared fixtures: databases (SQLite or a real PostgreSQL), Redis, host apps.

``pytest`` runs on SQLite; ``pytest --db=postgresql`` runs the same tests on a
PostgreSQL cluster the run starts itself. Tests marked ``postgresql`` always
use PostgreSQL. A service that cannot start fails the test run; nothing skips.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from flask_paylinks import migrate

from .services import (
    PostgresCluster,
    RedisServer,
    ServiceUnavailable,
    postgres_cluster,
    redis_server,
)


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
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    new_page = context.new_page()
    errors: list[str] = []

    def on_console(message: Any) -> None:
        where = (message.location or {}).get("url", "")
        if message.type == "error" and not where.endswith("/favicon.ico"):
            errors.append(f"{message.text} ({where})")

    new_page.on("console", on_console)
    new_page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield new_page
    context.close()
    assert not errors, f"the browser reported errors: {errors}"
