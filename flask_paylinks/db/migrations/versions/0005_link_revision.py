"""A revision number on every payment link.

- ``paylinks_links.revision``: bumped in the transaction of any change to the
  link, its items, a product it sells or its logo. The checkout's page cache
  compares it (one small query by slug) before serving a rendered page, so an
  edit shows in every process at once.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("paylinks_links") as batch:
        batch.add_column(
            sa.Column("revision", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("paylinks_links") as batch:
        batch.drop_column("revision")
