"""A contact's conversation: the SMS and email thread, and a box to text them."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from . import crm
from .forms import MessageForm, focus_first_error

blueprint = Blueprint("conversations", __name__)


@blueprint.before_request
@login_required
def _require_login() -> None:
    """Every page here is for a logged-in user of the account."""


@blueprint.route("/contacts/<int:contact_id>/conversation", methods=["GET", "POST"])
def show(contact_id: int) -> Response | str | tuple[str, int]:
    """The thread, oldest first; posting the form texts the contact."""
    customer = crm.get_customer_or_404(int(current_user.account_id), contact_id)
    form = MessageForm()
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate():
            try:
                crm.send_sms(customer, form.body.data)
            except crm.SmsRefused as refused:
                form.body.errors = [*form.body.errors, str(refused)]
                status = 502 if crm.sms_refusal(customer) is None else 422
            else:
                return redirect(
                    url_for("conversations.show", contact_id=customer.id) + "#latest"
                )
    focus_first_error(form)
    page = render_template(
        "contacts/conversation.html",
        customer=customer,
        messages=crm.conversation(customer),
        form=form,
        sms_refusal=crm.sms_refusal(customer),
    )
    return page, status
