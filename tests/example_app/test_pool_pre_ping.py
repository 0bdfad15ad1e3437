"""The example CRM checks a pooled connection before using it."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

import example_app as example
from example_app.extensions import db


def test_pooled_connections_are_pinged_before_use(example_app: Flask) -> None:
    with example_app.app_context():
        assert db.engine.pool._pre_ping is True


def test_a_host_setting_of_its_own_wins(tmp_path: Path) -> None:
    app = example.create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'own.db'}",
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_recycle": 300},
            "TESTING": True,
            "SECRET_KEY": "example-app-tests",
        }
    )
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"] == {"pool_recycle": 300}
    with app.app_context():
        assert db.engine.pool._pre_ping is False
        db.engine.dispose()
