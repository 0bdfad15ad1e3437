"""Who gets the money: the owner's payment account, for the Payments settings page.

A thin service over the gateway. In Stripe Connect mode the gateway keeps a
Stripe account per owner (see :mod:`flask_paylinks.gateways.stripe_accounts`);
other gateways (the sandbox, Stripe on the host's own account) have nothing
for an owner to connect.
"""

from __future__ import annotations

from flask_paylinks.core.errors import Conflict
from flask_paylinks.gateways.stripe_accounts import AccountStatus
from flask_paylinks.state import paylinks_state


def account_status(owner: str, *, refresh: bool = False) -> AccountStatus:
    """What the settings page shows for *owner*; *refresh* asks the gateway anew.

    Raises :class:`~flask_paylinks.gateways.base.GatewayError` when the
    gateway cannot be reached.
    """
    gateway = paylinks_state().gateway
    status = getattr(gateway, "account_status", None)
    if status is None:
        return AccountStatus(mode=gateway.name, problem=gateway.charges_problem(owner))
    found: AccountStatus = status(owner, refresh=refresh)
    return found


def onboarding_url(owner: str, *, refresh_url: str, return_url: str) -> str:
    """Where *owner* goes to connect their account at the gateway.

    :class:`~flask_paylinks.core.errors.Conflict` when this site does not
    connect accounts from the dashboard (one account for everyone, or the
    host names them).
    """
    gateway = paylinks_state().gateway
    status = getattr(gateway, "account_status", None)
    onboard = getattr(gateway, "onboarding_url", None)
    if status is None or onboard is None or not status(owner).can_onboard:
        raise Conflict("There is no account to connect here.")
    url: str = onboard(owner, refresh_url=refresh_url, return_url=return_url)
    return url


def charges_problem(owner: str) -> str | None:
    """Why *owner* cannot take payments now (a link cannot go live), or ``None``."""
    return paylinks_state().gateway.charges_problem(owner)
