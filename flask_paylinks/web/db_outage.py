"""A readable 503 instead of a bare 500 when the database is away.

When PostgreSQL restarts, a pooled connection is dropped mid-request, or the
pool times out, the checkout and the dashboard answer 503 with a
``Retry-After`` header and a page (or JSON) that says truthfully what
happened to the customer's money:

* this request committed a successful payment (:func:`note_charged` was
  called right after that commit): "Your payment went through (reference
  PL-...)", with a link to the receipt, built from values kept before the
  failure, so nothing is read from the database;
* the commit of the success itself failed, so it may or may not have
  happened: "We could not confirm your payment", the reference and the
  receipt link, and no claim either way;
* the receipt page could not be read: its reference (from the signed URL)
  and "reload in a moment", without claiming either way;
* otherwise: "You have not been charged; please try again in a moment."

The session is rolled back (its dead connection given up) so the next
request starts clean.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from flask import (
    Blueprint,
    Response,
    current_app,
    has_request_context,
    jsonify,
    render_template,
    request,
    url_for,
)
from flask.sansio.blueprints import BlueprintSetupState
from markupsafe import escape
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    PendingRollbackError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from flask_paylinks.db.session import reset_session
from flask_paylinks.payments import watch_charges
from flask_paylinks.state import paylinks_state

log = logging.getLogger(__name__)

#: Seconds a client is asked to wait before trying again.
RETRY_AFTER_SECONDS = 5

NOT_CHARGED = (
    "We could not reach our system just now. You have not been charged; "
    "please try again in a moment."
)
RECEIPT_UNREADABLE = (
    "We could not reach our system just now, so your receipt (reference "
    "{reference}) cannot be shown yet. Reload this page in a moment."
)
WENT_THROUGH = (
    "Your payment went through (reference {reference}). "
    "Your receipt will show in a moment."
)
IN_DOUBT = (
    "We could not confirm your payment just now (reference {reference}). "
    "Open your receipt in a moment to see whether it went through before "
    "paying again."
)
DASHBOARD_MESSAGE = (
    "We could not reach the database just now. Try again in a moment. If you "
    "were saving something, check whether it was saved before saving it again."
)

#: What a database that is away raises. Other DBAPI errors count only when
#: SQLAlchemy found the connection dead (``connection_invalidated``).
#: ``PendingRollbackError`` is what the next query raises after an earlier
#: failure in the same request was caught (a guarded signal receiver, a
#: guarded job), most often the same dropped connection.
HANDLED = (DBAPIError, DisconnectionError, PoolTimeout, PendingRollbackError)
_OUTAGES = (
    OperationalError,
    InterfaceError,
    DisconnectionError,
    PoolTimeout,
    PendingRollbackError,
)
_CHARGED_KEY = "flask_paylinks.charged_reference"
_CHARGING_KEY = "flask_paylinks.charging_reference"


def is_outage(error: BaseException) -> bool:
    """Whether *error* (or what caused it) means the database could not be used."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, _OUTAGES):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def note_charged(reference: str) -> None:
    """Record that this request has committed the successful payment *reference*.

    Called right after that commit, before anything else reads the
    database, so a failure later in the request tells the customer the
    truth. Outside a request (a webhook job, the CLI) it does nothing.
    """
    if has_request_context():
        request.environ[_CHARGED_KEY] = reference


def note_charging(reference: str) -> None:
    """Record that this request is about to commit the success of *reference*.

    Should that commit fail, nobody can tell here whether the server
    committed it: the 503 then says so instead of "not charged".
    """
    if has_request_context():
        request.environ[_CHARGING_KEY] = reference


def _note_charge(reference: str, committed: bool) -> None:
    (note_charged if committed else note_charging)(reference)


# Payments tells us around every commit of a success; we keep it per request.
watch_charges(_note_charge)


def charging_reference() -> str | None:
    """The reference whose success this request began to commit, or ``None``."""
    if not has_request_context():
        return None
    found: str | None = request.environ.get(_CHARGING_KEY)
    return found


def charged_reference() -> str | None:
    """The reference of the payment this request charged, or ``None``."""
    if not has_request_context():
        return None
    found: str | None = request.environ.get(_CHARGED_KEY)
    return found


@dataclass(frozen=True, slots=True)
class Outage:
    """What the 503 says: the message, and the receipt when the customer paid."""

    message: str
    #: ``None`` when it cannot be known here (the commit of the charge
    #: failed; the receipt page of an earlier payment).
    charged: bool | None
    reference: str | None = None
    receipt_url: str | None = None
    retry_url: str | None = None


Render = Callable[["Outage"], str]


def register(blueprint: Blueprint, render: Render) -> None:
    """Answer database outages in *blueprint*'s requests with ``render(outage)``.

    Also closes the session at the end of every app context in a way that
    cannot raise (see :func:`close_session`).
    """
    for error_class in HANDLED:
        blueprint.register_error_handler(error_class, _handler(render))
    blueprint.record_once(_on_register)


