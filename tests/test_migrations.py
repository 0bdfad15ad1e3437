"""The shipped Alembic scripts: create and drop exactly the paylinks_* tables."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from sqlalchemy import create_engine, inspect, text

from flask_paylinks.db import migrate
from flask_paylinks.db.models import metadata

from .hosts import crm_a

PAYLINKS_TABLES = {table.name for table in metadata.sorted_tables}


def _host_app(url: str) -> Flask:
    app = crm_a.create_app(url)
    with app.app_context():
        crm_a.db.create_all()
        with crm_a.db.engine.begin() as connection:
            # The host's own Alembic history, which ours must never touch.
            connection.execute(
                text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
            )
            connection.execute(
                text("INSERT INTO alembic_version VALUES ('host_rev_42')")
            )
            connection.execute(
                text(
                    "INSERT INTO crm_customers (account_id, full_name, do_not_text)"
                    " VALUES (1, 'Ada', false)"
                )
            )
    return app


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("pg", marks=pytest.mark.postgresql)]
)
def test_cli_upgrade_and_downgrade_touch_only_paylinks_tables(
    empty_database_url: str, backend: str
) -> None:
    app = _host_app(empty_database_url)
    runner = app.test_cli_runner()
    host_tables = {
        "crm_users",
        "crm_customers",
        "crm_tags",
        "crm_customer_tags",
        "alembic_version",
    }

    result = runner.invoke(args=["paylinks", "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "paylinks tables are at" in result.output
    with app.app_context():
        engine = crm_a.db.engine
        tables = set(inspect(engine).get_table_names())
        assert tables >= PAYLINKS_TABLES
        assert host_tables <= tables
        assert migrate.current_revision(engine) == migrate.head_revision()

    result = runner.invoke(args=["paylinks", "db", "current"])
    assert "(head)" in result.output

    result = runner.invoke(args=["paylinks", "db", "downgrade", "base"])
    assert result.exit_code == 0, result.output
    assert "paylinks tables removed" in result.output
    with app.app_context():
        engine = crm_a.db.engine
        tables = set(inspect(engine).get_table_names())
        assert tables == host_tables
        with engine.connect() as connection:
            assert connection.execute(
                text("SELECT version_num FROM alembic_version")
            ).all() == [("host_rev_42",)]
            assert connection.execute(
                text("SELECT full_name FROM crm_customers")
            ).all() == [("Ada",)]
        engine.dispose()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("pg", marks=pytest.mark.postgresql)]
)
def test_migrations_match_the_models(empty_database_url: str, backend: str) -> None:
    engine = create_engine(empty_database_url)
    migrate.upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"include_name": migrate.include_name, "compare_type": True},
        )
        assert compare_metadata(context, metadata) == []
    engine.dispose()


def test_every_revision_downgrades_and_upgrades_again(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    assert inspect(engine).get_table_names() == []
    migrate.upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= PAYLINKS_TABLES
    engine.dispose()
