"""The URLs of the extension's records: built here, in the web layer, only.

Services return links and assets; the checkout, the dashboard, the CLI and
the example app ask this module where customers find them.
"""

from __future__ import annotations

from flask import url_for

from flask_paylinks.db.models import Asset, PaymentLink


def public_url(link: PaymentLink) -> str:
    """The full checkout URL customers open."""
    return url_for("paylinks_checkout.show", slug=link.slug, _external=True)


def asset_url(asset: Asset) -> str:
    """The path the checkout serves an uploaded file at (public, by token)."""
    return url_for("paylinks_checkout.asset", token=asset.token)
