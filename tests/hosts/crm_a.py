"""Test host A: Flask-Login users, contacts in ``crm_customers``.

Its contact model names its fields ``full_name``/``email``/``mobile`` and
its owner column ``account_id`` (an integer), with tags as segments.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask_login import LoginManager, UserMixin, login_user
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from flask_paylinks import (
    MerchantProfile,
    ModelSegments,
    PayLinks,
    SQLAlchemyContactDirectory,
)


class HostBase(DeclarativeBase):
    """Host A's own declarative base."""


db = SQLAlchemy(model_class=HostBase)

customer_tags = Table(
    "crm_customer_tags",
    HostBase.metadata,
    Column("customer_id", ForeignKey("crm_customers.id"), primary_key=True),
    Column("tag_id", ForeignKey("crm_tags.id"), primary_key=True),
)


class User(UserMixin, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "crm_users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer)
    email: Mapped[str] = mapped_column(String(200))


class Customer(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "crm_customers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer, index=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(200))
    mobile: Mapped[str | None] = mapped_column(String(32))
    street: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    zip: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str | None] = mapped_column(String(2))
    do_not_text: Mapped[bool] = mapped_column(Boolean, default=False)
    tags: Mapped[list[Tag]] = relationship(
        secondary=customer_tags, back_populates="customers"
    )


class Tag(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "crm_tags"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    customers: Mapped[list[Customer]] = relationship(
        secondary=customer_tags, back_populates="tags"
    )


login_manager = LoginManager()
login_manager.login_view = "login"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


def contact_directory() -> SQLAlchemyContactDirectory:
    """Host A's mapping of its columns onto the extension's contact fields."""
    return SQLAlchemyContactDirectory(
        Customer,
        owner="account_id",
        fields={
            "name": "full_name",
            "email": "email",
            "phone": "mobile",
            "sms_ok": "!do_not_text",
        },
        address_fields={
            "line1": "street",
            "city": "city",
            "postal_code": "zip",
            "country": "country",
        },
        segments=ModelSegments(Tag, owner="account_id", members="customers"),
    )


#: Each account's profile, by owner id; a test may change or remove one.
MERCHANTS: dict[str, MerchantProfile] = {
    "1": MerchantProfile(
        name="Acme Fitness",
        support_email="help@acme.test",
        support_phone="+1 555 0100",
    ),
    "2": MerchantProfile(name="Globex Design", support_email="hello@globex.test"),
}


def merchant_profile(owner: str) -> MerchantProfile | None:
    """Host A's accounts as the checkout names them."""
    return MERCHANTS.get(owner)


def create_app(
    database_url: str, *, paylinks: dict[str, Any] | None = None, **config: Any
) -> Flask:
    """Host A with PayLinks mounted through the public contract.

    *paylinks* holds more options of ``PayLinks(...)`` (e.g. ``stripe_account_for``).
    """
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="test",
        TESTING=True,
        SQLALCHEMY_DATABASE_URI=database_url,
        WTF_CSRF_ENABLED=False,
        PAYLINKS_RATELIMIT_ENABLED=False,
        # Tests must not depend on the hour they run at; the quiet-hours
        # tests turn them on.
        PAYLINKS_QUIET_HOURS=None,
    )
    app.config.update(config)  # a test may turn CSRF, rate limits… back on
    db.init_app(app)
    login_manager.init_app(app)
    PayLinks(
        app,
        db=db,
        contacts=contact_directory(),
        owner_loader=lambda: _current_account(),
        merchant_profile=merchant_profile,
        **(paylinks or {}),
    )

    @app.get("/login/<int:user_id>")
    def login_as(user_id: int) -> str:
        user = db.session.get(User, user_id)
        assert user is not None
        login_user(user)
        return "ok"

    @app.get("/login")
    def login() -> str:
        return f"login page (next={request.args.get('next', '')})"

    return app


def _current_account() -> int | None:
    from flask_login import current_user

    if not current_user.is_authenticated:
        return None
    return int(current_user.account_id)
