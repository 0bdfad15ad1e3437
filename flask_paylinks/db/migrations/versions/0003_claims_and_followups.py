"""Limits claimed by conditional UPDATEs, agreed terms, and guarded follow-ups.

- ``paylinks_coupons.times_claimed``: redemptions taken plus those held by
  pending payments. A checkout claims one with ``UPDATE ... WHERE
  times_claimed < max_redemptions`` and checks the row count, which holds on
  SQLite, where ``SELECT ... FOR UPDATE`` does nothing, as on PostgreSQL.
- ``paylinks_links.claims`` and ``paylinks_payments.holds_link``: the same
  for single-use links.
- ``paylinks_payments.terms_digest``: what the customer agreed to.
- ``paylinks_payments.contact_changes``: details a customer typed that differ
  from the CRM's contact, kept for the merchant instead of overwriting it.
- ``paylinks_payments.followed_up_at`` / ``followup_attempts``: whether
  ``payment_succeeded`` reached every receiver.
- ``paylinks_payments.receipt_sent_at``: the customer's receipt email left.

Existing pending payments keep the coupon and link claims they hold.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 19:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("paylinks_coupons") as batch:
        batch.add_column(
            sa.Column("times_claimed", sa.Integer(), server_default="0", nullable=False)
        )
        batch.create_check_constraint(
            op.f("ck_paylinks_coupons_times_claimed_not_negative"),
            sa.text("times_claimed >= 0"),
        )
    with op.batch_alter_table("paylinks_links") as batch:
        batch.add_column(
            sa.Column("claims", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("paylinks_payments") as batch:
        batch.add_column(sa.Column("terms_digest", sa.String(length=64)))
        batch.add_column(
            sa.Column(
                "holds_link",
                sa.Boolean(),
                server_default=sa.text("false"),
                nullable=False,
            )
        )
        batch.add_column(sa.Column("contact_changes", DOCUMENT))
        batch.add_column(sa.Column("followed_up_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("receipt_sent_at", sa.DateTime(timezone=True)))
        batch.add_column(
            sa.Column(
                "followup_attempts", sa.Integer(), server_default="0", nullable=False
            )
        )
    # Claims already held: redemptions so far plus pending payments.
    op.execute(
        "UPDATE paylinks_coupons SET times_claimed = times_redeemed + ("
        "SELECT count(*) FROM paylinks_payments p WHERE p.coupon_id = "
        "paylinks_coupons.id AND p.state = 'pending')"
    )
    op.execute(
        "UPDATE paylinks_links SET claims = (SELECT count(*) FROM paylinks_payments p"
        " WHERE p.link_id = paylinks_links.id AND p.state IN ('pending',"
        " 'succeeded', 'refunded')) WHERE single_use"
    )
    # Payments that succeeded before this revision were followed up already.
    op.execute(
        "UPDATE paylinks_payments SET followed_up_at = succeeded_at"
        " WHERE contact_id IS NOT NULL"
    )
    # Payments from before receipts were sent are not sent one now.
    op.execute(
        "UPDATE paylinks_payments SET receipt_sent_at = succeeded_at"
        " WHERE state IN ('succeeded', 'refunded')"
    )


def downgrade() -> None:
    """Undo this revision."""
    with op.batch_alter_table("paylinks_payments") as batch:
        batch.drop_column("followup_attempts")
        batch.drop_column("receipt_sent_at")
        batch.drop_column("followed_up_at")
        batch.drop_column("contact_changes")
        batch.drop_column("holds_link")
        batch.drop_column("terms_digest")
    with op.batch_alter_table("paylinks_links") as batch:
        batch.drop_column("claims")
    with op.batch_alter_table("paylinks_coupons") as batch:
        batch.drop_constraint(
            op.f("ck_paylinks_coupons_times_claimed_not_negative"), type_="check"
        )
        batch.drop_column("times_claimed")
