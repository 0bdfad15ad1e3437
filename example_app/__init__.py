"""An example CRM that mounts flask_paylinks: the project's demo.

Run it with::

    flask --app example_app init-db
    flask --app example_app seed
    flask --app example_app run --debug

It reads ``DATABASE_URL`` (default: SQLite ``example.db`` in the instance
folder), ``REDIS_URL`` (default: none, jobs run inline) and ``SECRET_KEY``
from the environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError

from .extensions import csrf, db, login_manager

#: Used when ``SECRET_KEY`` is not in the environment. Never deploy with it.
INSECURE_DEV_SECRET_KEY = "example-app-insecure-dev-key-do-not-deploy"


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
        "SECRET_KEY": os.environ.get("SECRET_KEY") or INSECURE_DEV_SECRET_KEY,
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url)
        if database_url
        else "sqlite:///" + str(Path(instance_path) / "example.db"),
        "PAYLINKS_REDIS_URL": os.environ.get("REDIS_URL") or None,
        # A demo: the sandbox gateway takes no real money, even outside debug.
        "PAYLINKS_ALLOW_SANDBOX": True,
        "PAYLINKS_BASE_TEMPLATE": "layout.html",
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
    }


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The CRM, with flask_paylinks mounted. *config* overrides every setting."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(settings_from_environment(app.instance_path))
    if config:
        app.config.update(config)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith(
        "sqlite:///" + app.instance_path
    ):
        os.makedirs(app.instance_path, exist_ok=True)

    db.init_app(app)
    login_manager.init_app(app)
    csrf.init_app(app)

    from . import auth, contacts, conversations
    from .formatting import register_filters
    from .payments import mount_paylinks
    from .seed import init_db_command, seed_command

    mount_paylinks(app)
    app.register_blueprint(auth.blueprint)
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
