"""The example CRM tells the checkout each account's name, support and timezone."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from sqlalchemy import create_engine, inspect, text

import example_app
from example_app.extensions import db
from flask_paylinks.db.models import PaymentLink
from flask_paylinks.merchants import merchant_profile


def test_each_accounts_checkout_names_that_account(
    example_app: Flask, example_seed: dict[str, Any]
) -> None:
    client = example_app.test_client()
    for key, name in (("acme", "Acme Fitness"), ("globex", "Globex Design")):
        with example_app.app_context():
            link = db.session.get(PaymentLink, example_seed[key]["links"][0])
            assert link is not None
            slug = link.slug
        page = client.get(f"/pay/{slug}").get_data(as_text=True)
        title = re.search(r"<title>(.*?)</title>", page)
        assert title is not None
        assert title.group(1) == f"Checkout · {name}"
    with example_app.test_request_context():
        acme = merchant_profile(example_seed["acme"]["owner"])
        assert (acme.name, acme.support_email, acme.timezone) == (
            "Acme Fitness",
            "help@acme.test",
            "America/Los_Angeles",
        )


def test_init_db_adds_the_new_account_columns_to_an_older_database(
    empty_database_url: str,
) -> None:
    engine = create_engine(empty_database_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE accounts (id INTEGER PRIMARY KEY, name VARCHAR(200), "
                "created_at TIMESTAMP)"
            )
        )
        connection.execute(text("INSERT INTO accounts (id, name) VALUES (1, 'Old')"))
    engine.dispose()
    app = example_app.create_app(
        {"SQLALCHEMY_DATABASE_URI": empty_database_url, "TESTING": True}
    )
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    with app.test_request_context():
        columns = {c["name"] for c in inspect(db.engine).get_columns("accounts")}
        assert {"support_email", "support_phone", "timezone"} <= columns
        assert merchant_profile("1").timezone == "UTC"
        assert merchant_profile("1").name == "Old"
        db.session.remove()
        db.engine.dispose()
