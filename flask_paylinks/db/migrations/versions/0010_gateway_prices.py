"""Gateway prices, subscription status and disputes.

- ``paylinks_gateway_prices``: the gateway's Product and Price of each
  catalogue product at each price, unique on ``(gateway, account,
  product_id, amount, currency, interval, interval_count)``.
- ``paylinks_payments``: ``subscription_status`` and ``subscription_status_at``
  (when the gateway reported it), and the dispute's id, amount, reason,
  status and time.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 02:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

PAYMENT_COLUMNS = (
    ("subscription_status", sa.String(length=32)),
    ("subscription_status_at", sa.DateTime(timezone=True)),
    ("dispute_id", sa.String(length=255)),
    ("dispute_amount", sa.BigInteger()),
    ("dispute_reason", sa.String(length=64)),
    ("dispute_status", sa.String(length=32)),
    ("disputed_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "paylinks_gateway_prices",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("gateway", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=255), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("interval", sa.String(length=8), nullable=False),
        sa.Column("interval_count", sa.Integer(), nullable=False),
        sa.Column("gateway_product_id", sa.String(length=255), nullable=False),
        sa.Column("gateway_price_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paylinks_gateway_prices")),
        sa.UniqueConstraint(
            "gateway",
            "account",
            "product_id",
            "amount",
            "currency",
            "interval",
            "interval_count",
            name="uq_paylinks_gateway_prices_terms",
        ),
    )
    for name, kind in PAYMENT_COLUMNS:
        op.add_column("paylinks_payments", sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("paylinks_payments") as batch:
        for name, _kind in reversed(PAYMENT_COLUMNS):
            batch.drop_column(name)
    op.drop_table("paylinks_gateway_prices")
