"""Migration 0002 (the links table's indexes) matches the models, both ways.

``tests/test_migrations.py`` compares every revision with the models; these
tests add what Alembic's comparison does not see: the partial indexes'
predicates and the indexes made on PostgreSQL only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from flask_paylinks.db import migrate
from flask_paylinks.db.models import POSTGRESQL_ONLY_INDEXES, metadata

from ..conftest import PostgresCluster, _new_pg_database, is_postgresql


def _migrated(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "postgresql":
        cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
        url = _new_pg_database(cluster)
    else:
        url = f"sqlite:///{tmp_path / 'migrated.db'}"
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


def _differences(url: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={"include_name": migrate.include_name, "compare_type": True},
            )
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def _index_sql(url: str) -> dict[str, str]:
    """Each index of the database by name, with the SQL that makes it."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            if is_postgresql(url):
                rows = connection.execute(
                    text("SELECT indexname, indexdef FROM pg_indexes")
                )
            else:
                rows = connection.execute(
                    text("SELECT name, sql FROM sqlite_master WHERE type = 'index'")
                )
            return {name: sql or "" for name, sql in rows}
    finally:
        engine.dispose()


def _normal(sql: str) -> str:
    for noise in ('"', "(", ")", "::text"):
        sql = sql.replace(noise, " ")
    return " ".join(sql.split())


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_head_matches_the_models(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = _migrated(backend, request, tmp_path)
    assert migrate.head_revision() == "0009"
    assert _differences(url) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_partial_indexes_have_the_models_predicate(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Alembic does not compare index predicates; this test does."""
    definitions = _index_sql(_migrated(backend, request, tmp_path))
    checked = 0
    for table in metadata.sorted_tables:
        for index in table.indexes:
            where = index.dialect_kwargs.get(f"{backend}_where")
            if where is None:
                continue
            checked += 1
            sql = _normal(definitions[str(index.name)])
            assert f"WHERE {_normal(str(where))}" in sql, index.name
    assert checked == 3


@pytest.mark.postgresql
def test_postgresql_only_indexes(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = _migrated("postgresql", request, tmp_path)
    definitions = {
        name: _normal(sql)
        for name, sql in _index_sql(url).items()
        if name in POSTGRESQL_ONLY_INDEXES
    }
    assert set(definitions) == POSTGRESQL_ONLY_INDEXES
    assert "USING gin name gin_trgm_ops" in definitions["ix_paylinks_links_name_trgm"]
    assert (
        "btree owner_id, lower name , id WHERE deleted_at IS NULL"
        in definitions["ix_paylinks_links_owner_id_lower_name_id"]
    )
    engine = create_engine(url)
    with engine.connect() as connection:
        assert connection.scalar(
            text("SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'")
        )
    engine.dispose()


def test_sqlite_gets_no_postgresql_only_index(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    names = set(_index_sql(_migrated("sqlite", request, tmp_path)))
    assert "ix_paylinks_links_owner_id_created_at_id" in names
    assert not names & POSTGRESQL_ONLY_INDEXES


@pytest.mark.parametrize("backend", BACKENDS)
def test_0002_goes_down_and_up_again(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = _migrated(backend, request, tmp_path)
    engine = create_engine(url)
    migrate.downgrade(engine, "0001")
    assert migrate.current_revision(engine) == "0001"
    names = set(_index_sql(url))
    assert "ix_paylinks_links_owner_id_created_at" in names
    assert "ix_paylinks_links_owner_id_created_at_id" not in names
    assert not names & POSTGRESQL_ONLY_INDEXES
    migrate.upgrade(engine)
    engine.dispose()
    assert _differences(url) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_0003_goes_down_and_up_again(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = _migrated(backend, request, tmp_path)
    engine = create_engine(url)
    migrate.downgrade(engine, "0002")
    assert migrate.current_revision(engine) == "0002"
    columns = {c["name"] for c in inspect(engine).get_columns("paylinks_coupons")}
    assert "times_claimed" not in columns
    migrate.upgrade(engine)
    engine.dispose()
    assert _differences(url) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_0005_goes_down_and_up_again(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = _migrated(backend, request, tmp_path)
    engine = create_engine(url)
    migrate.downgrade(engine, "0004")
    assert migrate.current_revision(engine) == "0004"
    columns = {c["name"] for c in inspect(engine).get_columns("paylinks_links")}
    assert "revision" not in columns
    migrate.upgrade(engine)
    columns = {c["name"] for c in inspect(engine).get_columns("paylinks_links")}
    assert "revision" in columns
    engine.dispose()
    assert _differences(url) == []
