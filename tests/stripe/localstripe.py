"""localstripe, started for the test run, and the HTTP edge in front of it.

:func:`localstripe_server` runs the venv's ``localstripe`` entry point on a
free port, waits for it, and clears its store (``DELETE /_config/data``: it
reloads ``/tmp/localstripe.pickle`` at start).

:class:`StripeEdge` is a small HTTP proxy the gateway talks to instead of
localstripe directly. It adds what Stripe documents and localstripe lacks,
and nothing else:

- **Idempotent requests** (https://docs.stripe.com/api/idempotent_requests):
  a POST with an ``Idempotency-Key`` Stripe has answered before gets the same
  status and body again (header ``Idempotent-Replayed: true``); the same key
  with other parameters gets 400 ``idempotency_error``. localstripe ignores
  the header and would make a second object.
- **PaymentIntent parameters localstripe rejects** as unexpected:
  ``automatic_payment_methods[enabled]``, ``description`` and (Connect)
  ``application_fee_amount`` are taken off the
  request it forwards and put back on the PaymentIntent it answers, as Stripe
  returns them. Likewise ``reason`` on ``POST /v1/refunds``
  (https://docs.stripe.com/api/refunds/create), put back on the Refund.

- **Billing that localstripe lacks or has only in an old form**, served by
  the edge itself (:class:`Billing`) in the shapes Stripe documents for API
  version 2025-03-31.basil and later: Prices (``POST /v1/prices``, ``GET
  /v1/prices/{id}``, https://docs.stripe.com/api/prices/object), and
  Subscriptions with today's parameters (``POST /v1/subscriptions`` with
  ``items[][price]``, ``add_invoice_items``, ``discounts``,
  ``payment_behavior=default_incomplete``, ``payment_settings``, ``expand``;
  ``GET`` and ``DELETE /v1/subscriptions/{id}``; ``GET /v1/invoices/{id}``).
  The subscription's Customer, Products and Coupon are localstripe's own
  (read back through it, 404 when missing), and so is the first invoice's
  PaymentIntent, created on localstripe for the invoice's total: its client
  secret is the invoice's ``confirmation_secret``. ``applies_to`` on ``POST
  /v1/coupons`` is taken off and put back on the Coupon, like the extras
  above.
- **Endpoints localstripe lacks**, served by the edge itself in the shapes
  Stripe documents: ``POST /v1/payment_method_domains``
  (https://docs.stripe.com/api/payment_method_domains/create: a
  ``payment_method_domain`` with ``apple_pay``/``google_pay``/``link``/…
  ``{"status": "active"}``; a ``domain_name`` that is not a host name gets
  400 ``invalid_request_error`` with ``param: domain_name``), and ``GET
  /v1/payment_intents/search`` (https://docs.stripe.com/api/payment_intents/search:
  a ``search_result`` list; only ``metadata['KEY']:'VALUE'`` queries, answered
  from localstripe's own PaymentIntents).
- **Connect** (localstripe has no Accounts, no Account Links, and ignores
  ``Stripe-Account``): ``POST /v1/accounts``, ``GET /v1/accounts/{id}`` and
  ``POST /v1/account_links`` are served by the edge itself, shaped as Stripe
  documents the Account (https://docs.stripe.com/api/accounts/object) and
  Account Link (https://docs.stripe.com/api/account_links/object) objects. A
  new account cannot take charges and has ``requirements.currently_due``;
  :meth:`StripeEdge.enable_charges` finishes its onboarding, as the merchant
  would at Stripe. :meth:`StripeEdge.add_account` makes one a host already
  has.

It also records every request (method, path, headers, form fields) for
assertions at the HTTP edge, and injects faults: :meth:`StripeEdge.fail`
answers the next requests with Stripe's 500 ``api_error`` before they reach
localstripe; :meth:`StripeEdge.lose_responses` lets them through, then drops
the connection without an answer (the response lost on the way back, as a
timeout does).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from tests.services import ServiceUnavailable, free_port, wait_for_port

#: Form fields of ``POST /v1/payment_intents`` that localstripe refuses.
PAYMENT_INTENT_EXTRAS = (
    "automatic_payment_methods[enabled]",
    "description",
    "application_fee_amount",
)
#: Form fields of ``POST /v1/refunds`` that localstripe refuses (Stripe documents
#: ``reason``: duplicate, fraudulent or requested_by_customer, echoed on the Refund).
REFUND_EXTRAS = ("reason",)
#: The extras of each path, kept from localstripe and put back on its answer.
EXTRAS = {"/v1/payment_intents": PAYMENT_INTENT_EXTRAS, "/v1/refunds": REFUND_EXTRAS}


@dataclass
class Recorded:
    """One request the gateway made."""

    method: str
    path: str
    headers: dict[str, str]
    form: list[tuple[str, str]]

    def field(self, name: str) -> str | None:
        """The value of form field *name*, or ``None``."""
        return next((value for key, value in self.form if key == name), None)


@dataclass
class _Saved:
    form: list[tuple[str, str]]
    status: int
    body: bytes


@dataclass
class StripeEdge:
    """The proxy's state: what it saw, what it saved, what it will break."""

    upstream: str
    requests: list[Recorded] = field(default_factory=list)
    saved: dict[str, _Saved] = field(default_factory=dict)
    failures: int = 0
    #: Stripe's refusals to give, next, to POSTs on these paths: path -> error.
    refusals: dict[str, dict[str, str]] = field(default_factory=dict)
    lost: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
    billing: Billing = field(default_factory=lambda: Billing())
    #: Connected accounts the edge serves (Stripe's Account objects), by id.
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add_account(
        self, account_id: str | None = None, *, charges_enabled: bool = False
    ) -> dict[str, Any]:
        """A connected account, as ``POST /v1/accounts`` makes it; its object."""
        account = _account(account_id or f"acct_{secrets.token_hex(8)}", {})
        with self.lock:
            self.accounts[account["id"]] = account
        if charges_enabled:
            self.enable_charges(account["id"])
        return account

    def enable_charges(self, account_id: str) -> dict[str, Any]:
        """Finish *account_id*'s onboarding: charges enabled, nothing due."""
        with self.lock:
            account = self.accounts[account_id]
            account.update(
                charges_enabled=True, payouts_enabled=True, details_submitted=True
            )
            account["requirements"].update(
                currently_due=[], eventually_due=[], past_due=[], disabled_reason=None
            )
            return dict(account)

    def fail(self, times: int) -> None:
        """Answer the next *times* API requests with a 500, unprocessed."""
        self.failures = times

    def refuse(self, path: str, code: str, message: str) -> None:
        """Answer the next POST to *path* with Stripe's 400 refusal, unprocessed.

        Shaped as Stripe documents an ``invalid_request_error``
        (https://docs.stripe.com/api/errors): ``code`` such as
        ``amount_too_small``, and its ``message``.
        """
        with self.lock:
            self.refusals[path] = {"code": code, "message": message}

    def lose_responses(self, times: int) -> None:
        """Process the next *times* API requests, then drop their answers."""
        self.lost = times

    def reset(self) -> None:
        """Forget requests, saved answers and pending faults."""
        with self.lock:
            self.requests.clear()
            self.saved.clear()
            self.failures = self.lost = 0
            self.refusals.clear()
            self.billing = Billing()
            self.accounts.clear()

    def posts_to(self, prefix: str) -> list[Recorded]:
        """The POSTs made to paths starting with *prefix*."""
        return [
            r for r in self.requests if r.method == "POST" and r.path.startswith(prefix)
        ]

    def reset_requests(self) -> None:
        """Forget the requests seen so far (keep saved answers and accounts)."""
        with self.lock:
            self.requests.clear()

    def posts(self, path: str) -> list[Recorded]:
        """The POSTs made to *path*."""
        return [r for r in self.requests if r.method == "POST" and r.path == path]


