"""The guard in front of every extension route: size, encoding and NUL bytes.

Before any view (or the host's ``CSRFProtect``) reads a request to the
dashboard or the checkout, :func:`guard_request` caps the body at
``PAYLINKS_MAX_CONTENT_LENGTH`` and refuses, with a readable 400, text that no
page could have sent: NUL and other control characters, invalid UTF-8, and
absurdly long values. A body over the cap gets a readable 413 without being
read. The host's own routes are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

from flask import Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import RequestEntityTooLarge

from flask_paylinks.state import paylinks_state

#: The blueprints whose requests the guard checks.
BLUEPRINTS = ("paylinks", "paylinks_checkout", "paylinks_assets")
#: Longest query-string value: searches, cursors and filters are far shorter.
MAX_ARG_CHARS = 4096
#: Longest form value; the forms' own limits (5,000 for a description) are
#: checked by the forms, which show the field again. This only stops the absurd.
MAX_FIELD_CHARS = 100_000

CONTROL_MESSAGE = (
    "What you sent contains control characters (such as NUL) that cannot be "
    "typed, so it cannot contain them here. Go back, retype the text and try again."
)
ENCODING_MESSAGE = (
    "What you sent is not valid UTF-8 text. Go back, retype the text and try again."
)
LENGTH_MESSAGE = "A value you sent is far too long. Go back, shorten it and try again."


def init_app(app: Flask) -> None:
    """Put the guard in front of the extension's routes and its 413 pages."""
    # First of the app-wide functions, so the size cap is set before anything
    # (the host's CSRFProtect reads request.form) reads the body.
    app.before_request_funcs.setdefault(None, []).insert(0, guard_request)
    for name in BLUEPRINTS:
        # What Blueprint.errorhandler(413) records; the blueprints are shared
        # module objects, already registered, so the app's map is set directly.
        app.error_handler_spec[name][413][RequestEntityTooLarge] = too_large


def body_limit(config: dict[str, Any]) -> int | None:
    """The most bytes an extension request body may have, or ``None``.

    ``PAYLINKS_MAX_CONTENT_LENGTH``, never below what a logo upload needs, and
    never above the host's own ``MAX_CONTENT_LENGTH`` when it sets one.
    """
    ours: int | None = config.get("PAYLINKS_MAX_CONTENT_LENGTH")
    if ours is not None:
        ours = max(ours, config["PAYLINKS_LOGO_MAX_BYTES"] + 64 * 1024)
    host: int | None = config.get("MAX_CONTENT_LENGTH")
    limits = [limit for limit in (ours, host) if limit is not None]
    return min(limits) if limits else None


#: The only fields of the extension's forms that take a file.
FILE_FIELDS = frozenset({"image_file", "logo_file"})
FILE_MESSAGE = "This form takes a file only where it asks for an image or a logo."


def guard_request() -> ResponseReturnValue | None:
    """Cap and check an extension request; a refusal page when it is unfit."""
    if request.blueprint not in BLUEPRINTS:
        return None
    from flask import current_app

    request.max_content_length = body_limit(current_app.config)
    problem = input_problem()
    return refusal(400, problem) if problem else None


def input_problem() -> str | None:
    """What is wrong with the request's path, query and form, or ``None``."""
    try:
        request.query_string.decode("ascii")
        unquote_to_bytes(request.query_string).decode("utf-8")
    except UnicodeDecodeError:
        return ENCODING_MESSAGE
    path_values = [v for v in (request.view_args or {}).values() if isinstance(v, str)]
    problem = _text_problem(path_values, MAX_ARG_CHARS) or _text_problem(
        _pairs(request.args.items(multi=True)), MAX_ARG_CHARS
    )
    if problem or request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return problem
    if request.mimetype == "application/x-www-form-urlencoded":
        raw = request.get_data(cache=True)  # the form is parsed from this copy
        try:
            unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            return ENCODING_MESSAGE
    if request.mimetype == "multipart/form-data" and any(
        name not in FILE_FIELDS for name in request.files
    ):
        # Forms read files and text together: a file where text goes is refused.
        return FILE_MESSAGE
    pairs = _pairs(request.form.items(multi=True))
    if request.mimetype == "multipart/form-data" and any("\ufffd" in v for v in pairs):
        # Werkzeug decodes multipart fields with "replace": U+FFFD marks bad bytes.
        return ENCODING_MESSAGE
    return _text_problem(pairs, MAX_FIELD_CHARS)


def _pairs(items: Iterable[tuple[str | None, str | None]]) -> list[str]:
    # A multipart part may come without a name or a value: there is no text.
    return [text for pair in items for text in pair if isinstance(text, str)]


#: C0 and C1 controls (and DEL) but the typed ones: one regex search per value
#: instead of a Python loop over its characters.
_UNTYPED_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _text_problem(values: Iterable[str], longest: int) -> str | None:
    for value in values:
        if len(value) > longest:
            return LENGTH_MESSAGE
        if _UNTYPED_CONTROL.search(value):
            return CONTROL_MESSAGE
    return None


def too_large(error: RequestEntityTooLarge) -> ResponseReturnValue:
    """A body over the limit: a readable 413 in the page's own layout."""
    from flask import current_app

    limit = body_limit(current_app.config)
    size = f" ({limit // 1024:,} KB at most)" if limit else ""
    return refusal(
        413,
        f"What you sent is too large{size}. If you attached a file, choose a "
        "smaller one; nothing was saved.",
    )


def refusal(status: int, message: str) -> ResponseReturnValue:
    """*message* with *status*: JSON for a JSON client, else the area's own page."""
    title = "Too large" if status == 413 else "This request was refused"
    if request.is_json or request.accept_mimetypes.best == "application/json":
        return jsonify({"error": message, "status": status}), status
    if request.blueprint == "paylinks":
        html = render_template(
            "paylinks/dashboard/refused.html", title=title, message=message
        )
        return html, status
    if request.blueprint == "paylinks_checkout":
        from flask_paylinks.db.models import PaymentLink
        from flask_paylinks.web.rendering.branding import branding

        html = render_template(
            "paylinks/checkout/refused.html",
            title=title,
            message=message,
            brand=branding(PaymentLink()),
            test_mode=bool(getattr(paylinks_state().gateway, "test_mode", False)),
            preview=False,
        )
        return html, status
    return message, status, {"Content-Type": "text/plain; charset=utf-8"}
