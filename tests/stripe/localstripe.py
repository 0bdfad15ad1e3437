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
    lost: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
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

    def lose_responses(self, times: int) -> None:
        """Process the next *times* API requests, then drop their answers."""
        self.lost = times

    def reset(self) -> None:
        """Forget requests, saved answers and pending faults."""
        with self.lock:
            self.requests.clear()
            self.saved.clear()
            self.failures = self.lost = 0
            self.accounts.clear()

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
                status, answer = self._forward(path, form, body)
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

    def _answer(self, status: int, body: bytes, *, replayed: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if replayed:
            self.send_header("Idempotent-Replayed", "true")
        self.end_headers()
        self.wfile.write(body)


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