#: What Stripe asks of a new account before it enables charges.
NEW_ACCOUNT_DUE = [
    "business_profile.url",
    "external_account",
    "tos_acceptance.date",
    "tos_acceptance.ip",
]


def _account(account_id: str, form: dict[str, str]) -> dict[str, Any]:
    """A new connected account as Stripe's Account object documents it."""
    metadata = {
        key[len("metadata[") : -1]: value
        for key, value in form.items()
        if key.startswith("metadata[")
    }
    return {
        "id": account_id,
        "object": "account",
        "business_profile": {"url": None, "mcc": None, "name": None},
        "business_type": None,
        "capabilities": {},
        "charges_enabled": False,
        "controller": {
            "fees": {"payer": form.get("controller[fees][payer]", "account")},
            "is_controller": True,
            "losses": {"payments": form.get("controller[losses][payments]", "stripe")},
            "requirement_collection": form.get(
                "controller[requirement_collection]", "stripe"
            ),
            "stripe_dashboard": {
                "type": form.get("controller[stripe_dashboard][type]", "full")
            },
            "type": "application",
        },
        "country": "US",
        "created": int(time.time()),
        "default_currency": "usd",
        "details_submitted": False,
        "email": None,
        "livemode": False,
        "metadata": metadata,
        "payouts_enabled": False,
        "requirements": {
            "alternatives": [],
            "current_deadline": None,
            "currently_due": list(NEW_ACCOUNT_DUE),
            "disabled_reason": "requirements.past_due",
            "errors": [],
            "eventually_due": list(NEW_ACCOUNT_DUE),
            "past_due": list(NEW_ACCOUNT_DUE),
            "pending_verification": [],
        },
        "type": "standard",
    }


