"""Gateway customers: the customer a gateway made for each contact email.

- ``paylinks_gateway_customers``: ``(owner_id, gateway, account, email_key,
  customer_id)``, unique on ``(gateway, account, owner_id, email_key)``, so a
  payment by an email seen before reuses its customer at the gateway.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 01:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "paylinks_gateway_customers",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("gateway", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=255), nullable=False),
        sa.Column("email_key", sa.String(length=320), nullable=False),
        sa.Column("customer_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paylinks_gateway_customers")),
        sa.UniqueConstraint(
            "gateway",
            "account",
            "owner_id",
            "email_key",
            name="uq_paylinks_gateway_customers_email",
        ),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("paylinks_gateway_customers")
