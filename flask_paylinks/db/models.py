"""The extension's tables, on its own declarative base and metadata.

Every table is prefixed ``paylinks_`` and every row carries ``owner_id``, the
host's id of the merchant it belongs to (a string, whatever the host's key
type). Money is integer minor units plus an ISO 4217 ``currency`` column. The
host's contact is only ever referenced by its id, as a string.

The schema is created and changed by the Alembic scripts in
``flask_paylinks/db/migrations`` (``flask paylinks db upgrade``), never by
``create_all`` on the host's metadata.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from flask_paylinks.core.money import Money

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

#: Primary keys of tables that grow large; SQLite only autoincrements INTEGER.
BigId = BigInteger().with_variant(Integer(), "sqlite")
#: JSON documents; JSONB on PostgreSQL.
Document = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite has no timezone type and hands back naive values; this keeps the
    Python side the same on every database.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused; use an aware UTC time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class Base(DeclarativeBase):
    """Declarative base of every flask_paylinks model (not the host's)."""

    metadata = metadata


class ProductKind(enum.StrEnum):
    """How a product is charged."""

    ONE_TIME = "one_time"
    RECURRING = "recurring"


class Interval(enum.StrEnum):
    """The period of a recurring product."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


class LinkStatus(enum.StrEnum):
    """Whether a link takes payments."""

    ACTIVE = "active"
    INACTIVE = "inactive"


class LinkSource(enum.StrEnum):
    """Where a link was made."""

    DASHBOARD = "dashboard"
    API = "api"
    TEXT_TO_PAY = "text_to_pay"


class ButtonStyle(enum.StrEnum):
    """The shape of the checkout's buttons."""

    ROUNDED = "rounded"
    SQUARE = "square"
    PILL = "pill"


class PaymentState(enum.StrEnum):
    """Where a payment is in its life: pending, then one of the others."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUNDED = "refunded"


class RefundReason(enum.StrEnum):
    """Why a payment is refunded: Stripe's three reasons."""

    DUPLICATE = "duplicate"
    FRAUDULENT = "fraudulent"
    REQUESTED_BY_CUSTOMER = "requested_by_customer"


class RefundState(enum.StrEnum):
    """Where a refund is: pending while the gateway is asked, then settled."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class CouponDuration(enum.StrEnum):
    """How long a coupon discounts a recurring product."""

    ONCE = "once"
    FOREVER = "forever"
    REPEATING = "repeating"


class SendState(enum.StrEnum):
    """Progress of a bulk send."""

    QUEUED = "queued"
    SENDING = "sending"
    #: Stopped until someone (or the sweeper) resumes it: ``paused_reason`` says why.
    PAUSED = "paused"
    FINISHED = "finished"
    CANCELLED = "cancelled"


class RecipientState(enum.StrEnum):
    """Progress of one message of a send."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"


class Channel(enum.StrEnum):
    """How a message reaches a contact."""

    SMS = "sms"
    EMAIL = "email"


def _values(kind: type[enum.StrEnum]) -> str:
    return ", ".join(f"'{member.value}'" for member in kind)


class Timestamps:
    """``created_at`` and ``updated_at``, kept by the ORM."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow
    )


class Product(Timestamps, Base):
    """Something a merchant sells: once, or every ``interval_count`` ``interval``."""

    __tablename__ = "paylinks_products"
    __table_args__ = (
        CheckConstraint("unit_amount >= 0", name="unit_amount_not_negative"),
        CheckConstraint(f"kind IN ({_values(ProductKind)})", name="kind"),
        CheckConstraint(
            "(kind = 'one_time' AND interval IS NULL AND interval_count IS NULL)"
            " OR (kind = 'recurring' AND interval IS NOT NULL"
            " AND interval_count >= 1)",
            name="recurring_has_interval",
        ),
        Index(None, "owner_id", "active", "name"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    image_url: Mapped[str | None] = mapped_column(String(2000))
    kind: Mapped[str] = mapped_column(String(16), default=ProductKind.ONE_TIME)
    interval: Mapped[str | None] = mapped_column(String(8))
    interval_count: Mapped[int | None] = mapped_column(Integer)
    unit_amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: False for one-off products made by Text-to-Pay: kept out of the catalogue.
    listed: Mapped[bool] = mapped_column(Boolean, default=True)

    @property
    def price(self) -> Money:
        """The unit price."""
        return Money(self.unit_amount, self.currency)

    @property
    def is_recurring(self) -> bool:
        """Whether the product is charged every interval."""
        return self.kind == ProductKind.RECURRING


class Asset(Base):
    """An uploaded file the extension serves itself, such as a link's logo."""

    __tablename__ = "paylinks_assets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64), index=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


#: Partial-index options: only links that are not deleted.
LIVE_ONLY: dict[str, Any] = {
    "postgresql_where": text("deleted_at IS NULL"),
    "sqlite_where": text("deleted_at IS NULL"),
}


class PaymentLink(Timestamps, Base):
    """A shareable URL to a branded checkout for a set of products."""

    __tablename__ = "paylinks_links"
    __table_args__ = (
        CheckConstraint(f"status IN ({_values(LinkStatus)})", name="status"),
        CheckConstraint(f"source IN ({_values(LinkSource)})", name="source"),
        # The dashboard's links table (migration 0002): newest first and date
        # ranges, then the status and source filters in creation order. The
        # table never shows deleted links, so deleted ones are left out.
        Index(None, "owner_id", "created_at", "id", **LIVE_ONLY),
        Index(None, "owner_id", "status", "created_at", "id", **LIVE_ONLY),
        Index(None, "owner_id", "source", "created_at", "id", **LIVE_ONLY),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=LinkStatus.ACTIVE)
    source: Mapped[str] = mapped_column(String(16), default=LinkSource.DASHBOARD)
    currency: Mapped[str] = mapped_column(String(3))
    require_phone: Mapped[bool] = mapped_column(Boolean, default=False)
    collect_address: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_coupons: Mapped[bool] = mapped_column(Boolean, default=False)
    redirect_url: Mapped[str | None] = mapped_column(String(2000))
    redirect_new_tab: Mapped[bool] = mapped_column(Boolean, default=False)
    brand_color: Mapped[str | None] = mapped_column(String(7))
    logo_url: Mapped[str | None] = mapped_column(String(2000))
    logo_asset_id: Mapped[int | None] = mapped_column(
        ForeignKey("paylinks_assets.id", ondelete="SET NULL")
    )
    button_style: Mapped[str | None] = mapped_column(String(16))
    #: Text-to-Pay: the merchant's note to the contact, shown on the checkout.
    note: Mapped[str | None] = mapped_column(Text)
    #: Visits without a personal URL: counted, nothing about the visitor kept.
    anonymous_opens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Text-to-Pay: the contact asked to pay, a single use, an end date.
    contact_id: Mapped[str | None] = mapped_column(String(64))
    single_use: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Payments that hold or used this link; a single-use link takes one.
    claims: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Bumped in the transaction of every change to the link, its items, a
    #: product it sells or its logo (:mod:`flask_paylinks.db.revisions`): a
    #: page rendered at one revision is current while the revision is.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    items: Mapped[list[LinkItem]] = relationship(
        back_populates="link",
        order_by="LinkItem.position",
        cascade="all, delete-orphan",
    )
    logo_asset: Mapped[Asset | None] = relationship()

    @property
    def is_active(self) -> bool:
        """Whether the link takes payments now."""
        return link_takes_payments(self.status, self.expires_at, self.deleted_at)


