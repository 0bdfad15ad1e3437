"""The route fuzzer: no extension route answers 5xx to any input (issue 7).

For every rule of ``app.url_map`` whose endpoint starts ``paylinks``, as an
anonymous visitor and as a logged-in merchant, it sends GET and POST requests
built from hypothesis strategies: huge and negative integers, exponents, NUL
bytes and invalid UTF-8 (raw bytes in the query string and the body),
10,000-character strings, dates at the calendar's edges, the other merchant's
ids, and repeated keys where one value goes. Path converters and the fields
the pages' forms declare are both fuzzed. Merchant POSTs carry a valid CSRF
token, so the fuzz reaches the views.

It asserts: no 5xx (with ``TESTING`` on, an unhandled exception raises out of
the client instead), nothing logged at ERROR, and no ``paylinks_*`` row changed
by a request answered 4xx. It runs on SQLite, and on PostgreSQL with
``--db=postgresql``; the examples are bounded and derandomised so each lane
takes well under a minute, and it prints how many routes and requests it tried.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from werkzeug.routing import Rule

from flask_paylinks.db.models import Base, PaymentLink
from flask_paylinks.db.session import session
from flask_paylinks.web.checkout.forms import CheckoutForm
from flask_paylinks.web.dashboard.forms import (
    CouponForm,
    LinkFilterForm,
    LinkForm,
    LinkItemForm,
    ProductForm,
)

from .dashboard.conftest import RequestPerContextClient
from .factories import make_coupon, make_link, make_payment, make_product
from .hosts import crm_a

#: Examples per (route, method): 2 users x ~29 rules x methods x this.
EXAMPLES = 25
MERCHANT, OTHER = "1", "2"

HOSTILE = [
    str(10**20),
    str(10**30),
    str(2**63),
    str(2**31),
    "-1",
    "0",
    "1e999999999",
    "1e999990",
    "-1e-999999999",
    "NaN",
    "Infinity",
    "x" * 3000,
    "é" * 3000,
    "0001-01-01",
    "9999-12-31",
    "2024-02-30",
    "",
    " ",
    "https://\u0430pple.com/",
    "//evil.example/x.gif",
    "javascript:alert(1)",
    "/" + "a" * 3000,
    "%",
    "_",
    "\\",
    "'; DROP TABLE paylinks_products; --",
    "\u202e\ufeff",
    "\ud7ff\U0001f4b3",
]
#: Values the guard in front of every route refuses (400) before any view.
GUARDED = ["\x00", "a\x00b", "\x1b[31m", "x" * 10_000]
#: A valid submission per page, so a hostile value in one field reaches the
#: service rather than stopping at the first missing field.
BASE = {
    "product_": {
        "name": "Mat",
        "price": "49.00",
        "currency": "USD",
        "kind": "one_time",
    },
    "coupon_": {
        "code": "FUZZ10",
        "discount_type": "percent",
        "percent_off": "10",
        "applies_to": "all",
        "duration": "once",
    },
    "link_": {
        "name": "Fuzzed",
        "items-0-product_id": "{product}",
        "items-0-quantity": "1",
        "after_payment": "confirmation",
        "button_style": "rounded",
    },
    "paylinks_checkout.": {
        "name": "Ann Payer",
        "email": "ann@example.test",
        "phone": "+14155550123",
        "line1": "1 Main St",
        "city": "Springfield",
        "postal_code": "12345",
        "country": "US",
        "card-number": "4242424242424242",
        "card-expiry": "12/40",
        "card-cvc": "123",
    },
}


def _field_names(app: Flask) -> dict[str, list[str]]:
    """The fields each page's forms declare, by the endpoints that read them."""
    with app.test_request_context():
        meta = {"csrf": False}
        product = [f.name for f in ProductForm(meta=meta)]
        coupon = [f.name for f in CouponForm(meta=meta)]
        link = [f.name for f in LinkForm(meta=meta)] + [
            f.name for f in LinkItemForm(prefix="items-0-")
        ]
        filters = [f.name for f in LinkFilterForm()]
        checkout = [f.name for f in CheckoutForm(meta=meta)]
    checkout += ["plan", "coupon", "card-number", "card-expiry", "card-cvc"]
    return {
        "product_": [*product, "then"],
        "coupon_": coupon,
        "link_create": link,
        "link_edit": link,
        "link_preview": link,
        "index": [*filters, "after", "before"],
        "paylinks_checkout.": checkout,
    }


