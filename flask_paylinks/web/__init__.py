"""The web layer: blueprints, pages, request guards and headers.

Only this package reads the request, builds URLs or flashes messages; the
services below it take plain values and raise typed errors.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask

from flask_paylinks.state import paylinks_state

#: The package folder that holds ``templates/`` and ``static/``.
PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


def init_app(app: Flask) -> None:
    """Register the blueprints, template helpers and request hooks on *app*."""
    from flask_paylinks.core.rules import ascii_url
    from flask_paylinks.web import guards, ratelimit, webhooks
    from flask_paylinks.web.checkout import blueprint as checkout_blueprint
    from flask_paylinks.web.dashboard import blueprint as dashboard_blueprint
    from flask_paylinks.web.rendering.page_cache import PageCache
    from flask_paylinks.web.request_scope import start_request
    from flask_paylinks.web.templating import register_template_helpers

    config = app.config
    paylinks_state(app).page_cache = PageCache()
    assets = Blueprint(
        "paylinks_assets",
        "flask_paylinks",
        root_path=PACKAGE_ROOT,
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
        url_prefix=config["PAYLINKS_CHECKOUT_PREFIX"],
    )
    app.register_blueprint(assets)
    app.register_blueprint(
        dashboard_blueprint, url_prefix=config["PAYLINKS_DASHBOARD_PREFIX"]
    )
    app.register_blueprint(
        checkout_blueprint, url_prefix=config["PAYLINKS_CHECKOUT_PREFIX"]
    )
    webhooks.init_app(app)  # Vonage callbacks under PAYLINKS_WEBHOOK_PREFIX
    register_template_helpers(app)
    app.add_template_filter(ascii_url, "paylinks_ascii_url")
    app.before_request(start_request)
    ratelimit.init_app(app)
    guards.init_app(app)  # size cap, NUL/UTF-8 checks and 413 pages
