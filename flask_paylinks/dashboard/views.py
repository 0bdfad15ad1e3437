"""Dashboard pages."""

from __future__ import annotations

from flask import abort, render_template

from .. import links as link_service
from ..scoping import current_owner
from . import blueprint


@blueprint.get("/")
def index() -> str:
    """The payment links table."""
    rows = link_service.list_links(current_owner())
    return render_template("paylinks/dashboard/links.html", links=rows)


@blueprint.get("/links/<int:link_id>")
def link_detail(link_id: int) -> str:
    """One link: its URL, settings and payments."""
    link = link_service.get_link(current_owner(), link_id)
    if link is None:
        abort(404)
    return render_template("paylinks/dashboard/link_detail.html", link=link)
