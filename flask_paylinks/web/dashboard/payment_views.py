"""A payment's own page: what was bought, by whom, its refunds, and the refund form."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for

from flask_paylinks.catalog.presenters import interval_label
from flask_paylinks.core.errors import InvalidInput
from flask_paylinks.core.money import Money
from flask_paylinks.db.models import Payment, RefundReason, RefundState
from flask_paylinks.db.scoping import current_owner, require_owned
from flask_paylinks.payments import refunds as refund_service
from flask_paylinks.state import paylinks_state
from flask_paylinks.web.dashboard import blueprint
from flask_paylinks.web.dashboard.formflow import Answer
from flask_paylinks.web.dashboard.forms import RefundForm, mark_errors
from flask_paylinks.web.dashboard.helpers import UNPROCESSABLE, form_class, notice


@blueprint.get("/payments/<int:payment_id>")
def payment_detail(payment_id: int) -> str:
    """One payment, its refunds, and (while something is left) the refund form."""
    payment = require_owned(Payment, current_owner(), payment_id)
    return _page(payment, _refund_form(payment))


@blueprint.post("/payments/<int:payment_id>/refund")
def payment_refund(payment_id: int) -> Answer:
    """Refund what the form asks, once per rendered form, and say what happened."""
    owner = current_owner()
    payment = require_owned(Payment, owner, payment_id)
    form = _refund_form(payment, request.form)
    if form.validate():
        try:
            made = refund_service.refund(
                owner,
                payment.id,
                form.minor_amount(),
                form.reason.data or "",
                form.note.data or "",
                form.attempt.data or "",
            )
        except InvalidInput as error:
            mark_errors(form, error.errors)
        else:
            notice(_said(made.state, made.amount, made.currency, made.failure_message))
            return redirect(url_for("paylinks.payment_detail", payment_id=payment.id))
    return _page(payment, form), UNPROCESSABLE


def _refund_form(payment: Payment, formdata: Any = None) -> Any:
    form = form_class("refund", RefundForm)(formdata, currency=payment.currency)
    if formdata is None:
        form.amount.data = f"{payment.refundable.to_decimal():f}"
        form.reason.data = RefundReason.REQUESTED_BY_CUSTOMER.value
    return form


def _page(payment: Payment, form: Any) -> str:
    return render_template(
        "paylinks/dashboard/payment_detail.html",
        payment=payment,
        refunds=refund_service.refunds_of(payment.owner_id, payment.id),
        reasons=refund_service.REASONS,
        form=form if payment.can_be_refunded else None,
        contact_url=paylinks_state().contact_url,
        interval_label=interval_label,
        test_mode=paylinks_state().gateway.test_mode,
    )


def _said(state: str, amount: int, currency: str, failure: str | None) -> str:
    """The notice after a refund, in the merchant's words."""
    money = Money(amount, currency).format()
    if state == RefundState.SUCCEEDED:
        return f"Refunded {money}."
    if state == RefundState.PENDING:
        return f"The refund of {money} is on its way; this page shows when it is done."
    return f"The refund of {money} failed: {failure or 'the gateway refused it.'}"
