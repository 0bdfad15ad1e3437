"""Headless Chromium (Debian's) driven by Playwright, and a live app server.

Playwright's own browser download is never used: the tests launch
``/usr/bin/chromium``. A missing Chromium fails the run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from .services import ServiceUnavailable

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

#: Statuses pages answer on purpose (a declined card, a changed total, a gone
#: link, a re-shown form, a rate limit); Chromium logs each as a console
#: error, which is not a fault here.
EXPECTED_STATUSES = (402, 409, 410, 422, 429)

#: Where screenshots taken by the browser tests go (looked at by people).
SCREENSHOT_DIR = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"


def chromium_path() -> str:
    """Debian's Chromium, or the one ``PAYLINKS_CHROMIUM`` names."""
    path = os.environ.get("PAYLINKS_CHROMIUM") or shutil.which("chromium")
    if not path or not Path(path).exists():
        raise ServiceUnavailable(
            "Chromium is not installed (Debian: apt-get install chromium)"
        )
    return path


@dataclass
class LiveServer:
    """A Flask app served from a thread on a free port."""

    app: Flask
    server: BaseWSGIServer

    @property
    def url(self) -> str:
        """The base URL, without a trailing slash."""
        return f"http://127.0.0.1:{self.server.server_port}"


@contextlib.contextmanager
def live_server(app: Flask) -> Iterator[LiveServer]:
    """Serve *app* (threaded) until the block ends."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(app, server)
    finally:
        server.shutdown()
        thread.join(timeout=10)


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A Playwright Browser on Debian's Chromium."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under ``artifacts/screenshots``."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@contextlib.contextmanager
def watched_page(
    browser: Any, *, width: int = 1280, height: int = 900, **context_options: Any
) -> Iterator[Any]:
    """A page in a fresh context (own cookies) that fails on browser errors.

    Any console error or uncaught script error fails the block, except the
    favicon request and the statuses in :data:`EXPECTED_STATUSES`.
    """
    context = browser.new_context(
        viewport={"width": width, "height": height}, **context_options
    )
    page = context.new_page()
    errors: list[str] = []

    def on_console(message: Any) -> None:
        where = (message.location or {}).get("url", "")
        expected = any(
            f"status of {code}" in message.text for code in EXPECTED_STATUSES
        )
        if (
            message.type == "error"
            and not where.endswith("/favicon.ico")
            and not expected
        ):
            errors.append(f"{message.text} ({where})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"the browser reported errors: {errors}"
