"""The README's and the quickstart's app run as written."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
from flask_login import FlaskLoginClient

from flask_paylinks.db import migrate

from .factories import make_link

ROOT = Path(__file__).resolve().parent.parent


def readme_app() -> str:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    return next(block for block in blocks if "paylinks.init_app" in block)


def quickstart_app() -> str:
    text = (ROOT / "docs" / "quickstart.rst").read_text()
    found = re.search(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", text)
    assert found is not None
    return "\n".join(line.removeprefix("    ") for line in found.group(1).splitlines())


def load(source: str, where: Path) -> ModuleType:
    path = where / "crm.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("crm", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["crm"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "source", [readme_app, quickstart_app], ids=["readme", "quickstart"]
)
def test_the_documented_app_runs(
    source: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLASK_SECRET_KEY", "docs-example")
    monkeypatch.setenv("FLASK_DEBUG", "true")
    monkeypatch.setenv("FLASK_SQLALCHEMY_DATABASE_URI", f"sqlite:///{tmp_path}/crm.db")
    monkeypatch.setenv("FLASK_PAYLINKS_RATELIMIT_ENABLED", "false")
    try:
        crm = load(source(), tmp_path)  # type: ignore[operator]
        app = crm.create_app()
        app.test_client_class = FlaskLoginClient
        with app.app_context():
            crm.db.create_all()
            migrate.upgrade(crm.db.engine)
            account = crm.Account(
                name="Acme Fitness",
                support_email="help@acme.test",
                timezone="Europe/Berlin",
            )
            crm.db.session.add(account)
            crm.db.session.flush()
            user = crm.User(account_id=account.id)
            crm.db.session.add(user)
            slug = make_link(str(account.id)).slug
            user_id = user.id
        anonymous = app.test_client()
        # An anonymous visitor is sent to the login page, not shown a 500 ...
        response = anonymous.get("/paylinks/")
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")
        # ... and pays on a checkout that says whom.
        page = anonymous.get(f"/pay/{slug}")
        assert page.status_code == 200
        assert "<title>Checkout · Acme Fitness</title>" in page.text
        with app.app_context():
            user = crm.db.session.get(crm.User, user_id)
            merchant = app.test_client(user=user)
            assert merchant.get("/paylinks/").status_code == 200
            crm.db.session.remove()
            crm.db.engine.dispose()
    finally:
        sys.modules.pop("crm", None)


def test_the_stripe_guides_account_lookup_runs(database_url: str) -> None:
    """docs/stripe.rst's ``stripe_account_for``, mounted, names owner 1's account."""
    from .hosts import crm_a

    text = (ROOT / "docs" / "stripe.rst").read_text()
    found = re.search(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", text)
    assert found is not None
    source = "\n".join(
        line.removeprefix("    ") for line in found.group(1).splitlines()
    )
    namespace: dict[str, object] = {}
    exec(compile(source, "docs/stripe.rst", "exec"), namespace)  # noqa: S102
    app = crm_a.create_app(
        database_url,
        paylinks={"stripe_account_for": namespace["stripe_account_for"]},
        PAYLINKS_GATEWAY="stripe",
        PAYLINKS_STRIPE_SECRET_KEY="sk_test_docs0123456789",
        PAYLINKS_STRIPE_PUBLISHABLE_KEY="pk_test_docs0123456789",
        PAYLINKS_STRIPE_WEBHOOK_SECRET="whsec_docs0123456789",
    )
    with app.app_context():
        crm_a.db.create_all()
        gateway = app.extensions["paylinks"].gateway
        assert gateway.connected_account("1") == "acct_1Nv0FGQ9RKHgCVdK"
        assert gateway.connected_account("2") is None
        crm_a.db.session.remove()
        crm_a.db.engine.dispose()
