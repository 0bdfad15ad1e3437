"""Migration 0002 (the links table's indexes) matches the models, both ways."""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from flask_paylinks import migrate
from flask_paylinks.models import metadata

from ..conftest import is_postgresql


def _for_this_dialect(dialect: str) -> Any:
    """Leave out objects the models declare for another database only.

    The trigram index is declared ``ddl_if(dialect="postgresql")``; SQLite
    never gets it, and Alembic's comparison does not know ``ddl_if``.
    """

    def include_object(obj: Any, name: Any, type_: str, reflected: bool, other: Any):
        ddl_if = getattr(obj, "_ddl_if", None)
        if ddl_if is not None and ddl_if.dialect is not None:
            wanted = ddl_if.dialect
            return dialect in ((wanted,) if isinstance(wanted, str) else wanted)
        return True

    return include_object


@contextlib.contextmanager
def _sqlite_cannot_reflect_expression_indexes(url: str) -> Iterator[None]:
    """SQLAlchemy cannot read SQLite's expression indexes back, and says so.

    On SQLite the ``lower(name)`` index is therefore checked by its SQL in
    ``sqlite_master`` (:func:`test_sort_by_name_index_exists`) instead.
    """
    with warnings.catch_warnings():
        if not is_postgresql(url):
            warnings.filterwarnings(
                "ignore", "Skipped unsupported reflection of expression-based index"
            )
            warnings.filterwarnings(
                "ignore", ".*skipping metadata-specified expression-based index"
            )
        yield


def _differences(url: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with (
            _sqlite_cannot_reflect_expression_indexes(url),
            engine.connect() as connection,
        ):
            context = MigrationContext.configure(
                connection,
                opts={
                    "include_name": migrate.include_name,
                    "include_object": _for_this_dialect(connection.dialect.name),
                    "compare_type": True,
                },
            )
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def _index_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with _sqlite_cannot_reflect_expression_indexes(url):
            indexes = inspect(engine).get_indexes("paylinks_links")
        names = {ix["name"] for ix in indexes}
        if not is_postgresql(url):
            with engine.connect() as connection:
                names |= set(
                    connection.scalars(
                        text(
                            "SELECT name FROM sqlite_master WHERE type = 'index' "
                            "AND tbl_name = 'paylinks_links'"
                        )
                    )
                )
        return {name for name in names if name}
    finally:
        engine.dispose()


def test_sort_by_name_index_exists(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    migrate.upgrade(engine)
    with engine.connect() as connection:
        if is_postgresql(empty_database_url):
            sql = connection.scalar(
                text(
                    "SELECT indexdef FROM pg_indexes WHERE indexname = "
                    "'ix_paylinks_links_owner_id_lower_name_id'"
                )
            )
        else:
            sql = connection.scalar(
                text(
                    "SELECT sql FROM sqlite_master WHERE name = "
                    "'ix_paylinks_links_owner_id_lower_name_id'"
                )
            )
    engine.dispose()
    assert sql is not None
    # SQLite keeps the SQL as written; PostgreSQL writes lower((name)::text).
    assert re.search(r"lower\(\(?\"?name\"?\)?(::text\))?", sql)


def test_head_matches_the_models(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    migrate.upgrade(engine)
    engine.dispose()
    assert migrate.head_revision() == "0002"
    assert _differences(empty_database_url) == []
    names = _index_names(empty_database_url)
    assert "ix_paylinks_links_owner_id_lower_name_id" in names
    assert ("ix_paylinks_links_name_trgm" in names) == is_postgresql(empty_database_url)


@pytest.mark.postgresql
def test_head_matches_the_models_on_postgresql(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    migrate.upgrade(engine)
    with engine.connect() as connection:
        extension = connection.scalar(
            text("SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'")
        )
    engine.dispose()
    assert extension == "pg_trgm"
    assert _differences(empty_database_url) == []
    assert "ix_paylinks_links_name_trgm" in _index_names(empty_database_url)


def test_0002_goes_down_and_up_again(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    migrate.upgrade(engine)
    migrate.downgrade(engine, "0001")
    assert migrate.current_revision(engine) == "0001"
    names = _index_names(empty_database_url)
    assert "ix_paylinks_links_owner_id_created_at" in names
    assert "ix_paylinks_links_owner_id_created_at_id" not in names
    assert "ix_paylinks_links_name_trgm" not in names
    migrate.upgrade(engine)
    engine.dispose()
    assert _differences(empty_database_url) == []


@pytest.mark.postgresql
def test_0002_goes_down_and_up_on_postgresql(empty_database_url: str) -> None:
    test_0002_goes_down_and_up_again(empty_database_url)


def _index_sql(url: str) -> dict[str, str]:
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
    return " ".join(sql.replace("(", " ").replace(")", " ").replace('"', "").split())


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_partial_indexes_have_the_models_predicate(
    backend: str, request: pytest.FixtureRequest, tmp_path: Any
) -> None:
    """Alembic does not compare index predicates; this test does."""
    if backend == "postgresql":
        from ..conftest import _new_pg_database

        url = _new_pg_database(request.getfixturevalue("pg_cluster"))
    else:
        url = f"sqlite:///{tmp_path / 'partial.db'}"
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    definitions = _index_sql(url)
    checked = 0
    for table in metadata.sorted_tables:
        for index in table.indexes:
            where = index.dialect_kwargs.get(f"{backend}_where")
            if where is None:
                continue
            checked += 1
            sql = _normal(definitions[str(index.name)])
            assert f"WHERE {_normal(str(where))}" in sql, index.name
    assert checked == 4
