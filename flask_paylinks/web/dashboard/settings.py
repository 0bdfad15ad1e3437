"""The Payments settings page: which account the owner is paid into, and its state.

In Stripe Connect mode "Connect with Stripe" sends the merchant to Stripe's
onboarding (an Account Link); Stripe sends them back to :func:`settings_return`
(done, or left) or :func:`settings_refresh` (the link expired: a new one).
"""

from __future__ import annotations

from flask import redirect, render_template, url_for
from werkzeug.wrappers import Response

from flask_paylinks.core.errors import Conflict
from flask_paylinks.db.scoping import current_owner
from flask_paylinks.gateways import GatewayError
from flask_paylinks.gateways.stripe_accounts import (
    AccountStatus,
    disabled_words,
    requirement_words,
)
from flask_paylinks.payments import accounts
from flask_paylinks.web.dashboard import blueprint
from flask_paylinks.web.dashboard.formflow import Answer
from flask_paylinks.web.dashboard.helpers import ActionForm, notice, require_action
from flask_paylinks.web.dashboard.security import allow_form_targets

#: Where Stripe's onboarding lives: "Connect with Stripe" is sent on to it.
STRIPE_CONNECT_ORIGIN = "https://connect.stripe.com"

#: Status of the page when the gateway could not be reached.
UNAVAILABLE = 503


def _page(
    status: AccountStatus | None, *, error: str | None = None, code: int = 200
) -> Answer:
    if status is not None and status.can_onboard:
        # The button's POST is redirected to Stripe: the CSP's form-action
        # (when the host turns the CSP on) must let it go there.
        allow_form_targets(STRIPE_CONNECT_ORIGIN)
    html = render_template(
        "paylinks/dashboard/settings.html",
        status=status,
        error=error,
        due=requirement_words(status.state.requirements_due)
        if status is not None and status.state is not None
        else [],
        disabled=disabled_words(status.state.disabled_reason)
        if status is not None and status.state is not None
        else None,
        action=ActionForm(),
    )
    return html if code == 200 else (html, code)


def _status(*, refresh: bool = False) -> Answer:
    try:
        return _page(accounts.account_status(current_owner(), refresh=refresh))
    except GatewayError as error:
        return _page(None, error=str(error), code=UNAVAILABLE)


@blueprint.get("/settings/payments")
def settings_payments() -> Answer:
    """Which account payments go to, whether it takes charges, and what is due."""
    return _status()


def _onboard(*, nothing_to_do: int = 409) -> Answer:
    try:
        url = accounts.onboarding_url(
            current_owner(),
            refresh_url=url_for(".settings_refresh", _external=True),
            return_url=url_for(".settings_return", _external=True),
        )
    except Conflict as error:
        if nothing_to_do == 200:
            return _status()
        return _page(None, error=str(error), code=nothing_to_do)
    except GatewayError as error:
        return _page(None, error=str(error), code=UNAVAILABLE)
    return redirect(url, code=303)


@blueprint.post("/settings/payments/connect")
def settings_connect() -> Answer:
    """Create the owner's Stripe account once, then go to Stripe's onboarding."""
    require_action()
    return _onboard()


@blueprint.get("/settings/payments/refresh")
def settings_refresh() -> Answer:
    """Stripe's onboarding link expired or was used: a fresh one.

    With nothing to connect (any more), the settings page itself. A GET any
    page can make the merchant's browser send: it renews the link of an
    account made before, and never creates one (only the CSRF-checked POST).
    """
    try:
        status = accounts.account_status(current_owner())
    except GatewayError as error:
        return _page(None, error=str(error), code=UNAVAILABLE)
    if status.account_id is None:
        return _page(status)
    return _onboard(nothing_to_do=200)


@blueprint.get("/settings/payments/return")
def settings_return() -> Answer | Response:
    """Back from Stripe: read the account's state from Stripe and store it."""
    try:
        status = accounts.account_status(current_owner(), refresh=True)
    except GatewayError as error:
        return _page(None, error=str(error), code=UNAVAILABLE)
    if status.mode not in ("connect", "host"):
        return _page(status)
    if status.problem is None:
        notice("Your Stripe account is connected and can take payments.")
    else:
        notice("Stripe saved your progress. What it still needs is below.")
    return redirect(url_for(".settings_payments"))
