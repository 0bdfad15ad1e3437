#!/usr/bin/env bash
# Lighthouse (mobile, the default) on the demo's checkout page, served by gunicorn.
#
#   benchmarks/lighthouse.sh            # needs `npm install lighthouse` in $LIGHTHOUSE_DIR
#
# Seeds the example CRM into a throw-away SQLite file, serves it with gunicorn,
# runs Lighthouse against the seeded checkout that asks for phone, address and
# a coupon, and prints the scores of performance, accessibility and best
# practices with the core metrics. The JSON report is left in $OUT.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
LIGHTHOUSE_DIR="${LIGHTHOUSE_DIR:-/tmp/lh}"
PORT="${PORT:-5097}"
WORK="$(mktemp -d)"
OUT="${OUT:-$WORK/lighthouse.json}"

if [ ! -x "$LIGHTHOUSE_DIR/node_modules/.bin/lighthouse" ]; then
  echo "Lighthouse is not installed: mkdir -p $LIGHTHOUSE_DIR && cd $LIGHTHOUSE_DIR && npm install lighthouse" >&2
  exit 2
fi

export DATABASE_URL="sqlite:///$WORK/demo.db"
cd "$ROOT"
"$VENV/bin/flask" --app example_app seed --customers 50 >/dev/null
SLUG="$("$VENV/bin/python" - <<'EOF'
from example_app import create_app
from example_app.extensions import db
from flask_paylinks.db.models import PaymentLink

app = create_app()
with app.app_context():
    link = db.session.scalars(
        db.select(PaymentLink)
        .where(PaymentLink.require_phone.is_(True), PaymentLink.collect_address.is_(True))
        .order_by(PaymentLink.id)
    ).first()
    print(link.slug)
EOF
)"

"$VENV/bin/gunicorn" --workers 2 --bind "127.0.0.1:$PORT" "example_app:create_app()" \
  >"$WORK/gunicorn.log" 2>&1 &
GUNICORN=$!
trap 'kill "$GUNICORN" 2>/dev/null; wait "$GUNICORN" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  curl -fs -o /dev/null "http://127.0.0.1:$PORT/pay/$SLUG" && break
  sleep 0.2
done

URL="http://127.0.0.1:$PORT/pay/$SLUG"
echo "Lighthouse on $URL"
CHROME_PATH="${CHROME_PATH:-/usr/bin/chromium}" "$LIGHTHOUSE_DIR/node_modules/.bin/lighthouse" "$URL" \
  --quiet --output=json --output-path="$OUT" \
  --chrome-flags="--headless=new --no-sandbox --disable-gpu --disable-background-networking --disable-component-update --disable-sync --no-first-run" \
  --only-categories=performance,accessibility,best-practices

"$VENV/bin/python" - "$OUT" <<'EOF'
import json
import sys

report = json.load(open(sys.argv[1]))
print(f"Lighthouse {report['lighthouseVersion']}, {report['configSettings']['formFactor']}")
for key, category in report["categories"].items():
    print(f"  {category['title']:<16} {round(category['score'] * 100)}")
for key in (
    "first-contentful-paint",
    "largest-contentful-paint",
    "total-blocking-time",
    "cumulative-layout-shift",
    "speed-index",
):
    audit = report["audits"][key]
    print(f"  {audit['title']:<26} {audit['displayValue']}")
print(f"Report: {sys.argv[1]}")
EOF
