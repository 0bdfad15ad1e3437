"""Initial tables: products, links, coupons, payments, sends, events.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 13:51:50.168516
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "paylinks_assets",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paylinks_assets")),
        sa.UniqueConstraint("token", name=op.f("uq_paylinks_assets_token")),
    )
    op.create_index(
        op.f("ix_paylinks_assets_owner_id"), "paylinks_assets", ["owner_id"]
    )

    op.create_table(
        "paylinks_coupons",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("code_key", sa.String(length=64), nullable=False),
        sa.Column("percent_off_bp", sa.Integer(), nullable=True),
        sa.Column("amount_off", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("max_redemptions", sa.Integer(), nullable=True),
        sa.Column("times_redeemed", sa.Integer(), nullable=False),
        sa.Column("applies_to_all", sa.Boolean(), nullable=False),
        sa.Column("duration", sa.String(length=16), nullable=False),
        sa.Column("duration_in_months", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "duration IN ('once', 'forever', 'repeating')",
            name=op.f("ck_paylinks_coupons_duration"),
        ),
        sa.CheckConstraint(
            "(percent_off_bp IS NOT NULL AND amount_off IS NULL AND percent_off_bp BETWEEN 1 AND 10000) OR (percent_off_bp IS NULL AND amount_off IS NOT NULL AND amount_off >= 1 AND currency IS NOT NULL)",
            name=op.f("ck_paylinks_coupons_one_kind_of_discount"),
        ),
        sa.CheckConstraint(
            "max_redemptions IS NULL OR times_redeemed <= max_redemptions",
            name=op.f("ck_paylinks_coupons_redemptions_within_max"),
        ),
        sa.CheckConstraint(
            "times_redeemed >= 0",
            name=op.f("ck_paylinks_coupons_times_redeemed_not_negative"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paylinks_coupons")),
        sa.UniqueConstraint(
            "owner_id", "code_key", name=op.f("uq_paylinks_coupons_owner_id_code_key")
        ),
    )
    op.create_table(
        "paylinks_products",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("image_url", sa.String(length=2000), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("interval", sa.String(length=8), nullable=True),
        sa.Column("interval_count", sa.Integer(), nullable=True),
        sa.Column("unit_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("listed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(kind = 'one_time' AND interval IS NULL AND interval_count IS NULL) OR (kind = 'recurring' AND interval IS NOT NULL AND interval_count >= 1)",
            name=op.f("ck_paylinks_products_recurring_has_interval"),
        ),
        sa.CheckConstraint(
            "kind IN ('one_time', 'recurring')", name=op.f("ck_paylinks_products_kind")
        ),
        sa.CheckConstraint(
            "unit_amount >= 0",
            name=op.f("ck_paylinks_products_unit_amount_not_negative"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paylinks_products")),
    )
    op.create_index(
        op.f("ix_paylinks_products_owner_id_active_name"),
        "paylinks_products",
        ["owner_id", "active", "name"],
    )

    op.create_table(
        "paylinks_coupon_products",
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column(
            "coupon_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column(
            "product_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["coupon_id"],
            ["paylinks_coupons.id"],
            name=op.f("fk_paylinks_coupon_products_coupon_id_paylinks_coupons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["paylinks_products.id"],
            name=op.f("fk_paylinks_coupon_products_product_id_paylinks_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "coupon_id", "product_id", name=op.f("pk_paylinks_coupon_products")
        ),
    )
    op.create_table(
        "paylinks_links",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("require_phone", sa.Boolean(), nullable=False),
        sa.Column("collect_address", sa.Boolean(), nullable=False),
        sa.Column("allow_coupons", sa.Boolean(), nullable=False),
        sa.Column("redirect_url", sa.String(length=2000), nullable=True),
        sa.Column("redirect_new_tab", sa.Boolean(), nullable=False),
        sa.Column("brand_color", sa.String(length=7), nullable=True),
        sa.Column("logo_url", sa.String(length=2000), nullable=True),
        sa.Column(
            "logo_asset_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("button_style", sa.String(length=16), nullable=True),
        sa.Column("contact_id", sa.String(length=64), nullable=True),
        sa.Column("single_use", sa.Boolean(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source IN ('dashboard', 'api', 'text_to_pay')",
            name=op.f("ck_paylinks_links_source"),
        ),
        sa.CheckConstraint(
            "status IN ('active', 'inactive')", name=op.f("ck_paylinks_links_status")
        ),
        sa.ForeignKeyConstraint(
            ["logo_asset_id"],
            ["paylinks_assets.id"],
            name=op.f("fk_paylinks_links_logo_asset_id_paylinks_assets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paylinks_links")),
        sa.UniqueConstraint("slug", name=op.f("uq_paylinks_links_slug")),
    )
    op.create_index(
        op.f("ix_paylinks_links_owner_id_created_at"),
        "paylinks_links",
        ["owner_id", "created_at"],
    )

    op.create_table(
        "paylinks_link_items",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column(
            "link_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column(
            "product_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("adjustable", sa.Boolean(), nullable=False),
        sa.Column("min_quantity", sa.Integer(), nullable=True),
        sa.Column("max_quantity", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "NOT adjustable OR (min_quantity >= 1 AND max_quantity >= min_quantity)",
            name=op.f("ck_paylinks_link_items_quantity_bounds"),
        ),
        sa.CheckConstraint(
            "quantity >= 1", name=op.f("ck_paylinks_link_items_quantity_positive")
        ),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["paylinks_links.id"],
            name=op.f("fk_paylinks_link_items_link_id_paylinks_links"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["paylinks_products.id"],
            name=op.f("fk_paylinks_link_items_product_id_paylinks_products"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paylinks_link_items")),
    )
    op.create_index(
        op.f("ix_paylinks_link_items_link_id"), "paylinks_link_items", ["link_id"]
    )
    op.create_index(
        op.f("ix_paylinks_link_items_product_id"), "paylinks_link_items", ["product_id"]
    )

    op.create_table(
        "paylinks_sends",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column(
            "link_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("channels", sa.String(length=16), nullable=False),
        sa.Column("sms_body", sa.Text(), nullable=False),
        sa.Column("email_subject", sa.String(length=200), nullable=False),
        sa.Column("email_body", sa.Text(), nullable=False),
        sa.Column("segment_id", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('queued', 'sending', 'finished')",
            name=op.f("ck_paylinks_sends_state"),
        ),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["paylinks_links.id"],
            name=op.f("fk_paylinks_sends_link_id_paylinks_links"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paylinks_sends")),
    )
    op.create_index(op.f("ix_paylinks_sends_link_id"), "paylinks_sends", ["link_id"])
    op.create_index(
        op.f("ix_paylinks_sends_owner_id_created_at"),
        "paylinks_sends",
        ["owner_id", "created_at"],
    )

    op.create_table(
        "paylinks_recipients",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column(
            "send_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column(
            "link_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=True),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("provider_message_id", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "channel IN ('sms', 'email')", name=op.f("ck_paylinks_recipients_channel")
        ),
        sa.CheckConstraint(
            "state IN ('queued', 'sent', 'delivered', 'failed', 'skipped')",
            name=op.f("ck_paylinks_recipients_state"),
        ),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["paylinks_links.id"],
            name=op.f("fk_paylinks_recipients_link_id_paylinks_links"),
        ),
        sa.ForeignKeyConstraint(
            ["send_id"],
            ["paylinks_sends.id"],
            name=op.f("fk_paylinks_recipients_send_id_paylinks_sends"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paylinks_recipients")),
        sa.UniqueConstraint(
            "send_id",
            "contact_id",
            "channel",
            name=op.f("uq_paylinks_recipients_send_id_contact_id_channel"),
        ),
        sa.UniqueConstraint("token", name=op.f("uq_paylinks_recipients_token")),
    )
    op.create_index(
        op.f("ix_paylinks_recipients_owner_id_link_id"),
        "paylinks_recipients",
        ["owner_id", "link_id"],
    )
    op.create_index(
        op.f("ix_paylinks_recipients_provider_message_id"),
        "paylinks_recipients",
        ["provider_message_id"],
    )

    op.create_table(
        "paylinks_payments",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column(
            "link_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_subtotal", sa.BigInteger(), nullable=False),
        sa.Column("amount_discount", sa.BigInteger(), nullable=False),
        sa.Column("amount_total", sa.BigInteger(), nullable=False),
        sa.Column("amount_recurring", sa.BigInteger(), nullable=True),
        sa.Column("recurring_interval", sa.String(length=8), nullable=True),
        sa.Column("recurring_interval_count", sa.Integer(), nullable=True),
        sa.Column(
            "snapshot",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column(
            "coupon_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("coupon_code", sa.String(length=64), nullable=True),
        sa.Column("customer_name", sa.String(length=200), nullable=False),
        sa.Column("customer_email", sa.String(length=320), nullable=False),
        sa.Column("customer_phone", sa.String(length=20), nullable=True),
        sa.Column(
            "customer_address",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column("contact_id", sa.String(length=64), nullable=True),
        sa.Column(
            "recipient_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("gateway", sa.String(length=16), nullable=False),
        sa.Column("gateway_payment_id", sa.String(length=255), nullable=True),
        sa.Column("gateway_customer_id", sa.String(length=255), nullable=True),
        sa.Column("gateway_subscription_id", sa.String(length=255), nullable=True),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("failure_message", sa.String(length=500), nullable=True),
        sa.Column("succeeded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('pending', 'succeeded', 'failed', 'refunded')",
            name=op.f("ck_paylinks_payments_state"),
        ),
        sa.CheckConstraint(
            "amount_total >= 0",
            name=op.f("ck_paylinks_payments_amount_total_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["coupon_id"],
            ["paylinks_coupons.id"],
            name=op.f("fk_paylinks_payments_coupon_id_paylinks_coupons"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["paylinks_links.id"],
            name=op.f("fk_paylinks_payments_link_id_paylinks_links"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["paylinks_recipients.id"],
            name=op.f("fk_paylinks_payments_recipient_id_paylinks_recipients"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paylinks_payments")),
        sa.UniqueConstraint(
            "idempotency_key", name=op.f("uq_paylinks_payments_idempotency_key")
        ),
        sa.UniqueConstraint("reference", name=op.f("uq_paylinks_payments_reference")),
    )
    op.create_index(
        op.f("ix_paylinks_payments_contact_id"), "paylinks_payments", ["contact_id"]
    )
    op.create_index(
        op.f("ix_paylinks_payments_gateway_gateway_payment_id"),
        "paylinks_payments",
        ["gateway", "gateway_payment_id"],
    )
    op.create_index(
        op.f("ix_paylinks_payments_owner_id_link_id_created_at"),
        "paylinks_payments",
        ["owner_id", "link_id", "created_at"],
    )
    op.create_index(
        op.f("ix_paylinks_payments_owner_id_state_created_at"),
        "paylinks_payments",
        ["owner_id", "state", "created_at"],
    )
    op.create_index(
        op.f("ix_paylinks_payments_recipient_id"), "paylinks_payments", ["recipient_id"]
    )

    op.create_table(
        "paylinks_gateway_events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("owner_id", sa.String(length=64), nullable=True),
        sa.Column("gateway", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column(
            "payment_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column(
            "payload",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["paylinks_payments.id"],
            name=op.f("fk_paylinks_gateway_events_payment_id_paylinks_payments"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paylinks_gateway_events")),
        sa.UniqueConstraint(
            "gateway",
            "event_id",
            name=op.f("uq_paylinks_gateway_events_gateway_event_id"),
        ),
    )
    op.create_index(
        op.f("ix_paylinks_gateway_events_owner_id"),
        "paylinks_gateway_events",
        ["owner_id"],
    )
    op.create_index(
        op.f("ix_paylinks_gateway_events_payment_id"),
        "paylinks_gateway_events",
        ["payment_id"],
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(
        op.f("ix_paylinks_gateway_events_payment_id"),
        table_name="paylinks_gateway_events",
    )
    op.drop_index(
        op.f("ix_paylinks_gateway_events_owner_id"),
        table_name="paylinks_gateway_events",
    )

    op.drop_table("paylinks_gateway_events")
    op.drop_index(
        op.f("ix_paylinks_payments_recipient_id"), table_name="paylinks_payments"
    )
    op.drop_index(
        op.f("ix_paylinks_payments_owner_id_state_created_at"),
        table_name="paylinks_payments",
    )
    op.drop_index(
        op.f("ix_paylinks_payments_owner_id_link_id_created_at"),
        table_name="paylinks_payments",
    )
    op.drop_index(
        op.f("ix_paylinks_payments_gateway_gateway_payment_id"),
        table_name="paylinks_payments",
    )
    op.drop_index(
        op.f("ix_paylinks_payments_contact_id"), table_name="paylinks_payments"
    )

    op.drop_table("paylinks_payments")
    op.drop_index(
        op.f("ix_paylinks_recipients_provider_message_id"),
        table_name="paylinks_recipients",
    )
    op.drop_index(
        op.f("ix_paylinks_recipients_owner_id_link_id"),
        table_name="paylinks_recipients",
    )

    op.drop_table("paylinks_recipients")
    op.drop_index(
        op.f("ix_paylinks_sends_owner_id_created_at"), table_name="paylinks_sends"
    )
    op.drop_index(op.f("ix_paylinks_sends_link_id"), table_name="paylinks_sends")

    op.drop_table("paylinks_sends")
    op.drop_index(
        op.f("ix_paylinks_link_items_product_id"), table_name="paylinks_link_items"
    )
    op.drop_index(
        op.f("ix_paylinks_link_items_link_id"), table_name="paylinks_link_items"
    )

    op.drop_table("paylinks_link_items")
    op.drop_index(
        op.f("ix_paylinks_links_owner_id_created_at"), table_name="paylinks_links"
    )

    op.drop_table("paylinks_links")
    op.drop_table("paylinks_coupon_products")
    op.drop_index(
        op.f("ix_paylinks_products_owner_id_active_name"),
        table_name="paylinks_products",
    )

    op.drop_table("paylinks_products")
    op.drop_table("paylinks_coupons")
    op.drop_index(op.f("ix_paylinks_assets_owner_id"), table_name="paylinks_assets")

    op.drop_table("paylinks_assets")