def _api_error(status: int, kind: str, message: str) -> bytes:
    return json.dumps({"error": {"type": kind, "message": message}}).encode()


_HOST_NAME = re.compile(
    r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", re.IGNORECASE
)
_METADATA_QUERY = re.compile(r"metadata\['([^']+)'\]:'((?:[^'\\]|\\.)*)'")


def _served_here(
    method: str,
    full_path: str,
    form: list[tuple[str, str]],
    edge: StripeEdge,
    auth: str,
) -> tuple[int, bytes] | None:
    """The edge's own answer for an endpoint localstripe lacks, else ``None``."""
    path, _, query = full_path.partition("?")
    if method == "POST" and path == "/v1/payment_method_domains":
        return _payment_method_domain(dict(form))
    if method == "GET" and path == "/v1/payment_intents/search":
        return _search_intents(dict(parse_qsl(query)), edge, auth)
    return None


def _payment_method_domain(params: dict[str, str]) -> tuple[int, bytes]:
    name = params.get("domain_name", "")
    if not _HOST_NAME.fullmatch(name):
        error = {
            "error": {
                "type": "invalid_request_error",
                "param": "domain_name",
                "message": f"The domain name '{name}' is not a valid domain name.",
            }
        }
        return 400, json.dumps(error).encode()
    wallet = {"status": "active"}
    made = {
        "id": "pmd_" + secrets.token_hex(12),
        "object": "payment_method_domain",
        "amazon_pay": wallet,
        "apple_pay": wallet,
        "created": int(time.time()),
        "domain_name": name,
        "enabled": params.get("enabled", "true") == "true",
        "google_pay": wallet,
        "klarna": wallet,
        "link": wallet,
        "livemode": False,
        "paypal": wallet,
    }
    return 200, json.dumps(made).encode()


