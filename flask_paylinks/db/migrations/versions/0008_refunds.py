"""Refunds: what was given back of each payment, and each refund asked for.

- ``paylinks_payments.amount_refunded`` (minor units, default 0).
- ``paylinks_refunds``: one row per refund, unique on ``idempotency_key`` (one
  per rendered refund form), ``amount > 0``, a reason and a state.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply this revision."""
    op.add_column(
        "paylinks_payments",
        sa.Column(
            "amount_refunded", sa.BigInteger(), server_default="0", nullable=False
        ),
    )
    op.create_table(
        "paylinks_refunds",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("payment_id", BIG_ID, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("note", sa.String(length=500), server_default="", nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("gateway_refund_id", sa.String(length=255), nullable=True),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("failure_message", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "amount > 0", name=op.f("ck_paylinks_refunds_amount_positive")
        ),
        sa.CheckConstraint(
            "reason IN ('duplicate', 'fraudulent', 'requested_by_customer')",
            name=op.f("ck_paylinks_refunds_reason"),
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'succeeded', 'failed')",
            name=op.f("ck_paylinks_refunds_state"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["paylinks_payments.id"],
            name=op.f("fk_paylinks_refunds_payment_id_paylinks_payments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paylinks_refunds")),
        sa.UniqueConstraint(
            "idempotency_key", name=op.f("uq_paylinks_refunds_idempotency_key")
        ),
    )
    op.create_index(
        op.f("ix_paylinks_refunds_owner_id_payment_id_created_at"),
        "paylinks_refunds",
        ["owner_id", "payment_id", "created_at"],
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(
        op.f("ix_paylinks_refunds_owner_id_payment_id_created_at"),
        table_name="paylinks_refunds",
    )
    op.drop_table("paylinks_refunds")
    op.drop_column("paylinks_payments", "amount_refunded")
