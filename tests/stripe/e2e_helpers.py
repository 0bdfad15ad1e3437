"""What the Stripe browser tests share: the live app, its webhooks on localstripe."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import requests
from flask import Flask

from ..browser import LiveServer, live_server
from .conftest import WEBHOOK_SECRET
from .localstripe import LocalStripe

WEBHOOK_PATH = "/paylinks/webhooks/stripe"

#: The one registration these tests make (localstripe keeps it across
#: clears; registering again under this id replaces the last test's).
WEBHOOK_ID = "paylinks-browser"


@contextlib.contextmanager
def served_with_webhooks(
    app: Flask, localstripe: LocalStripe, events: Sequence[str]
) -> Iterator[LiveServer]:
    """*app* served live, localstripe delivering its own signed *events* to it.

    An empty *events* makes localstripe send nothing here: the test signs
    and posts each event itself, in the order it wants.
    """
    with live_server(app) as running:
        requests.post(
            f"{localstripe.url}/_config/webhooks/{WEBHOOK_ID}",
            json={
                "url": running.url + WEBHOOK_PATH,
                "secret": WEBHOOK_SECRET,
                "events": list(events),
            },
            timeout=10,
        ).raise_for_status()
        yield running