def _on_register(state: BlueprintSetupState) -> None:
    if close_session not in state.app.teardown_appcontext_funcs:
        state.app.teardown_appcontext(close_session)


def close_session(error: BaseException | None = None) -> None:
    """Close the session; a connection that died meanwhile is dropped, not raised.

    Flask-SQLAlchemy closes the session when the app context ends, which
    rolls back on the connection. When the server went away after the
    answer was made (a receipt redirect already decided), that rollback
    raises and turns the answer into a bare 500. This runs first (teardown
    functions run last-registered first, and the host initialises ``db``
    before PayLinks) and leaves Flask-SQLAlchemy nothing to close.
    """
    state = current_app.extensions.get("paylinks")
    if state is None:
        return
    scoped = state.db.session
    try:
        scoped.remove()
    except Exception:
        log.warning("closing the session failed; its connection is dropped")
        try:
            scoped.registry().invalidate()
        except Exception:
            log.debug("invalidating the session failed", exc_info=True)
        scoped.registry.clear()


def _handler(render: Render) -> Callable[[Exception], Response]:
    def handle(error: Exception) -> Response:
        if not is_outage(error):
            raise error  # not an outage: the app's usual 500 handling
        return respond(error, render)

    return handle


def respond(error: BaseException, render: Render) -> Response:
    """The 503 for *error*: JSON for a JSON client, else ``render(outage)``'s page."""
    log.warning(
        "database unavailable during %s %s: %s",
        request.method,
        request.path,
        error.__class__.__name__,
        exc_info=error,
    )
    reset_session()
    outage = describe()
    if request.is_json or request.accept_mimetypes.best == "application/json":
        body = {
            "error": outage.message,
            "status": 503,
            "charged": outage.charged,
            "reference": outage.reference,
            "receipt_url": outage.receipt_url,
        }
        response = jsonify(body)
    else:
        try:
            html = render(outage)
        except Exception:  # a host layout that needs the database itself
            log.exception("the outage page could not be rendered; plain page sent")
            html = plain_page(outage)
        response = Response(html, mimetype="text/html")
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


def describe() -> Outage:
    """What is true for this request's customer (no database needed)."""
    slug = _view_arg("slug")
    reference = charged_reference()
    if reference is not None and slug:
        return Outage(
            message=WENT_THROUGH.format(reference=reference),
            charged=True,
            reference=reference,
            receipt_url=receipt_link(slug, reference),
        )
    in_doubt = charging_reference()
    if in_doubt is not None and slug:
        return Outage(
            message=IN_DOUBT.format(reference=in_doubt),
            charged=None,
            reference=in_doubt,
            receipt_url=receipt_link(slug, in_doubt),
        )
    if request.endpoint == "paylinks_checkout.receipt" and slug:
        shown = receipt_reference(_view_arg("token") or "")
        if shown is not None:
            return Outage(
                message=RECEIPT_UNREADABLE.format(reference=shown),
                charged=None,
                reference=shown,
                receipt_url=request.path,
            )
    retry = None
    if request.blueprint == "paylinks_checkout" and slug:
        retry = url_for("paylinks_checkout.show", slug=slug)
    message = NOT_CHARGED if request.blueprint == "paylinks_checkout" else ""
    return Outage(message=message or DASHBOARD_MESSAGE, charged=False, retry_url=retry)


def receipt_link(slug: str, reference: str) -> str:
    """The receipt URL of *reference* on the link *slug*: signed, no database."""
    from flask_paylinks.web.checkout.receipt_links import receipt_url_for

    return receipt_url_for(slug, reference)


def receipt_reference(token: str) -> str | None:
    """The reference a receipt URL's signed token carries, or ``None``."""
    from flask_paylinks.web.checkout.receipt_links import reference_of

    return reference_of(token)


def _view_arg(name: str) -> str | None:
    value = (request.view_args or {}).get(name)
    return value if isinstance(value, str) else None


def plain_page(outage: Outage) -> str:
    """A page that needs no template, for when the layout itself fails."""
    link = ""
    if outage.receipt_url:
        link = f'<p><a href="{escape(outage.receipt_url)}">See your receipt</a></p>'
    elif outage.retry_url:
        link = f'<p><a href="{escape(outage.retry_url)}">Try again</a></p>'
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Temporarily unavailable</title></head><body><main>"
        f"<h1>Temporarily unavailable</h1><p>{escape(outage.message)}</p>{link}"
        "</main></body></html>"
    )


def render_checkout(outage: Outage) -> str:
    """The checkout's 503 page, in the default branding (no database)."""
    from flask_paylinks.db.models import PaymentLink
    from flask_paylinks.web.rendering.branding import branding

    gateway = paylinks_state().gateway
    return render_template(
        "paylinks/checkout/unavailable_db.html",
        outage=outage,
        brand=branding(PaymentLink()),
        test_mode=bool(getattr(gateway, "test_mode", False)),
        preview=False,
    )


def render_dashboard(outage: Outage) -> str:
    """The dashboard's 503 page, inside the host layout."""
    return render_template("paylinks/dashboard/unavailable_db.html", outage=outage)