def _fields_for(endpoint: str, names: dict[str, list[str]]) -> list[str]:
    common = ["next", "page", "q", "after", "before", "r", "download", "product"]
    for key, fields in names.items():
        if key in endpoint:
            return [*fields, *common]
    return common


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every ``paylinks_*`` table."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    for table in Base.metadata.sorted_tables:
        if table.name.startswith("paylinks_") and "version" not in table.name:
            result = session().execute(select(table).order_by(*table.primary_key))
            rows[table.name] = [tuple(row) for row in result]
    session().rollback()
    return rows


class Tally:
    """What the fuzzer tried, for the summary line."""

    def __init__(self) -> None:
        self.routes: set[str] = set()
        self.requests = 0
        self.by_status: dict[int, int] = {}


@pytest.fixture
def fuzz_app(host_a: Flask) -> Iterator[Flask]:
    """Host A with CSRF on, two merchants, and rows of both to aim at."""
    host_a.config["WTF_CSRF_ENABLED"] = True
    host_a.test_client_class = RequestPerContextClient
    with host_a.app_context():
        crm_a.db.session.add_all(
            [
                crm_a.User(id=1, account_id=1, email="alice@a.test"),
                crm_a.User(id=2, account_id=2, email="bob@b.test"),
            ]
        )
        crm_a.db.session.commit()
        for owner in (MERCHANT, OTHER):
            product = make_product(owner)
            plan = make_product(owner, kind="recurring")
            link = make_link(
                owner,
                [product, plan],
                items=[
                    {"adjustable": True, "min_quantity": 1, "max_quantity": 5},
                    {},
                ],
                allow_coupons=True,
                require_phone=True,
                collect_address=True,
            )
            make_link(owner, [make_product(owner)], status="inactive")
            make_coupon(owner, code=f"SAVE{owner}X")
            make_payment(owner, link)
        yield host_a


def _ids(owner: str) -> dict[str, str]:
    with_link = (
        session()
        .scalars(select(PaymentLink).where(PaymentLink.owner_id == owner))
        .first()
    )
    assert with_link is not None
    return {
        "link": str(with_link.id),
        "slug": with_link.slug,
        "product": str(with_link.items[0].product_id),
    }


def _csrf_token(client: FlaskClient) -> str:
    page = client.get("/paylinks/products/new").get_data(as_text=True)
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page
    )
    assert found, "no CSRF token on the product form"
    return found.group(1)


def _path(rule: Rule, values: dict[str, str]) -> str:
    path = rule.rule
    for name in rule.arguments:
        path = re.sub(rf"<(?:[a-z]+:)?{name}>", quote(values[name], safe=""), path)
    return path


def _path_values(rule: Rule, ids: dict[str, str]) -> st.SearchStrategy[dict[str, str]]:
    parts: dict[str, st.SearchStrategy[str]] = {}
    for converter, name in re.findall(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", rule.rule):
        if converter == "int":
            known = [ids[k] for k in ("link", "product", "other_link", "other_product")]
            parts[name] = st.sampled_from(
                [*known, "1", str(10**20), str(2**63), "0", "9" * 40]
            )
        else:
            odd = ["a\x00b", "x" * 10_000, "\u00e9", "..", "static/x", "~" * 60]
            parts[name] = st.sampled_from(
                [ids["slug"], ids["other_slug"], *odd]
            ) | st.text(max_size=30)
    return st.fixed_dictionaries(parts)


#: Typable text: no control characters (the guard's own cases are GUARDED).
TYPED = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=40)


def _value(ids: dict[str, str]) -> st.SearchStrategy[str]:
    own = [ids["link"], ids["product"], ids["slug"]]
    other = [ids["other_link"], ids["other_product"], ids["other_slug"]]
    return st.sampled_from(HOSTILE + own + other) | TYPED


def _form(
    fields: list[str], ids: dict[str, str], most: int
) -> st.SearchStrategy[list[tuple[str, str]]]:
    """Pairs of (field, value); a field drawn twice is an array where one goes."""
    pair = st.tuples(st.sampled_from(fields) | TYPED, _value(ids))
    return st.lists(pair, max_size=most)


def _base(endpoint: str, ids: dict[str, str]) -> dict[str, str]:
    for key, values in BASE.items():
        if key in endpoint:
            return {k: v.format(**ids) for k, v in values.items()}
    return {}


RAW = [
    b"q=%FF%FE",
    b"name=%C3%28&price=1",
    b"\xff\xfe\x00=1",
    b"a=%00",
    b"code=%ED%A0%80",
]


def fuzz(
    app: Flask,
    client: FlaskClient,
    *,
    csrf: str | None,
    ids: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    tally: Tally,
    only: str = "paylinks",
) -> None:
    """Fuzz every extension rule with *client*; fail on the first bad answer."""
    names = _field_names(app)
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith(only)]
    assert rules, "the extension's routes were not found"
    for rule in rules:
        fields = _fields_for(rule.endpoint, names)
        for method in sorted((rule.methods or set()) & {"GET", "POST"}):
            tally.routes.add(f"{method} {rule.rule}")
            runner = _runner(client, rule, method, fields, csrf, ids, caplog, tally)
            runner()


