"""Checkout pages."""

from __future__ import annotations

from flask import abort, render_template

from .. import links as link_service
from . import blueprint


@blueprint.get("/<slug>")
def show(slug: str) -> tuple[str, int] | str:
    """The checkout page of one link; 410 once the link stops taking payments."""
    link = link_service.find_by_slug(slug)
    if link is None:
        abort(404)
    if not link.is_active:
        return render_template("paylinks/checkout/unavailable.html", link=link), 410
    return render_template("paylinks/checkout/page.html", link=link)