def link_takes_payments(
    status: str, expires_at: datetime | None, deleted_at: datetime | None
) -> bool:
    """Whether a link with these values takes payments now."""
    if deleted_at is not None or status != LinkStatus.ACTIVE:
        return False
    return expires_at is None or expires_at > utcnow()


#: Indexes migration 0002 makes on PostgreSQL only and the models leave out:
#: the trigram index of the links' name search (it needs the pg_trgm
#: extension) and the case-insensitive name sort, ``lower(name)`` (SQLite
#: cannot reflect an expression index back). Alembic's comparisons skip them
#: (:func:`flask_paylinks.db.migrate.include_name`); a test checks they exist.
POSTGRESQL_ONLY_INDEXES = frozenset(
    {"ix_paylinks_links_name_trgm", "ix_paylinks_links_owner_id_lower_name_id"}
)


class LinkItem(Base):
    """One product on a link: a fixed quantity, or one the customer chooses."""

    __tablename__ = "paylinks_link_items"
    __table_args__ = (
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        CheckConstraint(
            "NOT adjustable OR (min_quantity >= 1 AND max_quantity >= min_quantity)",
            name="quantity_bounds",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64))
    link_id: Mapped[int] = mapped_column(
        ForeignKey("paylinks_links.id", ondelete="CASCADE"), index=True
    )
    product_id: Mapped[int] = mapped_column(
        ForeignKey("paylinks_products.id"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    adjustable: Mapped[bool] = mapped_column(Boolean, default=False)
    min_quantity: Mapped[int | None] = mapped_column(Integer)
    max_quantity: Mapped[int | None] = mapped_column(Integer)

    link: Mapped[PaymentLink] = relationship(back_populates="items")
    product: Mapped[Product] = relationship(lazy="joined")


class CouponProduct(Base):
    """A product a coupon is limited to."""

    __tablename__ = "paylinks_coupon_products"

    owner_id: Mapped[str] = mapped_column(String(64))
    coupon_id: Mapped[int] = mapped_column(
        ForeignKey("paylinks_coupons.id", ondelete="CASCADE"), primary_key=True
    )
    product_id: Mapped[int] = mapped_column(
        ForeignKey("paylinks_products.id", ondelete="CASCADE"), primary_key=True
    )


class Coupon(Timestamps, Base):
    """A discount code: a percentage or a fixed amount off."""

    __tablename__ = "paylinks_coupons"
    __table_args__ = (
        UniqueConstraint("owner_id", "code_key"),
        CheckConstraint(
            "(percent_off_bp IS NOT NULL AND amount_off IS NULL"
            " AND percent_off_bp BETWEEN 1 AND 10000)"
            " OR (percent_off_bp IS NULL AND amount_off IS NOT NULL"
            " AND amount_off >= 1 AND currency IS NOT NULL)",
            name="one_kind_of_discount",
        ),
        CheckConstraint(f"duration IN ({_values(CouponDuration)})", name="duration"),
        CheckConstraint("times_redeemed >= 0", name="times_redeemed_not_negative"),
        CheckConstraint("times_claimed >= 0", name="times_claimed_not_negative"),
        CheckConstraint(
            "max_redemptions IS NULL OR times_redeemed <= max_redemptions",
            name="redemptions_within_max",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64))
    #: As the merchant typed it.
    code: Mapped[str] = mapped_column(String(64))
    #: Upper-cased, for case-insensitive lookup and uniqueness.
    code_key: Mapped[str] = mapped_column(String(64))
    #: Percent off in basis points (12.5 % is 1250), or None for an amount off.
    percent_off_bp: Mapped[int | None] = mapped_column(Integer)
    amount_off: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    max_redemptions: Mapped[int | None] = mapped_column(Integer)
    times_redeemed: Mapped[int] = mapped_column(Integer, default=0)
    #: Redemptions taken by succeeded payments plus those held by pending ones;
    #: claimed with a conditional UPDATE (:mod:`flask_paylinks.db.limits`).
    times_claimed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    applies_to_all: Mapped[bool] = mapped_column(Boolean, default=True)
    duration: Mapped[str] = mapped_column(String(16), default=CouponDuration.ONCE)
    duration_in_months: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    product_links: Mapped[list[CouponProduct]] = relationship(
        cascade="all, delete-orphan"
    )

    @property
    def product_ids(self) -> set[int]:
        """The products the coupon is limited to (empty: all)."""
        return {row.product_id for row in self.product_links}


class Payment(Timestamps, Base):
    """One attempt to pay a link, with a snapshot of what was bought.

    The snapshot is taken when the customer starts paying; editing the link
    later never changes it.
    """

    __tablename__ = "paylinks_payments"
    __table_args__ = (
        CheckConstraint(f"state IN ({_values(PaymentState)})", name="state"),
        CheckConstraint("amount_total >= 0", name="amount_total_not_negative"),
        Index(None, "owner_id", "link_id", "created_at"),
        Index(None, "owner_id", "state", "created_at"),
        Index(None, "gateway", "gateway_payment_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64))
    #: Shown to the customer on the receipt, e.g. ``PL-7KQ2M9XD``.
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    link_id: Mapped[int | None] = mapped_column(
        ForeignKey("paylinks_links.id", ondelete="SET NULL")
    )
    state: Mapped[str] = mapped_column(String(16), default=PaymentState.PENDING)
    currency: Mapped[str] = mapped_column(String(3))
    amount_subtotal: Mapped[int] = mapped_column(BigInteger)
    amount_discount: Mapped[int] = mapped_column(BigInteger, default=0)
    #: What is charged now.
    amount_total: Mapped[int] = mapped_column(BigInteger)
    #: What has been given back so far (refunds claimed, pending or done).
    amount_refunded: Mapped[int] = mapped_column(
        BigInteger, default=0, server_default="0"
    )
    #: What is charged every period after, for a recurring purchase.
    amount_recurring: Mapped[int | None] = mapped_column(BigInteger)
    recurring_interval: Mapped[str | None] = mapped_column(String(8))
    recurring_interval_count: Mapped[int | None] = mapped_column(Integer)
    snapshot: Mapped[dict[str, Any]] = mapped_column(Document)
    coupon_id: Mapped[int | None] = mapped_column(
        ForeignKey("paylinks_coupons.id", ondelete="SET NULL")
    )
    coupon_code: Mapped[str | None] = mapped_column(String(64))
    customer_name: Mapped[str] = mapped_column(String(200), default="")
    customer_email: Mapped[str] = mapped_column(String(320), default="")
    customer_phone: Mapped[str | None] = mapped_column(String(20))
    customer_address: Mapped[dict[str, Any] | None] = mapped_column(Document)
    contact_id: Mapped[str | None] = mapped_column(String(64), index=True)
    recipient_id: Mapped[int | None] = mapped_column(
        ForeignKey("paylinks_recipients.id", ondelete="SET NULL"), index=True
    )
    gateway: Mapped[str] = mapped_column(String(16))
    gateway_payment_id: Mapped[str | None] = mapped_column(String(255))
    gateway_customer_id: Mapped[str | None] = mapped_column(String(255))
    gateway_subscription_id: Mapped[str | None] = mapped_column(String(255))
    #: Derived from the checkout attempt; a repeated submit finds this row.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(String(500))
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Digest of every term the customer saw and agreed to (pricing.terms_digest).
    terms_digest: Mapped[str | None] = mapped_column(String(64))
    #: Whether this payment holds the claim on a single-use link.
    holds_link: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    #: What the customer typed that differs from the CRM's contact, waiting for
    #: the merchant: ``{"phone": "+1...", "address": {...}}``.
    contact_changes: Mapped[dict[str, Any] | None] = mapped_column(Document)
    #: When ``payment_succeeded`` reached every receiver without an error.
    followed_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    followup_attempts: Mapped[int] = mapped_column(
        Integer, default=0, server_default="0"
    )
    #: When the receipt email was handed to the email sender.
    receipt_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The subscription's status as the gateway last reported it (``active``,
    #: ``past_due``, ``canceled``…), and when the gateway reported it: an
    #: older report never overwrites a newer one.
    subscription_status: Mapped[str | None] = mapped_column(String(32))
    subscription_status_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: A dispute (chargeback) of the payment, as the gateway reported it.
    dispute_id: Mapped[str | None] = mapped_column(String(255))
    dispute_amount: Mapped[int | None] = mapped_column(BigInteger)
    dispute_reason: Mapped[str | None] = mapped_column(String(64))
    dispute_status: Mapped[str | None] = mapped_column(String(32))
    disputed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    link: Mapped[PaymentLink | None] = relationship()

    @property
    def total(self) -> Money:
        """What the customer is charged now."""
        return Money(self.amount_total, self.currency)

    @property
    def refunded(self) -> Money:
        """What has been refunded (or is being refunded) of :attr:`total`."""
        return Money(self.amount_refunded or 0, self.currency)

    @property
    def refundable(self) -> Money:
        """What is left to refund."""
        return Money(self.amount_total - (self.amount_refunded or 0), self.currency)

    @property
    def can_be_refunded(self) -> bool:
        """Whether the payment is paid and has something left to refund."""
        return self.state == PaymentState.SUCCEEDED and self.refundable.amount > 0


class Send(Timestamps, Base):
    """One bulk send of a link to many contacts."""

    __tablename__ = "paylinks_sends"
    __table_args__ = (
        CheckConstraint(f"state IN ({_values(SendState)})", name="state"),
        Index(None, "owner_id", "created_at"),
        UniqueConstraint("owner_id", "idempotency_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64))
    link_id: Mapped[int] = mapped_column(ForeignKey("paylinks_links.id"), index=True)
    #: Comma-separated channels, e.g. ``sms,email``.
    channels: Mapped[str] = mapped_column(String(16))
    sms_body: Mapped[str] = mapped_column(Text, default="")
    email_subject: Mapped[str] = mapped_column(String(200), default="")
    email_body: Mapped[str] = mapped_column(Text, default="")
    segment_id: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default=SendState.QUEUED)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Why a paused send waits (out of credit, the queue unreachable…).
    paused_reason: Mapped[str | None] = mapped_column(String(300))
    #: Whether the paused send resumes by itself once the cause passes (the
    #: queue is back) or waits for the merchant (out of credit).
    pause_clears_itself: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    #: Contacts picked more than once or sharing an address: counted, not sent.
    duplicates: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Whether the messages went out in the request (no Redis configured).
    inline: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    #: Scheme and host the personal URLs of this send point at.
    base_url: Mapped[str] = mapped_column(String(200), default="", server_default="")
    #: The composer's attempt: the same form submitted twice makes one send.
    idempotency_key: Mapped[str | None] = mapped_column(String(64))


class Recipient(Base):
    """One contact on one channel of a send, with a personal checkout token."""

    __tablename__ = "paylinks_recipients"
    __table_args__ = (
        UniqueConstraint("send_id", "contact_id", "channel"),
        CheckConstraint(f"state IN ({_values(RecipientState)})", name="state"),
        CheckConstraint(f"channel IN ({_values(Channel)})", name="channel"),
        Index(None, "owner_id", "link_id"),
        Index(None, "send_id", "state"),
        Index(None, "state", "run_after"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64))
    send_id: Mapped[int] = mapped_column(
        ForeignKey("paylinks_sends.id", ondelete="CASCADE")
    )
    link_id: Mapped[int] = mapped_column(ForeignKey("paylinks_links.id"))
    contact_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(8))
    #: The phone number (E.164) or email address the message goes to.
    address: Mapped[str | None] = mapped_column(String(320))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16), default=RecipientState.QUEUED)
    reason: Mapped[str | None] = mapped_column(String(200))
    provider_message_id: Mapped[str | None] = mapped_column(String(100), index=True)
    #: The contact's name when the send was made, for the dashboard's lists.
    name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: First and last time the personal URL was opened, and how often.
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    open_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: When the recipient first started paying through the personal URL.
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Hash of the device cookie of the first open: another device is anonymous.
    device_key: Mapped[str | None] = mapped_column(String(64))
    # The message's own outbox columns: each recipient row is the durable
    # record of one message, claimed before the provider is called.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    run_after: Mapped[datetime | None] = mapped_column(UTCDateTime())
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claim: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(String(500))


class SmsOptOut(Base):
    """A phone that texted STOP to an owner: never texted by that owner again.

    Kept by the extension itself, so the promise holds even when the host's
    directory has no opt-out column, or its upsert matched another contact.
    START deletes the row.
    """

    __tablename__ = "paylinks_sms_opt_outs"
    __table_args__ = (UniqueConstraint("owner_id", "phone"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64))
    #: E.164, as the messages went to it.
    phone: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class GatewayEvent(Base):
    """A webhook event from a gateway; unique so it is applied once."""

    __tablename__ = "paylinks_gateway_events"
    __table_args__ = (UniqueConstraint("gateway", "event_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: Unknown until the event is matched to a payment.
    owner_id: Mapped[str | None] = mapped_column(String(64), index=True)
    gateway: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(100))
    payment_id: Mapped[int | None] = mapped_column(
        ForeignKey("paylinks_payments.id", ondelete="SET NULL"), index=True
    )
    payload: Mapped[dict[str, Any]] = mapped_column(Document)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OutboxState(enum.StrEnum):
    """Where a follow-up of the outbox is."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    PARKED = "parked"


class OutboxItem(Base):
    """One follow-up owed after a change: written in the change's transaction.

    ``kind`` names the handler (``payment.followup``, ``payment.receipt``) and
    ``subject_id`` the row it works on; the pair is unique, so a change that
    is applied twice owes its follow-ups once. A runner claims the item
    (``running`` with a lease), and marks it ``done`` in the same transaction
    as its effect; a sweeper hands out again what is due and not done, so a
    lost queue or a killed worker loses nothing.
    """

    __tablename__ = "paylinks_outbox"
    __table_args__ = (
        UniqueConstraint("kind", "subject_id"),
        CheckConstraint(f"state IN ({_values(OutboxState)})", name="state"),
        Index(None, "state", "run_after"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), default=OutboxState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: Not run before this time (back-off after a failure).
    run_after: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: When it was last handed to the queue (or run inline).
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: A running item whose lease has passed is taken to be lost (worker died).
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Names the claim of one run, so a late runner cannot mark another's run.
    claim: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ContactClaim(Base):
    """Which contact an email is, per owner: one contact per email, on any database.

    Upserting the contact of a payment first inserts this row; the unique
    (owner, email) makes a concurrent upsert of the same new email wait for,
    or fail against, the first, and then find the contact it made, without
    asking the host for a constraint on its own table.
    """

    __tablename__ = "paylinks_contact_claims"
    __table_args__ = (UniqueConstraint("owner_id", "email_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64))
    #: The email, stripped and lower-cased.
    email_key: Mapped[str] = mapped_column(String(320))
    contact_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class GatewayPrice(Base):
    """The gateway's Product and Price of one catalogue product at one price.

    Made once per account and remembered; a new amount, currency or interval
    makes a new Price (a Price is never edited). ``interval`` is ``""`` and
    ``interval_count`` 0 for a one-time price.
    """

    __tablename__ = "paylinks_gateway_prices"
    __table_args__ = (
        UniqueConstraint(
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

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    gateway: Mapped[str] = mapped_column(String(16))
    account: Mapped[str] = mapped_column(String(255))
    product_id: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    interval: Mapped[str] = mapped_column(String(8))
    interval_count: Mapped[int] = mapped_column(Integer)
    gateway_product_id: Mapped[str] = mapped_column(String(255))
    gateway_price_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class GatewayCustomer(Base):
    """The gateway's customer of one contact email, per owner and per account.

    A payment by an email seen before reuses the customer the gateway made for
    it, so the merchant sees one customer per person. ``account`` names the
    gateway account the customer lives in (a Stripe customer exists in one
    account and one mode only).
    """

    __tablename__ = "paylinks_gateway_customers"
    __table_args__ = (
        # Named: the convention's name would pass PostgreSQL's 63 characters.
        UniqueConstraint(
            "gateway",
            "account",
            "owner_id",
            "email_key",
            name="uq_paylinks_gateway_customers_email",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64))
    gateway: Mapped[str] = mapped_column(String(16))
    account: Mapped[str] = mapped_column(String(255))
    #: The email, stripped and lower-cased.
    email_key: Mapped[str] = mapped_column(String(320))
    customer_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Refund(Base):
    """One refund of (part of) a payment, asked of its gateway once.

    ``idempotency_key`` names the merchant's one intent to refund (one per
    rendered form): the same key finds this row again, and is the key the
    gateway is called with.
    """

    __tablename__ = "paylinks_refunds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(f"reason IN ({_values(RefundReason)})", name="reason"),
        CheckConstraint(f"state IN ({_values(RefundState)})", name="state"),
        Index(None, "owner_id", "payment_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64))
    payment_id: Mapped[int] = mapped_column(
        ForeignKey("paylinks_payments.id", ondelete="CASCADE")
    )
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(String(500), default="", server_default="")
    state: Mapped[str] = mapped_column(String(16), default=RefundState.PENDING)
    gateway_refund_id: Mapped[str | None] = mapped_column(String(255))
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    failure_message: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def money(self) -> Money:
        """The refund's amount."""
        return Money(self.amount, self.currency)


class StripeAccount(Timestamps, Base):
    """The Stripe account an owner is paid into, in Connect mode, and its state.

    One per owner and mode (a test account and a live one are different
    accounts). ``last_event_created`` is the ``created`` time (Unix seconds)
    of what last wrote the state (an ``account.updated`` event, or a
    retrieve): an older event never overwrites a newer state.
    """

    __tablename__ = "paylinks_stripe_accounts"
    __table_args__ = (UniqueConstraint("owner_id", "livemode"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[str] = mapped_column(String(255), unique=True)
    livemode: Mapped[bool] = mapped_column(Boolean, default=False)
    charges_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    details_submitted: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Stripe's ``requirements.currently_due``: the fields still to provide.
    requirements_due: Mapped[list[str]] = mapped_column(JSON, default=list)
    disabled_reason: Mapped[str | None] = mapped_column(String(100))
    last_event_created: Mapped[int] = mapped_column(BigInteger, default=0)