def _runner(
    client: FlaskClient,
    rule: Rule,
    method: str,
    fields: list[str],
    csrf: str | None,
    ids: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    tally: Tally,
) -> Any:
    """A hypothesis test of one rule and method, bound to its arguments."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        path_values=_path_values(rule, ids),
        query=_form(fields, ids, 4),
        body=_form(fields, ids, 8),
        # One request in six is one the guard must stop: raw bytes or NUL.
        poison=st.sampled_from([None] * 5 + RAW + GUARDED),
        multipart=st.booleans(),
    )
    def one_request(
        path_values: dict[str, str],
        query: list[tuple[str, str]],
        body: list[tuple[str, str]],
        poison: bytes | str | None,
        multipart: bool,
    ) -> None:
        path = _path(rule, path_values)
        raw = poison if isinstance(poison, bytes) else None
        if isinstance(poison, str):
            (body if method == "POST" else query).append(
                (fields[len(body) % len(fields)], poison)
            )
        kwargs: dict[str, Any] = {}
        if raw is not None and method == "GET":
            kwargs["query_string"] = raw.decode("latin-1")  # raw bytes, as sent
        else:
            kwargs["query_string"] = _multidict(query)
        if method == "POST":
            if raw is not None:
                kwargs["data"] = raw
                kwargs["content_type"] = "application/x-www-form-urlencoded"
            else:
                drawn = {name for name, _ in body}
                base = _base(rule.endpoint, ids)
                pairs = [(k, v) for k, v in base.items() if k not in drawn] + body
                if csrf is not None:
                    pairs.append(("csrf_token", csrf))
                kwargs["data"] = _multidict(pairs)
                if multipart:
                    kwargs["content_type"] = "multipart/form-data"
        where = f"{method} {path[:200]!r} {kwargs!r:.500}"
        before = snapshot()
        caplog.clear()
        try:
            response = client.open(path, method=method, **kwargs)
        except Exception as error:  # TESTING propagates what would be a 500
            raise AssertionError(f"{where} raised {error!r}") from error
        status = response.status_code
        tally.requests += 1
        tally.by_status[status] = tally.by_status.get(status, 0) + 1
        assert status < 500, f"{where} answered {status}"
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert not errors, f"{where} logged {errors[0].getMessage()}"
        if status >= 400:
            assert snapshot() == before, f"{where} answered {status} but saved"

    return one_request


def _multidict(pairs: list[tuple[str, str]]) -> Any:
    from werkzeug.datastructures import MultiDict

    return MultiDict(pairs)


def _all_ids() -> dict[str, str]:
    mine, theirs = _ids(MERCHANT), _ids(OTHER)
    return {**mine, **{f"other_{key}": value for key, value in theirs.items()}}


@pytest.mark.slow
@pytest.mark.parametrize("who", ["anonymous", "merchant"])
def test_no_route_answers_5xx(
    fuzz_app: Flask,
    who: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    client = fuzz_app.test_client()
    csrf: str | None = None
    if who == "merchant":
        assert client.get("/login/1").status_code == 200
        csrf = _csrf_token(client)
    tally = Tally()
    with caplog.at_level(logging.WARNING):
        fuzz(fuzz_app, client, csrf=csrf, ids=_all_ids(), caplog=caplog, tally=tally)
    database = request.config.getoption("--db")
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(tally.by_status.items()))
    with capsys.disabled():
        print(
            f"\nroute fuzzer ({who}, {database}): {len(tally.routes)} routes, "
            f"{tally.requests} requests, answers {statuses}"
        )
    assert not any(status >= 500 for status in tally.by_status)
    # Something must have reached the views, not only the guard.
    assert any(200 <= status < 400 for status in tally.by_status)


def test_the_fuzzer_sees_a_5xx(
    fuzz_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    """The fuzzer can fail: a route that breaks on a huge integer is caught."""

    @fuzz_app.get("/paylinks/fuzz-canary", endpoint="paylinks_canary")
    def canary() -> str:
        from flask import request

        if any(len(value) > 100 for value in request.args.values()):
            raise ZeroDivisionError("a route that breaks on long input")
        return "ok"

    with pytest.raises(AssertionError, match="fuzz-canary"):
        fuzz(
            fuzz_app,
            fuzz_app.test_client(),
            csrf=None,
            ids=_all_ids(),
            caplog=caplog,
            tally=Tally(),
            only="paylinks_canary",
        )
