"""Indexes for the dashboard's links table at 100,000 links per merchant.

The table pages by keyset on (created_at, id) or (lower(name), id) and
filters on status, source, a creation date range and a name search. Each
sort and each equality filter gets a composite index that starts with
owner_id and returns rows already in page order, partial on
``deleted_at IS NULL`` as every table query is; the name search gets a
trigram GIN index on PostgreSQL when the pg_trgm extension can be created
(it is a trusted extension since PostgreSQL 13, so the database owner may).
The name sort's ``lower(name)`` index and the trigram index are made on
PostgreSQL only (``models.POSTGRESQL_ONLY_INDEXES``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 15:00:00
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

log = logging.getLogger("flask_paylinks.db.migrations")

#: The table never lists deleted links: partial indexes leave them out, and a
#: count over them needs no visit to the table (index-only scans).
LIVE_ONLY: dict[str, Any] = {
    "postgresql_where": sa.text("deleted_at IS NULL"),
    "sqlite_where": sa.text("deleted_at IS NULL"),
}
INDEXES = {
    "ix_paylinks_links_owner_id_created_at_id": ["owner_id", "created_at", "id"],
    "ix_paylinks_links_owner_id_status_created_at_id": [
        "owner_id",
        "status",
        "created_at",
        "id",
    ],
    "ix_paylinks_links_owner_id_source_created_at_id": [
        "owner_id",
        "source",
        "created_at",
        "id",
    ],
}


def _create_pg_trgm(bind: sa.Connection) -> bool:
    """Create pg_trgm if this server has it and we may; say whether it is there."""
    available = bind.scalar(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
    )
    if not available:
        return False
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError:
        return False
    return True


def upgrade() -> None:
    """Apply this revision."""
    # (owner_id, created_at, id) does all that (owner_id, created_at) did.
    op.drop_index("ix_paylinks_links_owner_id_created_at", "paylinks_links")
    for name, columns in INDEXES.items():
        op.create_index(name, "paylinks_links", columns, **LIVE_ONLY)
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # Not in the models (see models.POSTGRESQL_ONLY_INDEXES): SQLite
        # sorts its few rows by name well enough without it.
        op.create_index(
            "ix_paylinks_links_owner_id_lower_name_id",
            "paylinks_links",
            ["owner_id", sa.text("lower(name)"), "id"],
            **LIVE_ONLY,
        )
        if _create_pg_trgm(bind):
            op.create_index(
                "ix_paylinks_links_name_trgm",
                "paylinks_links",
                ["name"],
                postgresql_using="gin",
                postgresql_ops={"name": "gin_trgm_ops"},
            )
        else:
            log.warning(
                "pg_trgm is not available to this database user, so the payment "
                "links name search runs without its trigram index."
            )


def downgrade() -> None:
    """Revert this revision."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_paylinks_links_name_trgm")
        op.drop_index("ix_paylinks_links_owner_id_lower_name_id", "paylinks_links")
    for name in reversed(INDEXES):
        op.drop_index(name, "paylinks_links")
    op.create_index(
        "ix_paylinks_links_owner_id_created_at",
        "paylinks_links",
        ["owner_id", "created_at"],
    )
