"""Small things every dashboard view uses: forms, redirects, flashes."""

from __future__ import annotations

from typing import IO, Any
from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, request, url_for
from flask_wtf import FlaskForm
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from flask_paylinks.state import paylinks_state

#: Flash category of the dashboard's messages; its layout shows only these.
FLASH = "paylinks"
#: HTTP status of a form shown again because of what was typed.
UNPROCESSABLE = 422


class ActionForm(FlaskForm):  # type: ignore[misc]
    """A button that changes something (deactivate, archive, delete): CSRF only."""


def form_class(name: str, default: type[Any]) -> type[Any]:
    """The form class the host put in place of *name*, else *default*."""
    return paylinks_state().form_class(name, default)


def require_action() -> None:
    """Refuse a state-changing POST without a valid CSRF token (400)."""
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400, "The form expired. Go back, reload the page and try again.")


def safe_next(default: str) -> str:
    """The ``next`` field when it is a path on this site, else *default*."""
    target = request.form.get("next") or request.args.get("next") or ""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def back(default_endpoint: str, **values: Any) -> Response:
    """Redirect to ``next`` when it is safe, else to *default_endpoint*."""
    return redirect(safe_next(url_for(default_endpoint, **values)))


def notice(message: str) -> None:
    """Tell the merchant what just happened, on the next page."""
    flash(message, FLASH)


def uploaded(file: Any) -> FileStorage | None:
    """The uploaded file of a file field, or ``None`` when nothing was chosen."""
    if isinstance(file, FileStorage) and file.filename:
        return file
    return None


def uploaded_stream(file: Any) -> IO[bytes] | None:
    """The contents of a file field's upload, or ``None`` when nothing was chosen."""
    chosen = uploaded(file)
    return chosen.stream if chosen is not None else None


def page_number() -> int:
    """The ``page`` query argument, at least 1."""
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


def paging() -> dict[str, int]:
    """The numbered page asked for, and the configured page size."""
    return {
        "page": page_number(),
        "per_page": current_app.config["PAYLINKS_PAGE_SIZE"],
    }


def form_problems(form: Any) -> list[tuple[str | None, str]]:
    """Every error of *form* as (id of the field to jump to, message), in order."""
    from flask_paylinks.web.dashboard.forms import walk_fields

    problems: list[tuple[str | None, str]] = []
    for field in walk_fields(form):
        if not field.errors:
            continue
        if field.name == "csrf_token":
            problems.append((None, "The form expired. Submit it again."))
            continue
        label = field.label.text if field.label and field.label.text else ""
        for message in field.errors:
            if isinstance(message, str):
                text = f"{label}: {message}" if label else message
                problems.append((field.id, text))
    problems.extend((None, str(message)) for message in form.form_errors)
    return problems
