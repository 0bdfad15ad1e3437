"""A fake of Vonage's SMS API over real HTTPS, for tests and benchmarks.

The Vonage SDK only speaks ``https://<rest_host>/sms/json``, so this serves
that path on 127.0.0.1 with a self-signed certificate made for the run, and
points ``REQUESTS_CA_BUNDLE`` at it. Worker processes started by a test
reach it the same way as the test itself.

Answers are Vonage's documented bodies (developer.vonage.com, "SMS API
reference" and "Troubleshooting SMS"): ``message-count`` and one
``messages`` entry whose ``status`` is ``"0"`` (accepted, with a
``message-id``) or an error status with ``error-text``. A test scripts
the statuses (``answer``) and the latency, and reads what arrived
(``received``).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

#: Each error status with the ``error-text`` Vonage documents for it.
ERROR_TEXTS = {
    "1": "Throttled",
    "3": "Invalid Message: to address is not valid",
    "4": "Bad Credentials",
    "5": "Internal Error",
    "7": "Number barred.",
    "8": "Partner account barred.",
    "9": "Partner quota exceeded",
}


@dataclass
class Received:
    """One SMS the fake was asked to send."""

    to: str
    text: str
    client_ref: str | None
    at: float
    status: str


@dataclass
class FakeVonage:
    """The running fake: its host, what it received, and how it answers."""

    rest_host: str
    ca_bundle: str
    latency: float = 0.0
    #: Decides the status of each request from its form; default accepted.
    answer: Callable[[dict[str, str]], str] = field(default=lambda form: "0")
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self) -> list[Received]:
        """The messages answered with status 0 (Vonage took them)."""
        with self.lock:
            return [r for r in self.received if r.status == "0"]


def _certificate(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "vonage-fake.pem"
    key_path = directory / "vonage-fake.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _handler(fake: FakeVonage) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            if self.headers.get("Content-Type", "").startswith("application/json"):
                form = {k: str(v) for k, v in json.loads(raw or "{}").items()}
            else:
                form = {k: v[0] for k, v in parse_qs(raw).items()}
            status = fake.answer(form)
            with fake.lock:
                fake.received.append(
                    Received(
                        to=form.get("to", ""),
                        text=form.get("text", ""),
                        client_ref=form.get("client-ref"),
                        at=time.monotonic(),
                        status=status,
                    )
                )
            if fake.latency:
                time.sleep(fake.latency)
            if status == "0":
                message = {
                    "to": form.get("to", ""),
                    "message-id": uuid.uuid4().hex[:16].upper(),
                    "status": "0",
                    "remaining-balance": "15.53590000",
                    "message-price": "0.03330000",
                    "network": "23410",
                }
                if form.get("client-ref"):
                    message["client-ref"] = form["client-ref"]
            else:
                message = {"status": status, "error-text": ERROR_TEXTS.get(status, "")}
            body = json.dumps({"message-count": "1", "messages": [message]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def fake_vonage(monkeypatch: object | None = None) -> Iterator[FakeVonage]:
    """Serve the fake until the block ends; the SDK trusts it through the env."""
    import os

    directory = Path(tempfile.mkdtemp(prefix="vonage-fake-"))
    cert, key = _certificate(directory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.daemon_threads = True
    fake = FakeVonage(
        rest_host=f"127.0.0.1:{server.server_address[1]}", ca_bundle=str(cert)
    )
    server.RequestHandlerClass = _handler(fake)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    previous = os.environ.get("REQUESTS_CA_BUNDLE")
    os.environ["REQUESTS_CA_BUNDLE"] = str(cert)
    try:
        yield fake
    finally:
        if previous is None:
            os.environ.pop("REQUESTS_CA_BUNDLE", None)
        else:
            os.environ["REQUESTS_CA_BUNDLE"] = previous
        server.shutdown()
        server.server_close()


def vonage_config(fake: FakeVonage) -> dict[str, object]:
    """App config that sends SMS through the fake."""
    return {
        "PAYLINKS_SMS_BACKEND": "vonage",
        "PAYLINKS_VONAGE_API_KEY": "abcd1234",
        "PAYLINKS_VONAGE_API_SECRET": "secret123",
        "PAYLINKS_SMS_FROM": "AcmeShop",
        "PAYLINKS_VONAGE_REST_HOST": fake.rest_host,
    }
