"""Mounting the extension: the public contract and start-up checks."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy

from flask_paylinks import (
    ConfigError,
    InMemoryContactDirectory,
    PayLinks,
    SQLAlchemyContactDirectory,
)

from .hosts import crm_a


def _app(**config: Any) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="x", TESTING=True, SQLALCHEMY_DATABASE_URI="sqlite://")
    app.config.update(config)
    return app


def test_init_app_stores_state_and_not_the_app() -> None:
    app = _app()
    db = SQLAlchemy()
    db.init_app(app)
    ext = PayLinks()
    ext.init_app(
        app, db=db, contacts=InMemoryContactDirectory(), owner_loader=lambda: "1"
    )
    state = app.extensions["paylinks"]
    assert state.db is db
    assert not hasattr(ext, "app")
    assert app.config["PAYLINKS_GATEWAY"] == "sandbox"
    assert app.config["PAYLINKS_CHECKOUT_PREFIX"] == "/pay"
    assert "paylinks" in app.cli.commands


def test_constructor_options_are_defaults_for_every_app() -> None:
    db = SQLAlchemy()
    ext = PayLinks(db=db, contacts=InMemoryContactDirectory(), owner_loader=lambda: "1")
    first, second = _app(), _app()
    for app in (first, second):
        db.init_app(app)
        ext.init_app(app)
    assert first.extensions["paylinks"] is not second.extensions["paylinks"]


def test_second_init_app_raises() -> None:
    app = _app()
    db = SQLAlchemy()
    db.init_app(app)
    ext = PayLinks(db=db, contacts=InMemoryContactDirectory(), owner_loader=lambda: "1")
    ext.init_app(app)
    with pytest.raises(RuntimeError, match="already initialised"):
        ext.init_app(app)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"PAYLINKS_GATEWAY": "strype"}, "PAYLINKS_GATEWAY='strype'"),
        ({"PAYLINKS_SMS_BACKEND": "twilio"}, "PAYLINKS_SMS_BACKEND='twilio'"),
        ({"PAYLINKS_EMAIL_BACKEND": "ses"}, "PAYLINKS_EMAIL_BACKEND='ses'"),
        ({"PAYLINKS_GATEWAY": "stripe"}, "PAYLINKS_STRIPE_SECRET_KEY"),
        (
            {"PAYLINKS_SMS_BACKEND": "vonage", "PAYLINKS_VONAGE_API_KEY": "k"},
            "PAYLINKS_VONAGE_API_SECRET",
        ),
        ({"PAYLINKS_BRAND_COLOR": "blue"}, "PAYLINKS_BRAND_COLOR"),
        ({"PAYLINKS_LOCALE": "xx_QQ"}, "PAYLINKS_LOCALE"),
        ({"PAYLINKS_DEFAULT_CURRENCY": "DOLLAR"}, "PAYLINKS_DEFAULT_CURRENCY"),
        ({"PAYLINKS_DASHBOARD_PREFIX": "paylinks"}, "PAYLINKS_DASHBOARD_PREFIX"),
        ({"PAYLINKS_PAGE_SIZE": 0}, "PAYLINKS_PAGE_SIZE"),
        ({"PAYLINKS_PUBLIC_URL": "crm.example.com"}, "PAYLINKS_PUBLIC_URL"),
        ({"PAYLINKS_BUTTON_STYLE": "round"}, "PAYLINKS_BUTTON_STYLE"),
        (
            {"PAYLINKS_RECONCILE_AFTER_MINUTES": 0},
            "PAYLINKS_RECONCILE_AFTER_MINUTES=0 must be a whole number",
        ),
        ({"PAYLINKS_RECONCILE_SECONDS": "5"}, "PAYLINKS_RECONCILE_SECONDS='5'"),
    ],
)
def test_bad_config_fails_at_start_naming_the_key(
    config: dict[str, Any], message: str
) -> None:
    app = _app(**config)
    db = SQLAlchemy()
    db.init_app(app)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        PayLinks(
            app, db=db, contacts=InMemoryContactDirectory(), owner_loader=lambda: "1"
        )


def test_sandbox_is_refused_in_production_unless_allowed() -> None:
    def mount(**config: Any) -> None:
        app = _app(**config)
        app.testing = False
        app.debug = False
        db = SQLAlchemy()
        db.init_app(app)
        PayLinks(
            app, db=db, contacts=InMemoryContactDirectory(), owner_loader=lambda: "1"
        )

    with pytest.raises(ConfigError, match="PAYLINKS_ALLOW_SANDBOX") as refused:
        mount(TESTING=False)
    # Stripe cannot complete a checkout yet: the message must not send people there.
    assert "PAYLINKS_GATEWAY='stripe' for production" not in str(refused.value)
    assert "no gateway that takes real payments yet" in str(refused.value)
    mount(TESTING=False, PAYLINKS_ALLOW_SANDBOX=True)


def test_missing_contacts_or_db_fails_at_start() -> None:
    app = _app()
    db = SQLAlchemy()
    db.init_app(app)
    with pytest.raises(ConfigError, match="needs contacts="):
        PayLinks(app, db=db, owner_loader=lambda: "1")
    with pytest.raises(ConfigError, match="needs db="):
        PayLinks(_app(), contacts=InMemoryContactDirectory(), owner_loader=lambda: "1")


def test_contacts_must_implement_the_protocol() -> None:
    class HalfDirectory:
        def get(self, owner: str, contact_id: str) -> None:
            return None

    app = _app()
    db = SQLAlchemy()
    db.init_app(app)
    with pytest.raises(ConfigError, match="lacks search, segments"):
        PayLinks(app, db=db, contacts=HalfDirectory(), owner_loader=lambda: "1")


def test_a_gateway_must_implement_the_protocol() -> None:
    from flask_paylinks.gateways.sandbox import SandboxGateway

    class OldGateway:
        """A host's gateway written before the browser step existed."""

        name = "old"
        test_mode = True

        def start_payment(self, request: object) -> None:
            return None

    app = _app()
    db = SQLAlchemy()
    db.init_app(app)
    with pytest.raises(ConfigError, match="lacks browser_step, charges_problem"):
        PayLinks(
            app,
            db=db,
            contacts=InMemoryContactDirectory(),
            owner_loader=lambda: "1",
            gateway=OldGateway(),
        )
    sandbox = SandboxGateway()
    second = _app()
    db.init_app(second)
    PayLinks(
        second,
        db=db,
        contacts=InMemoryContactDirectory(),
        owner_loader=lambda: "1",
        gateway=sandbox,
    )
    assert second.extensions["paylinks"].gateway is sandbox


