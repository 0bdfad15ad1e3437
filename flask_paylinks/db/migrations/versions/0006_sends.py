"""Sends, personal links and Text-to-Pay.

- ``paylinks_sends``: a send can be ``paused`` (with the reason, and whether
  it clears by itself) or ``cancelled``; it counts its duplicates and notes
  whether it ran inline.
- ``paylinks_recipients``: each row is the durable record of one message:
  the outbox columns (``attempts``, ``run_after``, ``dispatched_at``,
  ``lease_until``, ``claim``, ``last_error``), the contact's name for the
  lists, and the funnel (``failed_at``, ``last_opened_at``, ``open_count``,
  ``started_at``, ``device_key``).
- ``paylinks_links``: ``note`` (Text-to-Pay) and ``anonymous_opens``.
- ``paylinks_sms_opt_outs``: the phones that texted STOP, per owner.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 23:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

_OLD_STATES = "state IN ('queued', 'sending', 'finished')"
_NEW_STATES = "state IN ('queued', 'sending', 'paused', 'finished', 'cancelled')"
_FALSE = sa.text("false")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "paylinks_sms_opt_outs",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paylinks_sms_opt_outs")),
        sa.UniqueConstraint(
            "owner_id", "phone", name=op.f("uq_paylinks_sms_opt_outs_owner_id_phone")
        ),
    )
    with op.batch_alter_table("paylinks_sends") as batch:
        batch.drop_constraint(op.f("ck_paylinks_sends_state"), type_="check")
        batch.create_check_constraint(
            op.f("ck_paylinks_sends_state"), sa.text(_NEW_STATES)
        )
        batch.add_column(sa.Column("paused_reason", sa.String(300), nullable=True))
        batch.add_column(
            sa.Column(
                "pause_clears_itself",
                sa.Boolean(),
                server_default=_FALSE,
                nullable=False,
            )
        )
        batch.add_column(
            sa.Column("duplicates", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(
            sa.Column("inline", sa.Boolean(), server_default=_FALSE, nullable=False)
        )
        batch.add_column(
            sa.Column("base_url", sa.String(200), server_default="", nullable=False)
        )
        batch.add_column(sa.Column("idempotency_key", sa.String(64), nullable=True))
        batch.create_unique_constraint(
            op.f("uq_paylinks_sends_owner_id_idempotency_key"),
            ["owner_id", "idempotency_key"],
        )
    with op.batch_alter_table("paylinks_recipients") as batch:
        batch.add_column(
            sa.Column("name", sa.String(200), server_default="", nullable=False)
        )
        for name in (
            "failed_at",
            "last_opened_at",
            "started_at",
            "run_after",
            "dispatched_at",
            "lease_until",
        ):
            batch.add_column(sa.Column(name, sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("open_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(
            sa.Column("attempts", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(sa.Column("device_key", sa.String(64), nullable=True))
        batch.add_column(sa.Column("claim", sa.String(32), nullable=True))
        batch.add_column(sa.Column("last_error", sa.String(500), nullable=True))
        batch.create_index("ix_paylinks_recipients_send_id_state", ["send_id", "state"])
        batch.create_index(
            "ix_paylinks_recipients_state_run_after", ["state", "run_after"]
        )
    with op.batch_alter_table("paylinks_links") as batch:
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column(
                "anonymous_opens", sa.Integer(), server_default="0", nullable=False
            )
        )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("paylinks_sms_opt_outs")
    with op.batch_alter_table("paylinks_links") as batch:
        batch.drop_column("anonymous_opens")
        batch.drop_column("note")
    with op.batch_alter_table("paylinks_recipients") as batch:
        batch.drop_index("ix_paylinks_recipients_state_run_after")
        batch.drop_index("ix_paylinks_recipients_send_id_state")
        for name in (
            "last_error",
            "claim",
            "device_key",
            "attempts",
            "open_count",
            "lease_until",
            "dispatched_at",
            "run_after",
            "started_at",
            "last_opened_at",
            "failed_at",
            "name",
        ):
            batch.drop_column(name)
    op.execute("UPDATE paylinks_sends SET state = 'finished' WHERE state = 'cancelled'")
    op.execute("UPDATE paylinks_sends SET state = 'queued' WHERE state = 'paused'")
    with op.batch_alter_table("paylinks_sends") as batch:
        batch.drop_constraint(
            op.f("uq_paylinks_sends_owner_id_idempotency_key"), type_="unique"
        )
        for name in (
            "idempotency_key",
            "base_url",
            "inline",
            "duplicates",
            "pause_clears_itself",
            "paused_reason",
        ):
            batch.drop_column(name)
        batch.drop_constraint(op.f("ck_paylinks_sends_state"), type_="check")
        batch.create_check_constraint(
            op.f("ck_paylinks_sends_state"), sa.text(_OLD_STATES)
        )
