"""An example CRM that mounts flask_paylinks: the project's demo.

Run it with::

    flask --app example_app init-db
    flask --app example_app seed
    flask --app example_app run --debug

It reads ``DATABASE_URL`` (default: SQLite ``example.db`` in the instance
folder), ``REDIS_URL`` (default: none, jobs run inline) and ``SECRET_KEY``
from the environment. Without ``SECRET_KEY`` it uses the key kept in
``instance/secret_key`` (``python -m example_app.secret_key`` makes one; see
:mod:`example_app.secret_key`) and refuses to start outside debug and testing
when there is none.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError

from .extensions import csrf, db, login_manager


def normalise_database_url(url: str) -> str:
    """Point ``postgres://`` and ``postgresql://`` URLs at the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def settings_from_environment(instance_path: str) -> dict[str, Any]:
    """The app's settings, from the environment where it has them."""
    database_url = os.environ.get("DATABASE_URL")
    return {
        "SECRET_KEY": os.environ.get("SECRET_KEY") or None,
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url)
        if database_url
        else "sqlite:///" + str(Path(instance_path) / "example.db"),
        "PAYLINKS_REDIS_URL": os.environ.get("REDIS_URL") or None,
        # A demo: the sandbox gateway takes no real money, even outside debug.
        "PAYLINKS_ALLOW_SANDBOX": True,
        "PAYLINKS_BASE_TEMPLATE": "layout.html",
        # The CRM's layout has no inline script or style, so the dashboard
        # can run under its strict nonce CSP.
        "PAYLINKS_DASHBOARD_CSP": True,
        # Failed logins allowed per client address and per email address.
        "LOGIN_RATELIMIT": "10 per minute",
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
    }


def create_app(
    config: dict[str, Any] | None = None, *, instance_path: str | None = None
) -> Flask:
    """The CRM, with flask_paylinks mounted. *config* overrides every setting.

    *instance_path* replaces the instance folder (``instance/`` beside the
    package), where the SQLite database and the kept secret key live.
    """
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path)
    app.config.from_mapping(settings_from_environment(app.instance_path))
    if config:
        app.config.update(config)
    # A pooled connection is checked before use, so a database restart costs
    # a reconnect instead of an error page (unless the host set its own).
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})
    from .secret_key import configure_secret_key

    configure_secret_key(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith(
        "sqlite:///" + app.instance_path
    ):
        os.makedirs(app.instance_path, exist_ok=True)

    db.init_app(app)
    login_manager.init_app(app)
    csrf.init_app(app)

    from . import auth, contacts, conversations, login_limits
    from .formatting import register_filters
    from .payments import mount_paylinks
    from .seed import init_db_command, seed_command

    mount_paylinks(app)
    app.register_blueprint(auth.blueprint)
    login_limits.init_app(app)
    app.register_blueprint(contacts.blueprint)
    app.register_blueprint(conversations.blueprint)
    app.cli.add_command(init_db_command)
    app.cli.add_command(seed_command)
    register_filters(app)
    _register_error_pages(app)
    return app


def _register_error_pages(app: Flask) -> None:
    @app.errorhandler(404)
    def not_found(error: Exception) -> tuple[str, int]:
        return render_template("errors/404.html"), 404

    @app.errorhandler(CSRFError)
    def csrf_failed(error: CSRFError) -> tuple[str, int]:
        return render_template("errors/csrf.html"), 400
