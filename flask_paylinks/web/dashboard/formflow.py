"""The one way a dashboard page takes a form: check it, save it, or show why not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from flask import redirect, request
from werkzeug.wrappers import Response

from flask_paylinks.core.errors import InvalidInput
from flask_paylinks.web.dashboard.forms import mark_errors
from flask_paylinks.web.dashboard.helpers import UNPROCESSABLE, notice

RecordT = TypeVar("RecordT")
#: What a view answers: a page, a page with its status, or a redirect.
Answer = str | tuple[str, int] | Response


class FormFlow(Generic[RecordT]):
    """Show *form* with *render*; on POST, save it through a service.

    The form checks what was typed has the right shape (a number, a date);
    the service checks the rules and raises :class:`InvalidInput` keyed by
    the form's field names. Either way the page comes back with the fields
    marked and a 422; a save is flashed and redirected.
    """

    def __init__(self, form: Any, render: Callable[[], str]) -> None:
        self.form = form
        self.render = render

    def run(
        self,
        save: Callable[[], RecordT],
        done: Callable[[RecordT], tuple[str, str]],
    ) -> Answer:
        """GET: the form. POST: *save*, then ``(message, url) = done(record)``."""
        if request.method != "POST":
            return self.render()
        if self.form.validate():
            try:
                record = save()
            except InvalidInput as error:
                mark_errors(self.form, error.errors)
            else:
                message, url = done(record)
                notice(message)
                return redirect(url)
        return self.render(), UNPROCESSABLE
