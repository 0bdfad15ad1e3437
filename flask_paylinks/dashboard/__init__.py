"""The merchant dashboard: thin views over the services, inside the host layout."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("paylinks", __name__)


@blueprint.before_request
def _require_owner() -> None:
    """Every dashboard page acts for a logged-in merchant; others get the login flow."""
    from ..scoping import current_owner

    current_owner()


from . import views  # noqa: E402, F401  (registers the routes)