def _search_intents(
    params: dict[str, str], edge: StripeEdge, auth: str
) -> tuple[int, bytes]:
    match = _METADATA_QUERY.fullmatch(params.get("query", "").strip())
    if match is None:
        error = {
            "error": {
                "type": "invalid_request_error",
                "param": "query",
                "message": "edge: only metadata['KEY']:'VALUE' queries are served",
            }
        }
        return 400, json.dumps(error).encode()
    key, value = match.group(1), re.sub(r"\\(.)", r"\1", match.group(2))
    request = urllib.request.Request(  # noqa: S310 (local http)
        edge.upstream + "/v1/payment_intents?limit=100",
        headers={"Authorization": auth},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        listed = json.loads(response.read())["data"]
    hits = [i for i in listed if (i.get("metadata") or {}).get(key) == value]
    result = {
        "object": "search_result",
        "url": "/v1/payment_intents/search",
        "has_more": False,
        "data": hits[: int(params.get("limit", "10"))],
        "next_page": None,
    }
    return 200, json.dumps(result).encode()


class _Handler(BaseHTTPRequestHandler):
    edge: StripeEdge

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        edge = self.edge
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        form = parse_qsl(body.decode(), keep_blank_values=True)
        path = self.path.split("?", 1)[0]
        with edge.lock:
            edge.requests.append(
                Recorded(self.command, path, dict(self.headers.items()), form)
            )
            if edge.failures:
                edge.failures -= 1
                self._answer(500, _api_error(500, "api_error", "edge: injected 500"))
                return
            refusal = edge.refusals.pop(path, None) if self.command == "POST" else None
            if refusal is not None:
                error = {"type": "invalid_request_error", "param": "amount", **refusal}
                self._answer(400, json.dumps({"error": error}).encode())
                return
            lose = edge.lost > 0
            if lose:
                edge.lost -= 1
            posted = self.command == "POST"
            key = self.headers.get("Idempotency-Key") if posted else None
            saved = edge.saved.get(key) if key is not None else None
            replayed = saved is not None and saved.form == form
            if saved is not None and not replayed:
                status, answer = (
                    400,
                    _api_error(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same "
                        "parameters they were first used with.",
                    ),
                )
            elif saved is not None:
                status, answer = saved.status, saved.body
            else:
                auth = self.headers.get("Authorization", "")
                served = _served_here(self.command, self.path, form, edge, auth)
                status, answer = served or self._forward(path, form, body)
                if key is not None:  # Stripe saves whatever it answered, 500s too
                    edge.saved[key] = _Saved(form, status, answer)
        if lose:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._answer(status, answer, replayed=replayed)

    def _connect(self, path: str, form: list[tuple[str, str]]) -> tuple[int, bytes]:
        """Stripe's Accounts and Account Links, which localstripe lacks."""
        accounts = self.edge.accounts
        fields = dict(form)
        if self.command == "POST" and path == "/v1/accounts":
            account = _account(f"acct_{secrets.token_hex(8)}", fields)
            accounts[account["id"]] = account
            return 200, json.dumps(account).encode()
        if self.command == "POST" and path == "/v1/account_links":
            account_id = fields.get("account", "")
            missing = [
                name
                for name in ("account", "type", "refresh_url", "return_url")
                if not fields.get(name)
            ]
            if account_id and account_id not in accounts:
                return 400, _api_error(
                    400, "invalid_request_error", f"No such account: '{account_id}'"
                )
            if missing:
                return 400, _api_error(
                    400,
                    "invalid_request_error",
                    f"Missing required param: {missing[0]}.",
                )
            created = int(time.time())
            link = {
                "object": "account_link",
                "created": created,
                "expires_at": created + 300,
                "url": f"https://connect.stripe.com/setup/s/{account_id}/"
                f"{secrets.token_hex(6)}",
            }
            return 200, json.dumps(link).encode()
        account_id = path.rsplit("/", 1)[-1]
        if self.command == "GET" and account_id in accounts:
            return 200, json.dumps(accounts[account_id]).encode()
        return 404, _api_error(
            404, "invalid_request_error", f"No such account: '{account_id}'"
        )

    def _forward(
        self, path: str, form: list[tuple[str, str]], body: bytes
    ) -> tuple[int, bytes]:
        if path == "/v1/account_links" or path.startswith("/v1/accounts"):
            return self._connect(path, form)
        faked = self.edge.billing.serve(self, path, form)
        if faked is not None:
            return faked
        applies_to = [v for k, v in form if k.startswith("applies_to[products]")]
        if self.command == "POST" and path == "/v1/coupons" and applies_to:
            kept = [(k, v) for k, v in form if not k.startswith("applies_to[")]
            status, answer = self.upstream(self.command, path, kept)
            if status == 200:
                coupon = json.loads(answer)
                coupon["applies_to"] = {"products": applies_to}
                answer = json.dumps(coupon).encode()
            return status, answer
        extras: dict[str, str] = {}
        if self.command == "POST" and path in EXTRAS:
            names = EXTRAS[path]
            extras = {k: v for k, v in form if k in names}
            kept = [(k, v) for k, v in form if k not in names]
            body = urlencode(kept).encode()
        request = urllib.request.Request(  # noqa: S310 (local http)
            self.edge.upstream + self.path,
            data=body if self.command == "POST" else None,
            method=self.command,
            headers={
                k: v
                for k, v in self.headers.items()
                if k.lower() not in ("host", "content-length", "connection")
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                status, answer = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, answer = error.code, error.read()
        if extras and status == 200:
            intent = json.loads(answer)
            if "automatic_payment_methods[enabled]" in extras:
                enabled = extras["automatic_payment_methods[enabled]"] == "true"
                intent["automatic_payment_methods"] = {"enabled": enabled}
            if "description" in extras:
                intent["description"] = extras["description"]
            if "application_fee_amount" in extras:
                intent["application_fee_amount"] = int(extras["application_fee_amount"])
            if "reason" in extras:
                intent["reason"] = extras["reason"]
            answer = json.dumps(intent).encode()
        return status, answer

    def upstream(
        self, method: str, path: str, form: list[tuple[str, str]] | None = None
    ) -> tuple[int, bytes]:
        """Ask localstripe itself, with this request's credentials."""
        data = urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(  # noqa: S310 (local http)
            self.edge.upstream + path,
            data=data,
            method=method,
            headers={"Authorization": self.headers.get("Authorization", "")},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def _answer(self, status: int, body: bytes, *, replayed: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if replayed:
            self.send_header("Idempotent-Replayed", "true")
        self.end_headers()
        self.wfile.write(body)


def _nested(form: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (``items[0][price]=…``) as dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in form:
        parts = key.replace("]", "").split("[")
        node: Any = root
        for part, following in zip(parts, [*parts[1:], None], strict=True):
            if following is None:
                node[part] = value
                break
            node = node.setdefault(part, {})
    return _lists(root)


def _lists(node: Any) -> Any:
    """Dicts keyed ``0, 1, …`` become lists, all the way down."""
    if not isinstance(node, dict):
        return node
    if node and all(key.isdigit() for key in node):
        return [_lists(node[key]) for key in sorted(node, key=int)]
    return {key: _lists(value) for key, value in node.items()}


def _missing(kind: str, ident: str) -> tuple[int, bytes]:
    body = {
        "error": {
            "type": "invalid_request_error",
            "code": "resource_missing",
            "message": f"No such {kind}: '{ident}'",
        }
    }
    return 404, json.dumps(body).encode()


def _bad(message: str) -> tuple[int, bytes]:
    return 400, _api_error(400, "invalid_request_error", message)


def _new_id(prefix: str) -> str:
    return f"{prefix}_{os.urandom(12).hex()}"


@dataclass
class Billing:
    """Prices, Subscriptions and their first Invoices, as Stripe documents them."""

    prices: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)

    def serve(
        self, handler: _Handler, path: str, form: list[tuple[str, str]]
    ) -> tuple[int, bytes] | None:
        """The answer to a faked endpoint, or ``None`` to forward the request."""
        method, parts = handler.command, path.strip("/").split("/")
        if parts[:2] == ["v1", "prices"]:
            if method == "POST" and len(parts) == 2:
                return self._create_price(handler, _nested(form))
            if method == "GET" and len(parts) == 3:
                return self._read(self.prices, "price", parts[2])
        if parts[:2] == ["v1", "subscriptions"]:
            if method == "POST" and len(parts) == 2:
                return self._create_subscription(handler, _nested(form))
            if method == "GET" and len(parts) == 3:
                return self._read(self.subscriptions, "subscription", parts[2])
            if method == "DELETE" and len(parts) == 3:
                return self._cancel(parts[2])
        if parts[:2] == ["v1", "invoices"] and method == "GET" and len(parts) == 3:
            return self._read(self.invoices, "invoice", parts[2])
        return None

    @staticmethod
    def _read(store: dict[str, Any], kind: str, ident: str) -> tuple[int, bytes]:
        if ident not in store:
            return _missing(kind, ident)
        return 200, json.dumps(store[ident]).encode()

    def _create_price(
        self, handler: _Handler, params: dict[str, Any]
    ) -> tuple[int, bytes]:
        product = params.get("product", "")
        status, _ = handler.upstream("GET", f"/v1/products/{product}")
        if status != 200:
            return _missing("product", product)
        amount = params.get("unit_amount", "")
        if not amount.isdigit() or not params.get("currency"):
            return _bad("unit_amount and currency are required.")
        recurring = params.get("recurring")
        price = {
            "id": _new_id("price"),
            "object": "price",
            "active": True,
            "billing_scheme": "per_unit",
            "created": int(time.time()),
            "currency": params["currency"],
            "livemode": False,
            "metadata": params.get("metadata", {}),
            "product": product,
            "recurring": None
            if recurring is None
            else {
                "interval": recurring["interval"],
                "interval_count": int(recurring.get("interval_count", 1)),
                "usage_type": "licensed",
            },
            "type": "one_time" if recurring is None else "recurring",
            "unit_amount": int(amount),
        }
        self.prices[price["id"]] = price
        return 200, json.dumps(price).encode()

    def _create_subscription(
        self, handler: _Handler, params: dict[str, Any]
    ) -> tuple[int, bytes]:
        customer = params.get("customer", "")
        if handler.upstream("GET", f"/v1/customers/{customer}")[0] != 200:
            return _missing("customer", customer)
        if params.get("payment_behavior") not in (None, "default_incomplete"):
            return _bad("edge: only payment_behavior=default_incomplete is served.")
        items, extras = params.get("items", []), params.get("add_invoice_items", [])
        if len(items) != 1:
            return _bad("edge: one subscription item is served.")
        lines: list[dict[str, Any]] = []
        for item, recurring in [(i, True) for i in items] + [
            (i, False) for i in extras
        ]:
            price = self.prices.get(item.get("price", ""))
            if price is None:
                return _missing("price", item.get("price", ""))
            if (price["type"] == "recurring") != recurring:
                return _bad(
                    f"The price {price['id']} is not of the kind this list takes."
                )
            quantity = int(item.get("quantity", 1))
            lines.append(
                {
                    "id": _new_id("il"),
                    "object": "line_item",
                    "amount": price["unit_amount"] * quantity,
                    "currency": price["currency"],
                    "quantity": quantity,
                    "pricing": {
                        "type": "price_details",
                        "price_details": {
                            "price": price["id"],
                            "product": price["product"],
                        },
                        "unit_amount_decimal": str(price["unit_amount"]),
                    },
                }
            )
        currency = lines[0]["currency"]
        if any(line["currency"] != currency for line in lines):
            return _bad("All prices of a subscription must have the same currency.")
        discount, discounts = 0, []
        for entry in params.get("discounts", []):
            code = entry.get("coupon", "")
            status, body = handler.upstream("GET", f"/v1/coupons/{code}")
            if status != 200:
                return _missing("coupon", code)
            coupon = json.loads(body)
            limited = coupon.get("applies_to", {}).get("products")
            eligible = sum(
                line["amount"]
                for line in lines
                if not limited or line["pricing"]["price_details"]["product"] in limited
            )
            if coupon.get("percent_off") is not None:
                off = int(eligible * float(coupon["percent_off"]) / 100 + 0.5)
            else:
                off = int(coupon.get("amount_off") or 0)
            discount += max(0, min(off, eligible))
            discounts.append(
                {"id": _new_id("di"), "object": "discount", "coupon": coupon}
            )
        subscription_id = _new_id("sub")
        subtotal = sum(line["amount"] for line in lines)
        total = subtotal - discount
        intent = None
        if total > 0:
            status, body = handler.upstream(
                "POST",
                "/v1/payment_intents",
                [
                    ("amount", str(total)),
                    ("currency", currency),
                    ("customer", customer),
                ],
            )
            if status != 200:
                return status, body
            intent = json.loads(body)
        invoice_id = _new_id("in")
        invoice = {
            "id": invoice_id,
            "object": "invoice",
            "amount_due": total,
            "amount_paid": 0,
            "amount_remaining": total,
            "billing_reason": "subscription_create",
            "collection_method": "charge_automatically",
            "created": int(time.time()),
            "currency": currency,
            "customer": customer,
            "discounts": [d["id"] for d in discounts],
            "lines": {"object": "list", "data": lines, "has_more": False},
            "livemode": False,
            "parent": {
                "type": "subscription_details",
                "subscription_details": {
                    "subscription": subscription_id,
                    "metadata": params.get("metadata", {}),
                },
            },
            "status": "open" if total else "paid",
            "subtotal": subtotal,
            "total": total,
            "total_discount_amounts": [
                {"amount": discount, "discount": d["id"]} for d in discounts
            ],
            "confirmation_secret": None
            if intent is None
            else {"client_secret": intent["client_secret"], "type": "payment_intent"},
            "payments": {
                "object": "list",
                "has_more": False,
                "data": []
                if intent is None
                else [
                    {
                        "id": _new_id("inpay"),
                        "object": "invoice_payment",
                        "amount_requested": total,
                        "currency": currency,
                        "invoice": invoice_id,
                        "is_default": True,
                        "payment": {
                            "type": "payment_intent",
                            "payment_intent": intent["id"],
                        },
                        "status": "open",
                    }
                ],
            },
        }
        self.invoices[invoice_id] = invoice
        now = int(time.time())
        subscription = {
            "id": subscription_id,
            "object": "subscription",
            "collection_method": "charge_automatically",
            "created": now,
            "currency": currency,
            "customer": customer,
            "description": params.get("description"),
            "discounts": [d["id"] for d in discounts],
            "items": {
                "object": "list",
                "has_more": False,
                "data": [
                    {
                        "id": _new_id("si"),
                        "object": "subscription_item",
                        "price": self.prices[items[0]["price"]],
                        "quantity": int(items[0].get("quantity", 1)),
                        "current_period_start": now,
                        "current_period_end": now + 30 * 86400,
                    }
                ],
            },
            "latest_invoice": invoice_id,
            "livemode": False,
            "metadata": params.get("metadata", {}),
            "payment_settings": params.get("payment_settings", {}),
            "status": "incomplete" if total else "active",
        }
        self.subscriptions[subscription_id] = subscription
        expand = params.get("expand", [])
        answer = dict(subscription)
        if any(path.startswith("latest_invoice") for path in expand):
            shown = dict(invoice)
            for includable in ("confirmation_secret", "payments"):
                if f"latest_invoice.{includable}" not in expand:
                    shown.pop(includable)
            answer["latest_invoice"] = shown
        return 200, json.dumps(answer).encode()

    def _cancel(self, ident: str) -> tuple[int, bytes]:
        subscription = self.subscriptions.get(ident)
        if subscription is None:
            return _missing("subscription", ident)
        subscription["status"] = "canceled"
        subscription["canceled_at"] = int(time.time())
        return 200, json.dumps(subscription).encode()


@contextlib.contextmanager
def stripe_edge(upstream: str) -> Iterator[StripeEdge]:
    """Serve a :class:`StripeEdge` in front of *upstream* on a free port."""
    edge = StripeEdge(upstream)
    handler = type("EdgeHandler", (_Handler,), {"edge": edge})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    edge.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield edge
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class LocalStripe:
    """A running localstripe and the edge in front of it."""

    port: int
    edge: StripeEdge

    @property
    def url(self) -> str:
        """localstripe itself (``/_config`` and reads for assertions)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """What ``PAYLINKS_STRIPE_API_BASE`` points at: the edge."""
        return self.edge.url

    def clear(self) -> None:
        """Empty localstripe's store and the edge's memory."""
        request = urllib.request.Request(  # noqa: S310 (local http)
            self.url + "/_config/data", method="DELETE"
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()
        self.edge.reset()

    def get(self, path: str, secret_key: str) -> dict[str, Any]:
        """GET *path* from localstripe itself, with *secret_key*."""
        request = urllib.request.Request(  # noqa: S310 (local http)
            self.url + path, headers={"Authorization": f"Bearer {secret_key}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            document: dict[str, Any] = json.loads(response.read())
        return document


def _entry_point() -> str:
    beside = Path(sys.executable).parent / "localstripe"
    if beside.exists():
        return str(beside)
    found = shutil.which("localstripe")
    if found is None:
        raise ServiceUnavailable(
            "localstripe is not installed (pip install localstripe)"
        )
    return found


@contextlib.contextmanager
def localstripe_server(attempts: int = 3) -> Iterator[LocalStripe]:
    """Start localstripe on a free port with its edge; stop both after.

    Retried a few times: another test run's localstripe may be writing the
    pickle this one reads at start.
    """
    binary = _entry_point()
    last = ""
    for _ in range(attempts):
        port = free_port()
        log = tempfile.TemporaryFile()  # noqa: SIM115 (closed below)
        process = subprocess.Popen(
            [binary, "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            wait_for_port(port, timeout=20)
        except ServiceUnavailable as error:
            process.kill()
            process.wait(timeout=10)
            log.seek(0)
            last = f"{error}: {log.read().decode(errors='replace')[-2000:]}"
            log.close()
            time.sleep(0.5)
            continue
        try:
            with stripe_edge(f"http://127.0.0.1:{port}") as edge:
                running = LocalStripe(port, edge)
                running.clear()
                yield running
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            log.close()
        return
    raise ServiceUnavailable(f"localstripe did not start: {last}")
