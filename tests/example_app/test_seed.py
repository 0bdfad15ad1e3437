"""The demo data, the CLI commands, the settings and the mounted extension."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, inspect, select

import example_app
from example_app import secret_key
from example_app.extensions import db
from example_app.models import Account, Customer, Message, Tag, User
from flask_paylinks.contacts import Segment
from flask_paylinks.db import migrate
from flask_paylinks.db.models import Coupon, LinkItem, PaymentLink, Product

from .helpers import DEMO_PASSWORD


def _count(model: Any, *where: Any) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model).where(*where)))


def test_seed_makes_two_merchants_with_their_data(
    example_app: Flask, example_seed: dict[str, Any]
) -> None:
    with example_app.app_context():
        accounts = {a.name: a for a in db.session.scalars(select(Account))}
        assert set(accounts) == {"Acme Fitness", "Globex Design"}
        for key, name, email in (
            ("acme", "Acme Fitness", "alice@acme.test"),
            ("globex", "Globex Design", "bob@globex.test"),
        ):
            account = accounts[name]
            owner = str(account.id)
            assert example_seed[key]["account_id"] == account.id
            user = db.session.scalars(select(User).where(User.email == email)).one()
            assert user.account_id == account.id
            assert user.check_password(DEMO_PASSWORD)
            assert DEMO_PASSWORD not in user.password_hash
            assert _count(Customer, Customer.account_id == account.id) == 40
            assert {"VIP", "Newsletter", "Lapsed", "Leads"} <= {
                t.name
                for t in db.session.scalars(
                    select(Tag).where(Tag.account_id == account.id)
                )
            }
            assert _count(Message, Message.account_id == account.id) > 0
            customers = db.session.scalars(
                select(Customer).where(Customer.account_id == account.id)
            ).all()
            assert any(c.do_not_text for c in customers)
            assert all(c.mobile is None or c.mobile.startswith("+1") for c in customers)

            products = db.session.scalars(
                select(Product).where(Product.owner_id == owner)
            ).all()
            assert {p.kind for p in products} == {"one_time", "recurring"}
            assert all(p.currency == "USD" and p.unit_amount > 0 for p in products)

            links = db.session.scalars(
                select(PaymentLink)
                .where(PaymentLink.owner_id == owner)
                .order_by(PaymentLink.id)
            ).all()
            assert [link.id for link in links] == example_seed[key]["links"]
            adjustable, full, redirect, ended = links
            item = adjustable.items[0]
            assert (item.adjustable, item.min_quantity, item.max_quantity) == (
                True,
                1,
                10,
            )
            assert full.require_phone
            assert full.collect_address
            assert full.allow_coupons
            assert redirect.redirect_url == "https://example.com/thanks"
            assert not ended.is_active
            assert all(len(link.slug) >= 16 for link in links)
            assert all(
                li.owner_id == owner
                for li in db.session.scalars(
                    select(LinkItem).where(LinkItem.link_id.in_([x.id for x in links]))
                )
            )
            coupon = db.session.scalars(
                select(Coupon).where(Coupon.owner_id == owner)
            ).one()
            assert (coupon.code, coupon.percent_off_bp) == ("WELCOME10", 1000)


def test_seeding_again_replaces_the_demo_rows(
    example_app: Flask, example_seed: dict[str, Any]
) -> None:
    from example_app.seed import seed_demo

    with example_app.app_context():
        again = seed_demo(db, customers_per_account=40)
        assert _count(Account) == 2
        assert _count(User) == 2
        assert _count(Customer) == 80
        assert _count(PaymentLink) == 8
        assert _count(Coupon) == 2
        names = lambda ids: sorted(  # noqa: E731
            db.session.scalars(select(Customer.full_name).where(Customer.id.in_(ids)))
        )
        # Same people every time (the random generator is seeded).
        first = names(again["acme"]["customers"])
        seed_demo(db, customers_per_account=40)
        assert (
            names(
                db.session.scalars(
                    select(Customer.id)
                    .join(Account)
                    .where(Account.name == "Acme Fitness")
                ).all()
            )
            == first
        )


def test_the_seed_command_runs_through_flasks_cli(example_app: Flask) -> None:
    result = example_app.test_cli_runner().invoke(args=["seed", "--customers", "5"])
    assert result.exit_code == 0, result.output
    assert "alice@acme.test / paylinks-demo" in result.output
    assert "bob@globex.test / paylinks-demo" in result.output
    checkout = next(
        line for line in result.output.splitlines() if "A checkout:" in line
    ).split()[-1]
    assert checkout.startswith("http://localhost:5000/pay/")
    with example_app.app_context():
        assert _count(Customer) == 10
        slug = checkout.rsplit("/", 1)[1]
        link = db.session.scalars(
            select(PaymentLink).where(PaymentLink.slug == slug)
        ).one()
        assert link.is_active
    assert example_app.test_client().get(f"/pay/{slug}").status_code == 200


def test_init_db_creates_the_crms_and_the_extensions_tables(
    empty_database_url: str,
) -> None:
    app = example_app.create_app(
        {"SQLALCHEMY_DATABASE_URI": empty_database_url, "TESTING": True}
    )
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        tables = set(inspect(db.engine).get_table_names())
        assert {"accounts", "users", "customers", "tags", "customer_tags"} <= tables
        assert {"paylinks_products", "paylinks_links", "paylinks_payments"} <= tables
        assert migrate.current_revision(db.engine) == migrate.head_revision()
        db.engine.dispose()


def test_the_extensions_directory_sees_the_seeded_customers(
    example_app: Flask, example_seed: dict[str, Any]
) -> None:
    directory = example_app.extensions["paylinks"].contacts
    acme, globex = example_seed["acme"], example_seed["globex"]
    with example_app.app_context():
        customer = db.session.get(Customer, acme["customers"][0])
        contact = directory.get(acme["owner"], str(customer.id))
        assert contact is not None
        assert (contact.name, contact.email, contact.phone) == (
            customer.full_name,
            customer.email,
            customer.mobile,
        )
        assert contact.sms_ok is not customer.do_not_text
        assert contact.address is not None
        assert contact.address.city == customer.city
        assert contact.address.region == customer.state
        # Another owner's customer is not there.
        assert directory.get(globex["owner"], str(customer.id)) is None

        segments = directory.segments(acme["owner"])
        assert {s.name for s in segments} == set(acme["tags"])
        vip = next(s for s in segments if s.name == "VIP")
        assert vip == Segment(
            id=str(acme["tags"]["VIP"]),
            name="VIP",
            size=len(db.session.get(Tag, acme["tags"]["VIP"]).customers),
        )
        members = list(directory.segment_members(acme["owner"], vip.id))
        assert len(members) == vip.size
        assert {m.id for m in members} <= {str(i) for i in acme["customers"]}
        assert list(directory.segment_members(globex["owner"], vip.id)) == []


def test_contact_url_points_at_the_record_page(
    example_app: Flask, example_seed: dict[str, Any]
) -> None:
    contact_url = example_app.extensions["paylinks"].contact_url
    with example_app.test_request_context():
        assert contact_url("17") == "/contacts/17"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db/crm", "postgresql+psycopg://u:p@db/crm"),
        (
            "postgresql://u@db/crm?sslmode=require",
            "postgresql+psycopg://u@db/crm?sslmode=require",
        ),
        ("postgresql+psycopg://u@db/crm", "postgresql+psycopg://u@db/crm"),
        ("sqlite:////var/lib/crm.db", "sqlite:////var/lib/crm.db"),
    ],
)
def test_database_url_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, given: str, expected: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", given)
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/2")
    monkeypatch.setenv("SECRET_KEY", "from-env")
    app = example_app.create_app(instance_path=str(tmp_path))
    assert app.config["SQLALCHEMY_DATABASE_URI"] == expected
    assert app.config["PAYLINKS_REDIS_URL"] == "redis://cache:6379/2"
    assert app.config["SECRET_KEY"] == "from-env"


def test_defaults_without_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "FLASK_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    secret_key.main(str(tmp_path))  # the key ``make demo`` keeps
    app = example_app.create_app(instance_path=str(tmp_path))
    assert app.config["SQLALCHEMY_DATABASE_URI"] == (
        f"sqlite:///{app.instance_path}/example.db"
    )
    assert app.config["PAYLINKS_REDIS_URL"] is None
    assert app.extensions["paylinks"].jobs.is_inline
    assert app.config["SECRET_KEY"] == (tmp_path / "secret_key").read_text().strip()
    assert app.config["PAYLINKS_DASHBOARD_CSP"] is True
    assert app.config["PAYLINKS_ALLOW_SANDBOX"] is True
    assert app.config["PAYLINKS_BASE_TEMPLATE"] == "layout.html"
    assert not app.debug
    assert not app.testing


def test_config_argument_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db/crm")
    app = example_app.create_app(
        {"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "given"}
    )
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "sqlite://"


def test_the_dashboard_renders_inside_the_crm_layout(
    example_app: Flask,
) -> None:
    from .helpers import ALICE, login_client

    client = example_app.test_client()
    login_client(client, ALICE)
    html = client.get("/paylinks/").get_data(as_text=True)
    assert "Acme Fitness" in html  # the CRM's top bar
    assert 'aria-current="page">Payments' in html
    assert "Class passes" in html  # Acme's links
    assert "Extra revision rounds" not in html  # not Globex's


def test_seed_if_empty_keeps_an_existing_demo(example_app: Flask) -> None:
    with example_app.app_context():
        before = _count(Customer)
    result = example_app.test_cli_runner().invoke(
        args=["seed", "--if-empty", "--customers", "5"]
    )
    assert result.exit_code == 0, result.output
    assert "keeping it" in result.output
    with example_app.app_context():
        assert _count(Customer) == before
