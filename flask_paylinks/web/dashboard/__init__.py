"""The merchant dashboard: thin views over the services, inside the host layout."""

from __future__ import annotations

from flask import Blueprint, current_app
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import NotFound as HTTPNotFound

from flask_paylinks.core.errors import NotFound
from flask_paylinks.web import db_outage
from flask_paylinks.web.dashboard.security import add_dashboard_headers

blueprint = Blueprint("paylinks", __name__)
blueprint.after_request(add_dashboard_headers)
# A database that is away: a 503 in the host layout, not a bare 500.
db_outage.register(blueprint, db_outage.render_dashboard)


@blueprint.errorhandler(NotFound)
def _not_found(error: NotFound) -> ResponseReturnValue:
    """A record that is missing or another merchant's: the same 404 as any other.

    Services raise :class:`~flask_paylinks.core.errors.NotFound`; the answer
    is whatever the host's 404 handler (or Flask's) gives, never which it was.
    """
    return current_app.handle_http_exception(HTTPNotFound())


@blueprint.before_request
def _require_owner() -> None:
    """Every dashboard page acts for a logged-in merchant; others get the login flow."""
    from flask_paylinks.db.scoping import current_owner

    current_owner()


@blueprint.app_template_global("paylinks_form_problems")
def _form_problems(form: object) -> list[tuple[str | None, str]]:
    """The errors of a form for its summary box (a global: macros see it)."""
    from flask_paylinks.web.dashboard.helpers import form_problems

    return form_problems(form)


@blueprint.app_template_global("paylinks_notices")
def _notices() -> list[str]:
    """The dashboard's flashed messages, unless the host layout showed them already.

    A host layout that shows flashed messages (before its content block) has
    read them by the time the dashboard's part of the page renders; showing
    them again would say everything twice.
    """
    from flask import get_flashed_messages
    from flask.globals import request_ctx

    from flask_paylinks.web.dashboard.helpers import FLASH

    if request_ctx.flashes is not None:
        return []
    return list(get_flashed_messages(category_filter=[FLASH]))  # type: ignore[arg-type]


from flask_paylinks.web.dashboard import (  # noqa: E402, F401  (routes)
    coupon_views,
    payment_views,
    product_views,
    sends,
    settings,
    text_to_pay,
    views,
)
