"""Contacts: the list, a contact's record page, and segments (tags)."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from . import crm
from .forms import ContactForm, focus_first_error
from .models import Customer

blueprint = Blueprint("contacts", __name__)


@blueprint.before_request
@login_required
def _require_login() -> None:
    """Every page here is for a logged-in user of the account."""


def _account_id() -> int:
    return int(current_user.account_id)


@blueprint.get("/")
def home() -> Response:
    """The CRM opens on the contacts list."""
    return redirect(url_for("contacts.index"))


@blueprint.get("/contacts/")
def index() -> str:
    """The account's contacts: search, filter by tag, one page at a time."""
    account_id = _account_id()
    text = request.args.get("q", "").strip()[:200]
    tag_id = request.args.get("tag", type=int)
    tag = crm.get_tag_or_404(account_id, tag_id) if tag_id else None
    page = crm.search_customers(
        account_id, text=text, tag=tag, page=request.args.get("page", 1, type=int)
    )
    return render_template(
        "contacts/index.html",
        page=page,
        text=text,
        tag=tag,
        tags=crm.account_tags(account_id),
        total=crm.count_customers(account_id),
    )


def _contact_form(customer: Customer) -> ContactForm:
    form = ContactForm(obj=customer if request.method == "GET" else None)
    form.tags.choices = [(t.id, t.name) for t in crm.account_tags(customer.account_id)]
    if request.method == "GET":
        form.tags.data = [t.id for t in customer.tags]
        form.country.data = customer.country or ""
    return form


@blueprint.route("/contacts/<int:contact_id>", methods=["GET", "POST"])
def show(contact_id: int) -> Response | str | tuple[str, int]:
    """A contact's record: details, payments, and the form that edits them."""
    customer = crm.get_customer_or_404(_account_id(), contact_id)
    form = _contact_form(customer)
    if form.validate_on_submit():
        crm.update_customer(customer, form.data)
        flash(f"Saved {customer.full_name}.", "success")
        return redirect(url_for("contacts.show", contact_id=customer.id))
    focus_first_error(form)
    page = render_template(
        "contacts/show.html",
        customer=customer,
        form=form,
        payments=crm.customer_payments(customer.account_id, customer.id),
        sms_refusal=crm.sms_refusal(customer),
    )
    return (page, 422) if request.method == "POST" else page


@blueprint.get("/segments")
def segments() -> str:
    """The account's tags with their member counts, as the extension sees them.

    The counts come from the mounted extension's contact directory, so this
    page shows exactly the segments a bulk send can pick.
    """
    directory = current_app.extensions["paylinks"].contacts
    account_id = _account_id()
    return render_template(
        "segments.html",
        segments=directory.segments(str(account_id)),
        total=crm.count_customers(account_id),
    )
