"""Dashboard pages of Text-to-Pay: the request form and a request's page.

The form works without JavaScript (a few empty item rows, and an "Add
another item" button that brings the page back with one more);
``static/paylinks/text-to-pay.js`` opens it in a ``<dialog>`` on the host's
contact and conversation pages, fetching it with ``?partial=1`` (the form
alone, no layout) and posting it with ``fetch``: a success then answers JSON
instead of a redirect.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from flask import current_app, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import FieldList, Form, FormField, SelectField, StringField, TextAreaField
from wtforms.validators import Optional
from wtforms.widgets import HiddenInput

from flask_paylinks.contacts import Contact
from flask_paylinks.core.errors import Conflict, InvalidInput
from flask_paylinks.core.money import Money, is_currency
from flask_paylinks.db.models import PaymentLink
from flask_paylinks.db.scoping import current_owner
from flask_paylinks.merchants import merchant_profile
from flask_paylinks.sends.compose import personal_url
from flask_paylinks.state import paylinks_state
from flask_paylinks.text_to_pay import service as text_to_pay
from flask_paylinks.text_to_pay.presenters import badge, sms_preview
from flask_paylinks.web.dashboard import blueprint
from flask_paylinks.web.dashboard.forms import (
    DayField,
    currency_choices,
    mark_errors,
    options,
    read_amount,
)
from flask_paylinks.web.dashboard.helpers import (
    UNPROCESSABLE,
    ActionForm,
    form_class,
    notice,
    require_action,
    safe_next,
)
from flask_paylinks.web.urls import public_url

#: Empty item rows the form shows without JavaScript.
EMPTY_ROWS = 2


class RequestItemForm(Form):  # type: ignore[misc]
    """One line of a request: what it is for, and its amount."""

    name = StringField("Item")
    amount = StringField("Amount")


class RequestForm(FlaskForm):  # type: ignore[misc]
    """A Text-to-Pay request: items, currency, an optional expiry and note."""

    contact = StringField(widget=HiddenInput())
    items = FieldList(FormField(RequestItemForm), min_entries=1, max_entries=60)
    currency = SelectField("Currency", description="Every item is in this currency.")
    expires_on = DayField(
        "Expires on",
        validators=[Optional()],
        description="Optional. It can be paid until the end of this day.",
    )
    note = TextAreaField(
        "Note",
        description="Optional. Added to the text message and shown at checkout.",
    )
    next = StringField(widget=HiddenInput())
    #: One value per form page: the same request sent twice texts once.
    attempt = StringField(widget=HiddenInput())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.attempt.data:
            self.attempt.data = secrets.token_urlsafe(16)
        self.currency.choices = options(*currency_choices())
        if not self.currency.data or not is_currency(self.currency.data):
            self.currency.data = current_app.config["PAYLINKS_DEFAULT_CURRENCY"]

    def pad(self) -> None:
        """Make sure the form ends with :data:`EMPTY_ROWS` empty rows."""
        blank = sum(1 for _ in _trailing_blanks(self))
        for _ in range(max(0, EMPTY_ROWS - blank)):
            if len(self.items.entries) >= self.items.max_entries:
                break
            self.items.append_entry()

    def filled(self) -> list[tuple[int, str, str]]:
        """The rows with anything typed: (position on the form, name, amount)."""
        rows = []
        for position, entry in enumerate(self.items.entries):
            name = (entry.form.name.data or "").strip()
            amount = (entry.form.amount.data or "").strip()
            if name or amount:
                rows.append((position, name, amount))
        return rows

    def read_items(self) -> tuple[list[tuple[str, int]], list[int], dict[str, str]]:
        """The typed items for the service, where each sits on the form, and
        the amounts that are not amounts (keyed by field name)."""
        items: list[tuple[str, int]] = []
        where: list[int] = []
        errors: dict[str, str] = {}
        for position, name, text in self.filled():
            field = f"items-{position}-amount"
            try:
                amount = read_amount(text, self.currency.data)
            except ValueError as error:
                errors[field] = str(error)
                continue
            if amount is None:
                errors[field] = "Enter an amount such as 35.00"
                continue
            items.append((name, amount))
            where.append(position)
        return items, where, errors


def _trailing_blanks(form: RequestForm) -> list[int]:
    blanks = []
    for position in range(len(form.items.entries) - 1, -1, -1):
        entry = form.items.entries[position].form
        if (entry.name.data or "").strip() or (entry.amount.data or "").strip():
            break
        blanks.append(position)
    return blanks


def _on_form(errors: dict[str, str], where: Sequence[int]) -> dict[str, str]:
    """The service's errors with each item's key moved to its row on the form."""
    moved: dict[str, str] = {}
    for key, message in errors.items():
        parts = key.split("-", 2)
        if parts[0] == "items" and len(parts) == 3 and parts[1].isdigit():
            index = int(parts[1])
            if index < len(where):
                key = f"items-{where[index]}-{parts[2]}"
        moved[key] = message
    return moved


def _partial() -> bool:
    return request.args.get("partial") == "1" or request.form.get("partial") == "1"


def _base_url() -> str:
    """Where customers reach this app: ``PAYLINKS_PUBLIC_URL``, else this host."""
    configured: str | None = current_app.config.get("PAYLINKS_PUBLIC_URL")
    return (configured or request.host_url).rstrip("/")


def _example_url() -> str:
    """A URL as long as the personal one the SMS will carry, for the preview."""
    prefix = current_app.config["PAYLINKS_CHECKOUT_PREFIX"]
    return personal_url(_base_url(), prefix, "x" * 22)


def _preview(owner: str, form: RequestForm) -> dict[str, Any]:
    """The live total and the SMS as the contact will read it."""
    items, _, _ = form.read_items()
    currency = form.currency.data
    total = Money(sum(a for _, a in items), currency) if is_currency(currency) else None
    locale = current_app.config["PAYLINKS_LOCALE"]
    return sms_preview(
        merchant_profile(owner).name,
        total,
        (form.note.data or "").strip(),
        link=_example_url(),
        locale=locale,
    )


def _render(
    owner: str, contact: Contact, form: RequestForm, status: int = 200
) -> ResponseReturnValue:
    form.pad()
    template = (
        "paylinks/text_to_pay/_request_form.html"
        if _partial()
        else "paylinks/text_to_pay/request_form.html"
    )
    page = render_template(
        template,
        form=form,
        contact=contact,
        preview=_preview(owner, form),
        refusal=text_to_pay.contact_problem(contact),
        contact_url=_contact_url(contact.id),
        max_items=text_to_pay.MAX_ITEMS,
    )
    return page, status


def _contact_url(contact_id: str) -> str | None:
    hook = paylinks_state().contact_url
    return hook(contact_id) if hook is not None else None


@blueprint.route("/requests/new", methods=["GET", "POST"])
def request_create() -> ResponseReturnValue:
    """The Text-to-Pay form for ``?contact_id=``; sending it texts the contact."""
    owner = current_owner()
    contact_id = request.values.get("contact_id") or request.form.get("contact") or ""
    contact = text_to_pay.find_contact(owner, contact_id)
    form = form_class("text_to_pay", RequestForm)()
    if request.method != "POST":
        form.contact.data = contact.id
        form.next.data = request.args.get("next", "")
        return _render(owner, contact, form)
    if "add_item" in request.form:
        if len(form.items.entries) < text_to_pay.MAX_ITEMS:
            form.items.append_entry()
        return _render(owner, contact, form)
    if not form.validate():
        return _render(owner, contact, form, UNPROCESSABLE)
    items, where, amount_errors = form.read_items()
    if amount_errors:
        mark_errors(form, amount_errors)
        return _render(owner, contact, form, UNPROCESSABLE)
    try:
        link = text_to_pay.request_payment(
            owner,
            contact.id,
            items,
            currency=form.currency.data,
            expires_at=form.expires_on.data,
            note=form.note.data or "",
            base_url=_base_url(),
            idempotency_key=(form.attempt.data or "")[:64] or None,
        )
    except InvalidInput as error:
        mark_errors(form, _on_form(error.errors, where))
        return _render(owner, contact, form, UNPROCESSABLE)
    detail = url_for(".request_detail", link_id=link.id)
    done = f"Texted {contact.name or 'the contact'} a request for " + (
        text_to_pay.request_total(link).format(current_app.config["PAYLINKS_LOCALE"])
    )
    if _partial():
        return jsonify({"ok": True, "url": detail, "message": done}), 201
    notice(done + ".")
    return redirect(safe_next(detail), code=303)


@blueprint.post("/requests/preview")
def request_preview() -> ResponseReturnValue:
    """The form's live total and SMS preview, as JSON, for the page script."""
    owner = current_owner()
    form = form_class("text_to_pay", RequestForm)(meta={"csrf": False})
    return jsonify(_preview(owner, form))


