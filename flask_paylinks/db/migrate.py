"""Run the Alembic scripts shipped in ``flask_paylinks/db/migrations``.

They keep their own version table, ``paylinks_alembic_version``, so they never
touch the host's own Alembic history, and they only ever create, change or
drop ``paylinks_*`` tables.
"""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, Table

VERSION_TABLE = "paylinks_alembic_version"
SCRIPT_LOCATION = "flask_paylinks.db:migrations"
TABLE_PREFIX = "paylinks_"


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic looks at the extension's tables only, never the host's.

    It also leaves out the indexes the migrations make on PostgreSQL only
    (:data:`~flask_paylinks.db.models.POSTGRESQL_ONLY_INDEXES`).
    """
    if type_ == "table":
        return bool(name and name.startswith(TABLE_PREFIX) and name != VERSION_TABLE)
    if type_ == "index":
        from flask_paylinks.db.models import POSTGRESQL_ONLY_INDEXES

        return name not in POSTGRESQL_ONLY_INDEXES
    return True


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for the extension's scripts, bound to *connection*."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the extension's tables up to *revision*."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def downgrade(engine: Engine, revision: str = "-1") -> None:
    """Step the extension's tables down to *revision* (``base`` drops them all)."""
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), revision)
        context = MigrationContext.configure(
            connection, opts={"version_table": VERSION_TABLE}
        )
        if context.get_current_revision() is None:
            # Nothing of the extension is left; take its bookkeeping with it.
            Table(VERSION_TABLE, MetaData()).drop(connection, checkfirst=True)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or ``None`` before the first upgrade."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": VERSION_TABLE}
        )
        return context.get_current_revision()


def head_revision() -> str | None:
    """The newest revision the package ships."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
