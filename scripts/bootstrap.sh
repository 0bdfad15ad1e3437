#!/usr/bin/env bash
# Set up a fresh machine for the demo or the tests.
#   scripts/bootstrap.sh          the Python environment (.venv) only
#   scripts/bootstrap.sh --test   also PostgreSQL, Redis and Chromium, which the tests start
set -euo pipefail
cd "$(dirname "$0")/.."

want_services=false
[ "${1:-}" = "--test" ] && want_services=true

if $want_services; then
    missing=()
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
    command -v redis-server >/dev/null || missing+=(redis-server)
    command -v chromium >/dev/null || missing+=(chromium)
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
            echo "Installing ${missing[*]} with apt-get"
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" fonts-dejavu-core >/dev/null
        else
            echo "The tests need these system packages: ${missing[*]}" >&2
            echo "Install them (Debian: sudo apt-get install ${missing[*]}) and run again." >&2
            exit 1
        fi
    fi
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
stamp=.venv/.paylinks-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[dev]'
    touch "$stamp"
fi
