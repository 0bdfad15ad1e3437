"""Alembic environment for flask_paylinks: own version table, own tables only."""

from __future__ import annotations

from alembic import context

from flask_paylinks.db.migrate import VERSION_TABLE, include_name
from flask_paylinks.db.models import metadata


def run_migrations() -> None:
    """Run the scripts on the connection :mod:`flask_paylinks.db.migrate` passes in."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        url = context.config.get_main_option("sqlalchemy.url")
        context.configure(
            url=url,
            target_metadata=metadata,
            version_table=VERSION_TABLE,
            literal_binds=True,
            include_name=include_name,
        )
    else:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table=VERSION_TABLE,
            include_name=include_name,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
