"""The example CRM never signs sessions with a key anyone can read (finding 11)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

import example_app
from example_app.secret_key import MissingSecretKey, main

#: The key the CRM used to fall back to; it is in the public source.
PUBLIC_KEY = "example-app-insecure-dev-key-do-not-deploy"


@pytest.fixture(autouse=True)
def _no_key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SECRET_KEY", "FLASK_DEBUG", "DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)


def test_refuses_to_start_without_a_key_and_says_how_to_set_one(
    tmp_path: Path,
) -> None:
    with pytest.raises(MissingSecretKey) as raised:
        example_app.create_app(instance_path=str(tmp_path))
    message = str(raised.value)
    assert "SECRET_KEY" in message
    assert "secrets.token_hex()" in message
    assert "python -m example_app.secret_key" in message
    assert str(tmp_path / "secret_key") in message
    assert not (tmp_path / "secret_key").exists()  # nothing made behind its back


def test_the_environment_key_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_KEY", "k" * 64)
    app = example_app.create_app(instance_path=str(tmp_path))
    assert app.config["SECRET_KEY"] == "k" * 64


def test_the_demo_key_file_is_private_and_survives_a_restart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(str(tmp_path))
    path = tmp_path / "secret_key"
    assert str(path) in capsys.readouterr().out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = path.read_text().strip()
    assert len(key) == 64
    main(str(tmp_path))  # a second run keeps the key
    assert path.read_text().strip() == key
    first = example_app.create_app(instance_path=str(tmp_path))
    second = example_app.create_app(instance_path=str(tmp_path))
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"] == key


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    main(str(tmp_path))
    (tmp_path / "secret_key").chmod(0o644)
    with pytest.raises(MissingSecretKey, match="chmod 600"):
        example_app.create_app(instance_path=str(tmp_path))


def test_an_empty_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    path.touch(mode=0o600)
    with pytest.raises(MissingSecretKey, match="at least 32 characters"):
        example_app.create_app(instance_path=str(tmp_path))


def test_debug_keeps_a_generated_key_in_the_instance_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLASK_DEBUG", "1")
    app = example_app.create_app(instance_path=str(tmp_path))
    path = tmp_path / "secret_key"
    assert app.config["SECRET_KEY"] == path.read_text().strip()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_testing_gets_a_random_key_and_writes_nothing(tmp_path: Path) -> None:
    one = example_app.create_app({"TESTING": True}, instance_path=str(tmp_path))
    two = example_app.create_app({"TESTING": True}, instance_path=str(tmp_path))
    assert len(one.config["SECRET_KEY"]) == 64
    assert one.config["SECRET_KEY"] != two.config["SECRET_KEY"]
    assert not (tmp_path / "secret_key").exists()


def _session_cookie(key: str, user_id: str) -> str:
    """A Flask-Login session cookie for *user_id*, signed with *key*."""
    forger = Flask("forger")
    forger.secret_key = key
    signer = SecureCookieSessionInterface().get_signing_serializer(forger)
    assert signer is not None
    return signer.dumps({"_user_id": user_id, "_fresh": True})


def test_a_session_signed_with_the_old_public_key_is_not_accepted(
    tmp_path: Path, database_url: str
) -> None:
    from example_app.extensions import db
    from example_app.models import User
    from example_app.seed import seed_demo

    main(str(tmp_path))  # what ``make demo`` does
    app = example_app.create_app(
        {"SQLALCHEMY_DATABASE_URI": database_url, "PAYLINKS_RATELIMIT_ENABLED": False},
        instance_path=str(tmp_path),
    )
    with app.app_context():
        db.create_all()
        seed_demo(db, customers_per_account=2)
        alice = db.session.scalars(
            db.select(User).where(User.email == "alice@acme.test")
        ).one()
        user_id = str(alice.id)
        key = app.config["SECRET_KEY"]
    try:
        forged = app.test_client()
        forged.set_cookie("session", _session_cookie(PUBLIC_KEY, user_id))
        response = forged.get("/contacts/")
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]
        # The same cookie signed with the real key is a session: the check works.
        genuine = app.test_client()
        genuine.set_cookie("session", _session_cookie(key, user_id))
        assert genuine.get("/contacts/").status_code == 200
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
