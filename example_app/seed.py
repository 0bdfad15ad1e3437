"""Demo data and the ``init-db`` / ``seed`` commands.

``flask --app example_app init-db`` creates the CRM's own tables and brings
the extension's tables up to date; ``flask --app example_app seed`` (re)fills
both with two demo merchants.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import delete, inspect, or_, select
from sqlalchemy import text as sql

from flask_paylinks.cli import public_base_url
from flask_paylinks.db import migrate
from flask_paylinks.db.models import (
    Asset,
    Coupon,
    CouponProduct,
    GatewayEvent,
    Interval,
    LinkItem,
    LinkStatus,
    Payment,
    PaymentLink,
    Product,
    ProductKind,
    Recipient,
    Send,
)
from flask_paylinks.links.service import new_slug
from flask_paylinks.web.urls import public_url

from .extensions import db
from .models import (
    Account,
    Customer,
    Direction,
    Message,
    MessageChannel,
    Tag,
    User,
    customer_tags,
    utcnow,
)


def _words(text: str, separator: str | None = None) -> tuple[str, ...]:
    return tuple(text.split(separator))


#: Every demo user logs in with this password.
DEMO_PASSWORD = "paylinks-demo"
#: Where the demo link with a redirect sends customers after paying.
THANKS_URL = "https://example.com/thanks"

FIRST_NAMES = _words(
    "Olivia Liam Emma Noah Ava Elijah Sophia James Isabella William Mia Benjamin "
    "Charlotte Lucas Amelia Henry Harper Theodore Evelyn Jack Abigail Levi Emily "
    "Alexander Ella Jackson Elizabeth Mateo Camila Daniel Luna Michael Sofia "
    "Mason Avery Sebastian Mila Ethan Aria Logan Scarlett Owen Penelope Samuel "
    "Layla Jacob Chloe Asher Victoria Aiden Madison John Eleanor Joseph Grace "
    "Wyatt Nora David Riley Leo Zoey Luke Hannah Julian Hazel Hudson Lily Grayson "
    "Ellie Matthew Violet Ezra Lillian Gabriel Zoe Carter Stella Isaac Aurora "
    "Jayden Natalie Priya Wei Mohammed Fatima Hiroshi Yuki Carlos Lucia Andre "
    "Ngozi Dmitri Ana"
)
LAST_NAMES = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez "
    "Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin "
    "Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis Robinson Walker "
    "Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson "
    "Baker Hall Rivera Campbell Mitchell Carter Roberts Patel Kim Chen Okafor "
    "Kowalski Rossi Schmidt Novak Tanaka Haddad O'Brien Murphy Sullivan Becker "
    "Dubois Silva Costa"
)
STREETS = _words(
    "Main St|Oak Ave|Maple Dr|Cedar Ln|Pine St|Elm St|Washington Ave|"
    "Lake View Rd|Hillcrest Dr|Park Pl|Sunset Blvd|Highland Ave|Church St|"
    "River Rd|Mill St|Spring St|Walnut St|Franklin Ave|Broadway|Chestnut St",
    "|",
)
#: (city, state, ZIP prefix, area codes)
CITIES = (
    ("New York", "NY", "100", ("212", "646", "917")),
    ("Brooklyn", "NY", "112", ("718", "347")),
    ("Boston", "MA", "021", ("617", "857")),
    ("Philadelphia", "PA", "191", ("215", "267")),
    ("Chicago", "IL", "606", ("312", "773")),
    ("Austin", "TX", "787", ("512", "737")),
    ("Denver", "CO", "802", ("303", "720")),
    ("Seattle", "WA", "981", ("206",)),
    ("San Francisco", "CA", "941", ("415", "628")),
    ("Los Angeles", "CA", "900", ("213", "310", "323")),
    ("Portland", "OR", "972", ("503", "971")),
    ("Atlanta", "GA", "303", ("404", "678")),
    ("Miami", "FL", "331", ("305", "786")),
    ("Minneapolis", "MN", "554", ("612",)),
)
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")


@dataclass(frozen=True)
class DemoProduct:
    """A product of a demo merchant (amount in cents)."""

    key: str
    name: str
    description: str
    amount: int
    interval: str | None = None


@dataclass(frozen=True)
class DemoMerchant:
    """One demo merchant: its account, login, tags and catalogue."""

    key: str
    name: str
    user_email: str
    user_name: str
    support_email: str
    timezone: str
    tags: tuple[str, ...]
    products: tuple[DemoProduct, ...]
    #: keys of products: (adjustable quantity, phone+address+coupons, redirect)
    links: tuple[tuple[str, str], ...]
    seed: int


MERCHANTS = (
    DemoMerchant(
        key="acme",
        name="Acme Fitness",
        user_email="alice@acme.test",
        user_name="Alice Moreno",
        support_email="help@acme.test",
        timezone="America/Los_Angeles",
        tags=("VIP", "Newsletter", "Lapsed", "Leads", "Personal training"),
        products=(
            DemoProduct(
                "class-pass",
                "10-class pass",
                "Ten group classes of your choice, valid for six months.",
                17900,
            ),
            DemoProduct(
                "drop-in", "Drop-in class", "One group class, any time slot.", 2500
            ),
            DemoProduct(
                "pt-session",
                "Personal training session",
                "One hour with a certified coach.",
                8500,
            ),
            DemoProduct(
                "monthly",
                "Monthly membership",
                "Unlimited classes and open gym, billed monthly.",
                7900,
                Interval.MONTH,
            ),
            DemoProduct(
                "annual",
                "Annual membership",
                "Twelve months of unlimited classes at a saving.",
                79000,
                Interval.YEAR,
            ),
        ),
        links=(
            ("Class passes", "class-pass"),
            ("Join Acme: monthly membership", "monthly"),
            ("Drop-in class", "drop-in"),
        ),
        seed=1,
    ),
    DemoMerchant(
        key="globex",
        name="Globex Design",
        user_email="bob@globex.test",
        user_name="Bob Lindqvist",
        support_email="hello@globex.test",
        timezone="Europe/Stockholm",
        tags=("VIP", "Newsletter", "Lapsed", "Leads", "Agency partners"),
        products=(
            DemoProduct(
                "revision",
                "Extra revision round",
                "One more round of changes on any deliverable.",
                15000,
            ),
            DemoProduct(
                "logo", "Logo design", "Three concepts, two revision rounds.", 45000
            ),
            DemoProduct(
                "audit",
                "Website audit",
                "A written review of UX, speed and accessibility.",
                60000,
            ),
            DemoProduct(
                "retainer",
                "Design retainer",
                "Twenty hours of design each month.",
                250000,
                Interval.MONTH,
            ),
            DemoProduct(
                "hosting",
                "Hosting & maintenance",
                "Managed hosting, updates and backups.",
                4900,
                Interval.MONTH,
            ),
        ),
        links=(
            ("Extra revision rounds", "revision"),
            ("Design retainer sign-up", "retainer"),
            ("Website audit", "audit"),
        ),
        seed=2,
    ),
)

CONVERSATIONS = (
    (
        (Direction.OUT, "Hi {first}, thanks for stopping by last week! Any questions?"),
        (Direction.IN, "Yes, do you have anything on Saturday mornings?"),
        (Direction.OUT, "We do, 9 and 10:30. Want me to hold a spot for you?"),
        (Direction.IN, "10:30 please, thank you!"),
    ),
    (
        (
            Direction.OUT,
            "Hi {first}, your invoice is ready. Reply here with questions.",
        ),
        (Direction.IN, "Got it, thanks!"),
    ),
    (
        (Direction.IN, "Hello, can I change the date of my appointment?"),
        (Direction.OUT, "Of course, {first}. Which day suits you?"),
    ),
)


def _owner_ids(db: SQLAlchemy) -> list[int]:
    """Ids of the demo accounts that exist now (by name or by demo login)."""
    names = [m.name for m in MERCHANTS]
    emails = [m.user_email for m in MERCHANTS]
    by_user = select(User.account_id).where(User.email.in_(emails))
    stmt = select(Account.id).where(
        or_(Account.name.in_(names), Account.id.in_(by_user))
    )
    return list(db.session.scalars(stmt))


def _wipe(db: SQLAlchemy, account_ids: list[int]) -> None:
    owners = [str(i) for i in account_ids]
    session = db.session
    # The extension's rows first, children before parents.
    for model in (
        GatewayEvent,
        Payment,
        Recipient,
        Send,
        LinkItem,
        CouponProduct,
        Coupon,
        PaymentLink,
        Asset,
        Product,
    ):
        session.execute(delete(model).where(model.owner_id.in_(owners)))
    customer_ids = select(Customer.id).where(Customer.account_id.in_(account_ids))
    tag_ids = select(Tag.id).where(Tag.account_id.in_(account_ids))
    session.execute(
        delete(customer_tags).where(
            or_(
                customer_tags.c.customer_id.in_(customer_ids),
                customer_tags.c.tag_id.in_(tag_ids),
            )
        )
    )
    for host_model in (Message, Customer, Tag, User, Account):
        column = Account.id if host_model is Account else host_model.account_id
        session.execute(delete(host_model).where(column.in_(account_ids)))
    session.flush()


def _phone(rng: random.Random, area_codes: tuple[str, ...], used: set[str]) -> str:
    # 555-0100..0199 are the numbers set aside for fiction in North America.
    while True:
        number = f"+1{rng.choice(area_codes)}5550{rng.randint(100, 199)}"
        if number not in used:
            used.add(number)
            return number


def _customers(
    account: Account, tags: list[Tag], count: int, rng: random.Random
) -> list[Customer]:
    used_phones: set[str] = set()
    used_emails: set[str] = set()
    by_name = {t.name: t for t in tags}
    now = utcnow()
    people = []
    for _ in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        city, state, zip_prefix, area_codes = rng.choice(CITIES)
        local = f"{first}.{last}".lower().replace("'", "")
        email = f"{local}@{rng.choice(EMAIL_DOMAINS)}"
        suffix = 2
        while email in used_emails:
            email = f"{local}{suffix}@{email.split('@')[1]}"
            suffix += 1
        used_emails.add(email)
        has_phone = rng.random() > 0.06
        customer = Customer(
            account_id=account.id,
            full_name=f"{first} {last}",
            email=email if rng.random() > 0.04 else None,
            mobile=_phone(rng, area_codes, used_phones) if has_phone else None,
            street=f"{rng.randint(1, 2999)} {rng.choice(STREETS)}",
            street2=f"Apt {rng.randint(1, 30)}{rng.choice('ABCD')}"
            if rng.random() < 0.25
            else None,
            city=city,
            state=state,
            postal_code=f"{zip_prefix}{rng.randint(0, 99):02d}",
            country="US",
            do_not_text=rng.random() < 0.06,
            do_not_email=rng.random() < 0.04,
            notes="",
            created_at=now
            - timedelta(days=rng.randint(0, 700), minutes=rng.randint(0, 1440)),
        )
        chances = {
            "VIP": 0.12,
            "Newsletter": 0.45,
            "Lapsed": 0.15,
            "Leads": 0.2,
        }
        customer.tags = [
            by_name[name] for name in by_name if rng.random() < chances.get(name, 0.08)
        ]
        if "VIP" in {t.name for t in customer.tags} and rng.random() < 0.5:
            customer.notes = rng.choice(
                (
                    "Prefers texts over calls.",
                    "Referred three friends last year.",
                    "Ask about the spring offer.",
                )
            )
        people.append(customer)
    return people


def _messages(db: SQLAlchemy, customers: list[Customer], rng: random.Random) -> None:
    reachable = [c for c in customers if c.mobile and not c.do_not_text]
    start = utcnow() - timedelta(days=3)
    for index, customer in enumerate(reachable[: min(8, len(reachable))]):
        thread = CONVERSATIONS[index % len(CONVERSATIONS)]
        when = start + timedelta(hours=index * 5)
        for direction, text in thread:
            when += timedelta(minutes=rng.randint(2, 90))
            db.session.add(
                Message(
                    account_id=customer.account_id,
                    customer_id=customer.id,
                    direction=direction,
                    channel=MessageChannel.SMS,
                    body=text.format(first=customer.full_name.split()[0]),
                    created_at=when,
                )
            )


def _catalogue(
    db: SQLAlchemy, merchant: DemoMerchant, owner: str
) -> tuple[dict[str, Product], list[PaymentLink]]:
    products = {}
    for spec in merchant.products:
        recurring = spec.interval is not None
        product = Product(
            owner_id=owner,
            name=spec.name,
            description=spec.description,
            kind=ProductKind.RECURRING if recurring else ProductKind.ONE_TIME,
            interval=spec.interval,
            interval_count=1 if recurring else None,
            unit_amount=spec.amount,
            currency="USD",
        )
        db.session.add(product)
        products[spec.key] = product
    db.session.flush()

    (qty_name, qty_key), (full_name, full_key), (redirect_name, redirect_key) = (
        merchant.links
    )
    links = [
        PaymentLink(
            owner_id=owner,
            slug=new_slug(),
            name=qty_name,
            currency=products[qty_key].currency,
            items=[
                LinkItem(
                    owner_id=owner,
                    product_id=products[qty_key].id,
                    quantity=1,
                    adjustable=True,
                    min_quantity=1,
                    max_quantity=10,
                )
            ],
        ),
        PaymentLink(
            owner_id=owner,
            slug=new_slug(),
            name=full_name,
            currency=products[full_key].currency,
            require_phone=True,
            collect_address=True,
            allow_coupons=True,
            items=[LinkItem(owner_id=owner, product_id=products[full_key].id)],
        ),
        PaymentLink(
            owner_id=owner,
            slug=new_slug(),
            name=redirect_name,
            currency=products[redirect_key].currency,
            redirect_url=THANKS_URL,
            items=[LinkItem(owner_id=owner, product_id=products[redirect_key].id)],
        ),
        PaymentLink(
            owner_id=owner,
            slug=new_slug(),
            name="Last season's offer (ended)",
            currency="USD",
            status=LinkStatus.INACTIVE,
            items=[
                LinkItem(
                    owner_id=owner, product_id=products[merchant.products[1].key].id
                )
            ],
        ),
    ]
    db.session.add_all(links)
    db.session.add(
        Coupon(
            owner_id=owner,
            code="WELCOME10",
            code_key="WELCOME10",
            percent_off_bp=1000,
        )
    )
    db.session.flush()
    return products, links


def seed_demo(db: SQLAlchemy, *, customers_per_account: int = 300) -> dict[str, Any]:
    """Wipe and recreate the two demo merchants in the CRM's and the extension's tables.

    Needs an app context and both sets of tables. The data is the same on
    every run (a seeded :class:`random.Random`); only the link slugs change.
    Returns, per merchant key (``acme``, ``globex``): ``account_id``,
    ``owner`` (the extension's owner id), ``email``, ``customers``, ``tags``,
    ``products`` and ``links`` (ids, in the order: adjustable quantity,
    phone + address + coupons, redirect, inactive), plus ``password``.
    """
    _wipe(db, _owner_ids(db))
    summary: dict[str, Any] = {"password": DEMO_PASSWORD}
    for merchant in MERCHANTS:
        rng = random.Random(merchant.seed)
        account = Account(
            name=merchant.name,
            support_email=merchant.support_email,
            timezone=merchant.timezone,
        )
        db.session.add(account)
        db.session.flush()
        user = User(
            account_id=account.id, email=merchant.user_email, name=merchant.user_name
        )
        user.set_password(DEMO_PASSWORD)
        tags = [Tag(account_id=account.id, name=name) for name in merchant.tags]
        db.session.add_all([user, *tags])
        customers = _customers(account, tags, customers_per_account, rng)
        db.session.add_all(customers)
        db.session.flush()
        _messages(db, customers, rng)
        owner = str(account.id)
        products, links = _catalogue(db, merchant, owner)
        summary[merchant.key] = {
            "account_id": account.id,
            "owner": owner,
            "name": merchant.name,
            "email": merchant.user_email,
            "customers": [c.id for c in customers],
            "tags": {t.name: t.id for t in tags},
            "products": {key: p.id for key, p in products.items()},
            "links": [link.id for link in links],
            "slugs": [link.slug for link in links],
        }
    db.session.commit()
    return summary


def create_tables(db: SQLAlchemy) -> None:
    """Create the CRM's tables and bring the extension's up to its newest revision."""
    db.create_all()
    _add_account_columns(db)
    migrate.upgrade(db.engine)


#: Columns added to ``accounts`` after the first demo databases were made.
ACCOUNT_COLUMNS = {
    "support_email": "VARCHAR(320)",
    "support_phone": "VARCHAR(32)",
    "timezone": "VARCHAR(64) NOT NULL DEFAULT 'UTC'",
}


def _add_account_columns(db: SQLAlchemy) -> None:
    """Give an older demo database the account columns it lacks."""
    present = {column["name"] for column in inspect(db.engine).get_columns("accounts")}
    with db.engine.begin() as connection:
        for name, kind in ACCOUNT_COLUMNS.items():
            if name not in present:
                statement = f"ALTER TABLE accounts ADD COLUMN {name} {kind}"
                connection.execute(sql(statement))


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Create the CRM's tables and run the extension's migrations."""
    create_tables(db)
    click.echo(f"Database ready: {db.engine.url.render_as_string(hide_password=True)}")


@click.command("seed")
@click.option(
    "--customers",
    default=300,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Customers per merchant.",
)
@click.option(
    "--if-empty",
    is_flag=True,
    help="Leave an existing demo alone (what `make demo` uses on a second run).",
)
@with_appcontext
def seed_command(customers: int, if_empty: bool) -> None:
    """(Re)create the demo merchants, their customers, products and links."""
    create_tables(db)
    if if_empty and db.session.scalar(select(Account).limit(1)) is not None:
        click.echo("Demo data already there; keeping it.")
        for merchant in MERCHANTS:
            click.echo(f"  {merchant.name}: {merchant.user_email} / {DEMO_PASSWORD}")
        return
    summary = seed_demo(db, customers_per_account=customers)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    acme = summary["acme"]
    with app.test_request_context(base_url=public_base_url(app)):
        link = db.session.get(PaymentLink, acme["links"][1])
        assert link is not None
        checkout = public_url(link)
    click.echo("Demo data ready.")
    for merchant in MERCHANTS:
        click.echo(
            f"  {merchant.name}: log in as {merchant.user_email} / {DEMO_PASSWORD}"
        )
    click.echo(f"  A checkout: {checkout}")
