"""The CRM's own tables: accounts, users, customers, tags and messages.

These live on the CRM's metadata and are created by ``flask init-db``; the
extension's ``paylinks_*`` tables come from its own migrations.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import Base, db


def utcnow() -> datetime:
    """Now, in UTC, without tzinfo (the CRM stores naive UTC everywhere)."""
    return datetime.now(UTC).replace(tzinfo=None)


class Direction(enum.StrEnum):
    """Which way a message went."""

    IN = "in"
    OUT = "out"


class MessageChannel(enum.StrEnum):
    """How a conversation entry travelled; a ``note`` is a timeline event."""

    SMS = "sms"
    EMAIL = "email"
    NOTE = "note"


class Account(db.Model):  # type: ignore[name-defined,misc]
    """A merchant business using the CRM; every other row belongs to one."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    #: Where the account's customers write; shown on its checkout pages.
    support_email: Mapped[str | None] = mapped_column(String(320))
    support_phone: Mapped[str | None] = mapped_column(String(32))
    #: IANA name; the dashboard shows the account's dates in it.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    users: Mapped[list[User]] = relationship(back_populates="account")


class User(UserMixin, db.Model):  # type: ignore[name-defined,misc]
    """A person who logs in to the CRM for one account."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(256))

    account: Mapped[Account] = relationship(back_populates="users")

    def set_password(self, password: str) -> None:
        """Store a salted hash of *password*, never the password."""
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        """Whether *password* matches the stored hash."""
        return check_password_hash(self.password_hash, password)


customer_tags = Table(
    "customer_tags",
    Base.metadata,
    Column(
        "customer_id",
        ForeignKey("customers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_customer_tags_tag_id", "tag_id"),
)


class Customer(db.Model):  # type: ignore[name-defined,misc]
    """A contact of one account: the person a merchant texts, emails and bills."""

    __tablename__ = "customers"
    __table_args__ = (Index(None, "account_id", "full_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(320))
    #: E.164, e.g. ``+12125550123``.
    mobile: Mapped[str | None] = mapped_column(String(20))
    street: Mapped[str | None] = mapped_column(String(200))
    street2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    #: ISO 3166 alpha-2, e.g. ``US``.
    country: Mapped[str | None] = mapped_column(String(2))
    do_not_text: Mapped[bool] = mapped_column(Boolean, default=False)
    do_not_email: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    tags: Mapped[list[Tag]] = relationship(
        secondary=customer_tags, back_populates="customers", order_by="Tag.name"
    )

    @property
    def address_lines(self) -> list[str]:
        """The street, the locality (city, state, ZIP): the address without country."""
        region = " ".join(part for part in (self.state, self.postal_code) if part)
        locality = ", ".join(part for part in (self.city, region) if part)
        lines = [self.street, self.street2, locality]
        return [line for line in lines if line]

    @property
    def initials(self) -> str:
        """One or two letters for the avatar."""
        parts = self.full_name.split()
        if not parts:
            return "?"
        return (parts[0][0] + (parts[-1][0] if len(parts) > 1 else "")).upper()


class Tag(db.Model):  # type: ignore[name-defined,misc]
    """A label on customers (VIP, Newsletter...): the CRM's segments."""

    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))

    customers: Mapped[list[Customer]] = relationship(
        secondary=customer_tags, back_populates="tags"
    )


class Message(db.Model):  # type: ignore[name-defined,misc]
    """One entry of a customer's conversation: an SMS, an email, or a note."""

    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint("direction IN ('in', 'out')", name="direction"),
        CheckConstraint("channel IN ('sms', 'email', 'note')", name="channel"),
        Index(None, "customer_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE")
    )
    direction: Mapped[str] = mapped_column(String(3), default=Direction.OUT)
    channel: Mapped[str] = mapped_column(String(5), default=MessageChannel.SMS)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    customer: Mapped[Customer] = relationship()
