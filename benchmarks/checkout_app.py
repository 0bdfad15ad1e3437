"""The app the checkout benchmark serves: the example CRM plus one bare route.

``/bench/bare`` returns two bytes from the same Flask app, with the same
extensions and hooks, so the two figures differ only by what the checkout
page itself costs.
"""

from __future__ import annotations

import os

from flask import Flask

import example_app


def create_app() -> Flask:
    """The example CRM (settings from the environment) with ``/bench/bare``.

    ``BENCH_CHECKOUT_CACHE_SECONDS`` overrides the page cache (0: off).
    """
    app = example_app.create_app()
    cache = os.environ.get("BENCH_CHECKOUT_CACHE_SECONDS")
    if cache is not None:
        app.config["PAYLINKS_CHECKOUT_CACHE_SECONDS"] = float(cache)

    @app.get("/bench/bare")
    def bare() -> str:
        return "ok"

    return app
