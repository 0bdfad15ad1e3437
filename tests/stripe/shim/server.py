"""A small HTTP server for the browser tests: the Payment Element over localstripe.

It stands where ``https://js.stripe.com`` stands for the page
(``PAYLINKS_STRIPE_JS_URL`` = ``<shim>/js.stripe.com/v3/``) and serves:

- ``GET /js.stripe.com/v3/``: localstripe's own fake Stripe.js followed by
  ``stripe-shim.js`` (which adds ``elements({clientSecret}).create('payment')``
  and ``confirmPayment``). localstripe's fake finds its API at the origin it
  was loaded from, so its calls come here too.
- ``POST /v1/payment_intents/:id/confirm`` with the publishable key and the
  client secret, as Stripe.js sends it
  (https://docs.stripe.com/api/payment_intents/confirm): localstripe lacks
  it (its confirm takes the secret key and no ``payment_method_data``).
  Served on localstripe, through the edge, with the secret key: the client
  secret is checked against the PaymentIntent's; the card becomes a
  PaymentMethod; when the PaymentIntent has a Customer the card is attached
  to it, which is where localstripe declines its declined test cards
  (``4000000000000002``…), answered as Stripe does (402, ``card_error``,
  the PaymentIntent left to try again); then the PaymentIntent gets the
  PaymentMethod and is confirmed by localstripe itself, which succeeds,
  declines, or asks for 3-D Secure (``requires_action``).
- ``POST /v1/payment_intents/:id/_authenticate``: localstripe's own 3-D
  Secure answer, passed through.

Every answer carries ``Access-Control-Allow-Origin`` (the page is on
another origin, as js.stripe.com is).
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

SHIM_JS = Path(__file__).with_name("stripe-shim.js")
_CONFIRM = re.compile(r"^/v1/payment_intents/(pi_\w+)/confirm$")
_AUTHENTICATE = re.compile(r"^/v1/payment_intents/pi_\w+/_authenticate$")
_CARD_FIELD = re.compile(r"^payment_method_data\[card\]\[(\w+)\]$")


@dataclass
class StripeJsShim:
    """The running shim: where it is and what it fronts."""

    url: str
    api_base: str
    secret_key: str
    fake_js_url: str

    @property
    def js_url(self) -> str:
        """What ``PAYLINKS_STRIPE_JS_URL`` points at."""
        return f"{self.url}/js.stripe.com/v3/"


def _call(
    shim: StripeJsShim, method: str, path: str, form: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    """One API call on localstripe (through the edge) with the secret key."""
    request = urllib.request.Request(  # noqa: S310 (local http)
        shim.api_base + path,
        data=urlencode(form).encode() if form is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {shim.secret_key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _declined(error: dict[str, Any], intent: dict[str, Any]) -> dict[str, Any]:
    """localstripe's 402 in Stripe's shape: a ``card_error`` naming the intent."""
    return {"error": {**error, "type": "card_error", "payment_intent": intent}}


def confirm(
    shim: StripeJsShim, intent_id: str, form: dict[str, str]
) -> tuple[int, Any]:
    """Stripe.js's confirm of a PaymentIntent with a card, done on localstripe."""
    if not form.get("key", "").startswith("pk_"):
        return 401, {"error": {"type": "invalid_request_error", "message": "No key."}}
    status, intent = _call(shim, "GET", f"/v1/payment_intents/{intent_id}")
    if status != 200 or intent.get("client_secret") != form.get("client_secret"):
        return 404, {
            "error": {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "message": "No such payment_intent.",
            }
        }
    card = {
        f"card[{m.group(1)}]": value
        for name, value in form.items()
        if (m := _CARD_FIELD.match(name))
    }
    status, method = _call(
        shim, "POST", "/v1/payment_methods", {"type": "card", **card}
    )
    if status != 200:
        error = method.get("error", {})
        return 402, _declined(
            {
                "code": "incorrect_number",
                "message": "Your card number is incorrect.",
                **{k: v for k, v in error.items() if k == "code"},
            },
            intent,
        )
    if intent.get("customer"):
        status, attached = _call(
            shim,
            "POST",
            f"/v1/payment_methods/{method['id']}/attach",
            {"customer": intent["customer"]},
        )
        if status == 402:
            return 402, _declined(attached.get("error", {}), intent)
    status, intent = _call(
        shim,
        "POST",
        f"/v1/payment_intents/{intent_id}",
        {"payment_method": method["id"]},
    )
    if status != 200:
        return status, intent
    status, answer = _call(shim, "POST", f"/v1/payment_intents/{intent_id}/confirm", {})
    if status == 402:
        _, intent = _call(shim, "GET", f"/v1/payment_intents/{intent_id}")
        return 402, _declined(answer.get("error", {}), intent)
    return status, answer


class _Handler(BaseHTTPRequestHandler):
    shim: StripeJsShim

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, document: Any) -> None:
        self._send(status, json.dumps(document).encode(), "application/json")

    def do_OPTIONS(self) -> None:
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "GET, POST")
        self.send_header("Access-Control-Allow-Headers", "Content-Type")
        self.end_headers()

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/js.stripe.com/v3/":
            self._json(404, {"error": {"message": "Not found."}})
            return
        with urllib.request.urlopen(self.shim.fake_js_url, timeout=10) as fake:  # noqa: S310
            script = fake.read() + b"\n" + SHIM_JS.read_bytes()
        self._send(200, script, "application/javascript; charset=utf-8")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        found = _CONFIRM.match(path)
        if found is not None:
            form = dict(parse_qsl(body.decode(), keep_blank_values=True))
            self._json(*confirm(self.shim, found.group(1), form))
            return
        if _AUTHENTICATE.match(path):
            request = urllib.request.Request(  # noqa: S310 (local http)
                self.shim.api_base + self.path, data=body, method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
                    self._send(answer.status, answer.read(), "application/json")
            except urllib.error.HTTPError as error:
                self._send(error.code, error.read(), "application/json")
            return
        self._json(404, {"error": {"message": "Not found."}})


@contextlib.contextmanager
def stripe_js_shim(
    *, api_base: str, localstripe_url: str, secret_key: str
) -> Iterator[StripeJsShim]:
    """Serve the shim on a free port until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    shim = StripeJsShim(
        url=f"http://127.0.0.1:{server.server_address[1]}",
        api_base=api_base,
        secret_key=secret_key,
        fake_js_url=f"{localstripe_url}/js.stripe.com/v3/",
    )
    server.RequestHandlerClass = type("ShimHandler", (_Handler,), {"shim": shim})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield shim
    finally:
        server.shutdown()
        server.server_close()