def test_default_owner_loader_needs_flask_login() -> None:
    app = _app()
    db = SQLAlchemy()
    db.init_app(app)
    with pytest.raises(ConfigError, match="owner_loader="):
        PayLinks(app, db=db, contacts=InMemoryContactDirectory())
    app = _app()
    db.init_app(app)
    LoginManager(app)
    PayLinks(app, db=db, contacts=InMemoryContactDirectory())


def test_contact_mapping_naming_a_missing_column_fails_at_start() -> None:
    with pytest.raises(ConfigError, match=r"fields\['phone'\] names 'mobile_phone'"):
        SQLAlchemyContactDirectory(
            crm_a.Customer,
            owner="account_id",
            fields={"name": "full_name", "phone": "mobile_phone"},
        )
    with pytest.raises(ConfigError, match="owner names 'tenant'"):
        SQLAlchemyContactDirectory(
            crm_a.Customer,
            owner="tenant",
            fields={"name": "full_name", "email": "email"},
        )
    with pytest.raises(ConfigError, match="unknown keys"):
        SQLAlchemyContactDirectory(
            crm_a.Customer,
            owner="account_id",
            fields={"name": "full_name", "email": "email", "mobile": "mobile"},
        )
    with pytest.raises(ConfigError, match=r"address_fields\['city'\] names 'town'"):
        SQLAlchemyContactDirectory(
            crm_a.Customer,
            owner="account_id",
            fields={"name": "full_name", "email": "email"},
            address_fields={"city": "town"},
        )


def test_unknown_option_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="contact_dir"):
        PayLinks(_app(), contact_dir=object())


def test_unknown_form_override_is_refused() -> None:
    app = _app()
    db = SQLAlchemy()
    db.init_app(app)
    with pytest.raises(ConfigError, match="unknown form 'prodcut'"):
        PayLinks(
            app,
            db=db,
            contacts=InMemoryContactDirectory(),
            owner_loader=lambda: "1",
            forms={"prodcut": object},
        )