@blueprint.get("/requests/<int:link_id>")
def request_detail(link_id: int) -> str:
    """A request: its status, items, total, the SMS sent, and what happened."""
    owner = current_owner()
    link = text_to_pay.get_request(owner, link_id)
    status = text_to_pay.request_status(link)
    contact = paylinks_state().contacts.get(owner, link.contact_id or "")
    return render_template(
        "paylinks/text_to_pay/request_detail.html",
        link=link,
        status=status,
        total=text_to_pay.request_total(link),
        contact=contact,
        contact_url=_contact_url(link.contact_id) if link.contact_id else None,
        messages=text_to_pay.messages_sent(link),
        checkout_url=public_url(link),
        action=ActionForm(),
    )


@blueprint.post("/requests/<int:link_id>/cancel")
def request_cancel(link_id: int) -> ResponseReturnValue:
    """Stop a request taking payments."""
    return _act(link_id, text_to_pay.cancel_request, "Cancelled the request.")


@blueprint.post("/requests/<int:link_id>/resend")
def request_resend(link_id: int) -> ResponseReturnValue:
    """Text the request's contact its link again."""
    return _act(
        link_id,
        lambda owner, found: text_to_pay.resend_request(
            owner, found, base_url=_base_url()
        ),
        "Sent the request again.",
    )


def _act(link_id: int, action: Any, done: str) -> ResponseReturnValue:
    owner = current_owner()
    link: PaymentLink = text_to_pay.get_request(owner, link_id)  # 404 before 400
    require_action()
    try:
        action(owner, link.id)
    except Conflict as refused:
        notice(str(refused))
    except InvalidInput as refused:
        notice(" ".join(refused.errors.values()))
    else:
        notice(done)
    return redirect(safe_next(url_for(".request_detail", link_id=link.id)), code=303)


# -- the host's widgets ------------------------------------------------------------


@blueprint.app_template_global("paylinks_request_url")
def request_url(contact_id: object) -> str:
    """The request form for *contact_id*, coming back to this page once sent."""
    back = request.full_path.rstrip("?") if request else ""
    return url_for("paylinks.request_create", contact_id=str(contact_id), next=back)


@blueprint.app_template_global("paylinks_contact_requests")
def contact_requests(contact_id: object) -> list[text_to_pay.RequestSummary]:
    """The current merchant's requests to *contact_id*, newest first."""
    return text_to_pay.requests_for_contact(current_owner(), str(contact_id))


@blueprint.app_template_global("paylinks_request_badge")
def request_badge(state: text_to_pay.RequestState) -> str:
    """The badge style of a request's state."""
    return badge(state)
