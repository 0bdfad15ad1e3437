"""The merchant dashboard: thin views over the services, inside the host layout."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("paylinks", __name__)


@blueprint.before_request
def _require_owner() -> None:
    """Every dashboard page acts for a logged-in merchant; others get the login flow."""
    from ..scoping import current_owner

    current_owner()


@blueprint.app_template_global("paylinks_form_problems")
def _form_problems(form: object) -> list[tuple[str | None, str]]:
    """The errors of a form for its summary box (a global: macros see it)."""
    from .helpers import form_problems

    return form_problems(form)


from . import coupon_views, product_views, views  # noqa: E402, F401  (routes)
