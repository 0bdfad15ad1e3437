"""Stripe Connect: the account each owner is paid into, and its state.

``paylinks_stripe_accounts``: one row per owner and mode, unique on the
Stripe account id, with what Stripe last said of it (charges enabled,
details submitted, requirements currently due, disabled reason) and the
``created`` time of that news, so an older ``account.updated`` loses.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 02:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "paylinks_stripe_accounts",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=255), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("charges_enabled", sa.Boolean(), nullable=False),
        sa.Column("details_submitted", sa.Boolean(), nullable=False),
        sa.Column("requirements_due", sa.JSON(), nullable=False),
        sa.Column("disabled_reason", sa.String(length=100), nullable=True),
        sa.Column("last_event_created", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paylinks_stripe_accounts")),
        sa.UniqueConstraint(
            "account_id", name=op.f("uq_paylinks_stripe_accounts_account_id")
        ),
        sa.UniqueConstraint(
            "owner_id",
            "livemode",
            name=op.f("uq_paylinks_stripe_accounts_owner_id_livemode"),
        ),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("paylinks_stripe_accounts")
