"""Fixtures of the checkout tests: host A with links, products and coupons."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any, TypeVar

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_paylinks import signals
from flask_paylinks.db.models import Coupon, Payment, PaymentLink, Product
from flask_paylinks.db.session import session

from ..factories import make_coupon, make_link, make_product
from ..hosts import crm_a

OWNER = "1"
OTHER_OWNER = "2"
RowT = TypeVar("RowT")


def _detached(row: RowT) -> RowT:
    """*row* loaded again and taken out of the session, readable after it closes."""
    session().refresh(row)
    session().expunge(row)
    return row


@dataclass
class Shop:
    """The row factories of :mod:`tests.factories` on one host app, from outside it.

    Each call opens an app context, commits, and hands back the row loaded
    and detached, so a test can read it after the context is gone.
    """

    app: Flask

    def product(self, owner: str = OWNER, **values: Any) -> Product:
        """A committed :func:`~tests.factories.make_product`."""
        with self.app.app_context():
            return _detached(make_product(owner, **values))

    def link(
        self,
        items: list[dict[str, Any]] | None = None,
        owner: str = OWNER,
        **values: Any,
    ) -> PaymentLink:
        """A link; each item dict has ``product`` (a Product) and LinkItem values."""
        specs = [dict(spec) for spec in items or []]
        products = [spec.pop("product") for spec in specs]
        with self.app.app_context():
            return _detached(make_link(owner, products, items=specs, **values))

    def coupon(
        self, owner: str = OWNER, products: Sequence[Product] = (), **values: Any
    ) -> Coupon:
        """A committed :func:`~tests.factories.make_coupon`."""
        with self.app.app_context():
            return _detached(make_coupon(owner, products=products, **values))

    def payments(self, **where: Any) -> list[Payment]:
        with self.app.app_context():
            stmt = crm_a.db.select(Payment).order_by(Payment.id)
            for key, value in where.items():
                stmt = stmt.where(getattr(Payment, key) == value)
            rows = list(crm_a.db.session.scalars(stmt))
            for row in rows:
                crm_a.db.session.expunge(row)
            return rows

    def get(self, model: type[Any], row_id: Any) -> Any:
        with self.app.app_context():
            row = crm_a.db.session.get(model, row_id)
            if row is not None:
                crm_a.db.session.expunge(row)
            return row

    def customers(self) -> list[crm_a.Customer]:
        with self.app.app_context():
            rows = list(
                crm_a.db.session.scalars(
                    crm_a.db.select(crm_a.Customer).order_by(crm_a.Customer.id)
                )
            )
            for row in rows:
                crm_a.db.session.expunge(row)
            return rows


@pytest.fixture
def shop(host_a: Flask) -> Shop:
    """Row factories on host A."""
    return Shop(host_a)


@pytest.fixture
def yoga(shop: Shop) -> Product:
    """A one-time $25.00 product of owner 1."""
    return shop.product(
        name="Yoga class", description="One hour, all levels.", unit_amount=2500
    )


@pytest.fixture
def received() -> Iterator[Callable[[str], list[dict[str, Any]]]]:
    """Record every flask_paylinks signal sent; call with a signal name to read."""
    heard: dict[str, list[dict[str, Any]]] = {}
    names = [
        "checkout_viewed",
        "checkout_started",
        "payment_succeeded",
        "payment_failed",
    ]
    receivers = []
    for name in names:

        def receiver(sender: Any, _name: str = name, **kwargs: Any) -> None:
            heard.setdefault(_name, []).append(kwargs)

        getattr(signals, name).connect(receiver)
        receivers.append((name, receiver))
    yield lambda name: heard.get(name, [])
    for name, receiver in receivers:
        getattr(signals, name).disconnect(receiver)


class _FormReader(HTMLParser):
    """Collects what a browser would submit untouched: hidden inputs, checked
    radios, the selected option of each select."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self._first_option: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind == "hidden" or (kind == "radio" and "checked" in a):
                self.values[name] = a.get("value", "")
        elif tag == "select" and name:
            self._select, self._first_option = name, None
        elif tag == "option" and self._select:
            value = a.get("value")
            if "selected" in a:
                self.values[self._select] = value if value is not None else "\0text"
            elif self._first_option is None:
                self._first_option = value if value is not None else "\0text"

    def handle_data(self, data: str) -> None:
        if self._select:
            for key, value in self.values.items():
                if key == self._select and value == "\0text":
                    self.values[key] = data.strip()
            if self._first_option == "\0text":
                self._first_option = "\0" + data.strip()

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select:
            if self._select not in self.values and self._first_option is not None:
                self.values[self._select] = self._first_option.removeprefix("\0")
            self._select = None


def form_of(html: str) -> dict[str, str]:
    """The values a browser would submit from a page without the customer typing."""
    reader = _FormReader()
    reader.feed(html)
    return reader.values


def page_fields(client: FlaskClient, link: PaymentLink) -> dict[str, str]:
    """GET the checkout page and return what it would submit as it is."""
    response = client.get(f"/pay/{link.slug}")
    assert response.status_code == 200, response.text
    return form_of(response.text)


GOOD_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"
NO_FUNDS_CARD = "4000 0000 0000 9995"


def submission(
    client: FlaskClient, link: PaymentLink, **overrides: str
) -> dict[str, str]:
    """A valid pay form for *link*: the page's hidden fields plus the customer's."""
    data = page_fields(client, link)
    data.update(
        {
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "phone": "(415) 555-2671",
            "line1": "12 Analytical Row",
            "city": "London",
            "postal_code": "N1 9GU",
            "country": "GB",
            "card-number": GOOD_CARD,
            "card-expiry": "12 / 34",
            "card-cvc": "123",
        }
    )
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def priced(
    client: FlaskClient, link: PaymentLink, data: dict[str, str]
) -> dict[str, str]:
    """*data* with ``terms`` set to the digest the server quotes for it."""
    response = client.post(
        f"/pay/{link.slug}/quote", data=data, headers={"Accept": "application/json"}
    )
    assert response.status_code == 200, response.json
    return {**data, "terms": response.json["terms"]}


@pytest.fixture
def plans(shop: Shop) -> tuple[Product, Product]:
    monthly = shop.product(
        name="Monthly",
        kind="recurring",
        interval="month",
        interval_count=1,
        unit_amount=900,
    )
    yearly = shop.product(
        name="Yearly",
        kind="recurring",
        interval="year",
        interval_count=1,
        unit_amount=9000,
    )
    return monthly, yearly
