"""The public checkout: branded pages customers pay on, no login."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("paylinks_checkout", __name__)

from . import views  # noqa: E402, F401  (registers the routes)
