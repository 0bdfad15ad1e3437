"""Lighthouse (mobile) on the Stripe payment step, with the test shim's Stripe.js.

    .venv/bin/python -m benchmarks.lighthouse_stripe

It needs ``npm install lighthouse`` in ``$LIGHTHOUSE_DIR`` (default ``/tmp/lh``).

Starts localstripe with the tests' HTTP edge and the Stripe.js shim
(``tests/stripe/shim``: localstripe's fake Stripe.js plus the Payment Element
calls), seeds the example CRM into a throw-away SQLite file, serves it on
the Stripe gateway (a threaded Werkzeug server in this process), presses Pay
on the seeded link that asks for phone, address and a coupon, and runs
Lighthouse on the payment step it leads to. Prints the scores of
performance, accessibility and best practices, the core metrics, and the
page's own bytes (everything served from the app's origin, uncompressed).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
LIGHTHOUSE_DIR = Path(os.environ.get("LIGHTHOUSE_DIR", "/tmp/lh"))  # noqa: S108 (as lighthouse.sh)
CHROME_FLAGS = (
    "--headless=new --no-sandbox --disable-gpu --disable-background-networking "
    "--disable-component-update --disable-sync --no-first-run"
)
METRICS = (
    "first-contentful-paint",
    "largest-contentful-paint",
    "total-blocking-time",
    "cumulative-layout-shift",
    "speed-index",
)


def main() -> int:
    lighthouse = LIGHTHOUSE_DIR / "node_modules" / ".bin" / "lighthouse"
    if not lighthouse.exists():
        print(
            f"Lighthouse is not installed: mkdir -p {LIGHTHOUSE_DIR} && cd "
            f"{LIGHTHOUSE_DIR} && npm install lighthouse",
            file=sys.stderr,
        )
        return 2
    sys.path.insert(0, str(ROOT))
    from example_app import create_app
    from example_app.extensions import db
    from flask_paylinks.db.models import PaymentLink
    from tests.browser import live_server
    from tests.checkout.conftest import submission
    from tests.stripe.conftest import PUBLISHABLE_KEY, SECRET_KEY, WEBHOOK_SECRET
    from tests.stripe.localstripe import localstripe_server
    from tests.stripe.shim.server import stripe_js_shim

    work = Path(tempfile.mkdtemp(prefix="paylinks-lh-"))
    out = Path(os.environ.get("OUT", work / "lighthouse-stripe.json"))
    database = f"sqlite:///{work / 'demo.db'}"
    secret = os.environ.get("SECRET_KEY") or secrets.token_hex()
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "FLASK_APP": "example_app",
        "SECRET_KEY": secret,
    }
    subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "seed", "--customers", "50"],
        check=True,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    with (
        localstripe_server() as localstripe,
        stripe_js_shim(
            api_base=localstripe.api_base,
            localstripe_url=localstripe.url,
            secret_key=SECRET_KEY,
        ) as shim,
    ):
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": database,
                "SECRET_KEY": secret,
                "PAYLINKS_GATEWAY": "stripe",
                "PAYLINKS_STRIPE_SECRET_KEY": SECRET_KEY,
                "PAYLINKS_STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
                "PAYLINKS_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "PAYLINKS_STRIPE_API_BASE": localstripe.api_base,
                "PAYLINKS_STRIPE_JS_URL": shim.js_url,
            },
            instance_path=str(work / "instance"),
        )
        # The seeded links that ask for phone and address first; the Stripe
        # gateway takes one-time payments only, so the first of those wins.
        with app.app_context():
            links = list(
                db.session.scalars(
                    db.select(PaymentLink)
                    .where(PaymentLink.status == "active")
                    .order_by(
                        PaymentLink.require_phone.desc(),
                        PaymentLink.collect_address.desc(),
                        PaymentLink.id,
                    )
                )
            )
            db.session.expunge_all()
        client = app.test_client()
        step = None
        for link in links:
            answer = client.post(f"/pay/{link.slug}", data=submission(client, link))
            if answer.status_code == 303 and "/confirm/" in answer.headers["Location"]:
                step = urlsplit(answer.headers["Location"]).path
                break
        if step is None:
            print("No seeded link led to the payment step.", file=sys.stderr)
            return 1
        with live_server(app) as server:
            url = server.url + step
            print(f"Lighthouse on {url}")
            subprocess.run(
                [
                    str(lighthouse),
                    url,
                    "--quiet",
                    "--output=json",
                    f"--output-path={out}",
                    f"--chrome-flags={CHROME_FLAGS}",
                    "--only-categories=performance,accessibility,best-practices",
                ],
                check=True,
                env={
                    **os.environ,
                    "CHROME_PATH": os.environ.get("CHROME_PATH", "/usr/bin/chromium"),
                },
            )
            origin = server.url
    report = json.loads(out.read_text())
    form_factor = report["configSettings"]["formFactor"]
    print(f"Lighthouse {report['lighthouseVersion']}, {form_factor}")
    for category in report["categories"].values():
        print(f"  {category['title']:<16} {round(category['score'] * 100)}")
    for key in METRICS:
        audit = report["audits"][key]
        print(f"  {audit['title']:<26} {audit['displayValue']}")
    own = [
        item
        for item in report["audits"]["network-requests"]["details"]["items"]
        if item["url"].startswith(origin)
    ]
    total = sum(item.get("resourceSize", 0) for item in own)
    print(f"  Own bytes (uncompressed)   {total:,} B in {len(own)} requests")
    for item in own:
        path = urlsplit(item["url"]).path[:60]
        print(f"    {item.get('resourceSize', 0):>7,} B  {path}")
    for key, audit in report["audits"].items():
        if (
            audit.get("score") is not None
            and audit["score"] < 1
            and audit.get("scoreDisplayMode") in ("binary", "numeric", "metricSavings")
        ):
            print(f"  below 1: {key} ({audit['score']})")
    print(f"Report: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
