"""The Stripe account each owner is paid into (Connect mode), and its state.

Rows of :class:`~flask_paylinks.db.models.StripeAccount`: one per owner and
mode. They are written when an owner connects from the Payments settings
page, when a host's ``stripe_account_for`` names an owner's account for the
first time (so a webhook's ``account`` finds its owner), and whenever Stripe
tells us something newer about the account (``account.updated``, or a
retrieve). This module does not talk to Stripe: :mod:`.stripe` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from flask_paylinks.db.models import StripeAccount
from flask_paylinks.db.session import session


@dataclass(frozen=True, slots=True)
class AccountState:
    """What Stripe says of a connected account (its Account object, reduced)."""

    account_id: str
    livemode: bool = False
    charges_enabled: bool = False
    details_submitted: bool = False
    #: ``requirements.currently_due``: Stripe's names of what is still needed.
    requirements_due: Sequence[str] = field(default_factory=tuple)
    disabled_reason: str | None = None


@dataclass(frozen=True, slots=True)
class AccountStatus:
    """What the Payments settings page shows for one owner.

    ``mode`` is ``"sandbox"``, ``"single"`` (the host's own Stripe account
    for every owner), ``"connect"`` (each owner connects from the page) or
    ``"host"`` (the host names each owner's account: ``stripe_account_for``).
    """

    mode: str
    account_id: str | None = None
    state: AccountState | None = None
    #: Why the owner cannot take charges now (``None``: they can).
    problem: str | None = None
    #: True when the page may offer "Connect with Stripe" / "Continue onboarding".
    can_onboard: bool = False


def state_from_object(obj: Mapping[str, Any]) -> AccountState:
    """The state in a Stripe Account object (a webhook's, or an API answer)."""
    requirements = obj.get("requirements")
    requirements = requirements if isinstance(requirements, Mapping) else {}
    due = requirements.get("currently_due")
    reason = requirements.get("disabled_reason")
    return AccountState(
        account_id=str(obj.get("id") or ""),
        livemode=obj.get("livemode") is True,
        charges_enabled=obj.get("charges_enabled") is True,
        details_submitted=obj.get("details_submitted") is True,
        requirements_due=tuple(x for x in due if isinstance(x, str))
        if isinstance(due, list)
        else (),
        disabled_reason=reason if isinstance(reason, str) and reason else None,
    )


def account_of(owner: str, livemode: bool) -> StripeAccount | None:
    """The stored account of *owner* in that mode, or ``None``."""
    return (
        session()
        .scalars(
            select(StripeAccount).where(
                StripeAccount.owner_id == owner, StripeAccount.livemode == livemode
            )
        )
        .first()
    )


def owners_connected(livemode: bool) -> list[str]:
    """The owners with an account recorded in that mode, ordered by owner id."""
    return list(
        session()
        .scalars(
            select(StripeAccount.owner_id)
            .where(StripeAccount.livemode == livemode)
            .order_by(StripeAccount.owner_id)
        )
        .all()
    )


def owner_of(account_id: str) -> str | None:
    """The owner whose account *account_id* is, or ``None`` (nobody's)."""
    return (
        session()
        .scalars(
            select(StripeAccount.owner_id).where(StripeAccount.account_id == account_id)
        )
        .first()
    )


def link_account(
    owner: str, account_id: str, livemode: bool, *, commit: bool = True
) -> StripeAccount:
    """Record that *owner* is paid into *account_id*; commit; the row.

    Without *commit* it is recorded in a savepoint, for a caller half-way
    through changes of its own (a checkout, a refund): the caller's commit
    keeps it, and if the caller rolls back, a later call records it again.

    A host whose ``stripe_account_for`` now names another account for the
    owner moves the row to it (its state is then unknown until retrieved).
    :class:`ValueError` when the account is already another owner's: one
    account never takes two owners' money.
    """
    db = session()
    row = account_of(owner, livemode)
    if row is not None and row.account_id == account_id:
        return row
    holder = owner_of(account_id)
    if holder is not None and holder != owner:
        raise ValueError(f"Stripe account {account_id} belongs to another owner.")
    try:
        if commit:
            row = _write_link(row, owner, account_id, livemode)
            db.commit()
        else:
            with db.begin_nested():
                row = _write_link(row, owner, account_id, livemode)
    except IntegrityError:  # a concurrent request linked it first
        if commit:
            db.rollback()
        found = account_of(owner, livemode)
        if found is None or found.account_id != account_id:
            raise
        return found
    return row


def _write_link(
    row: StripeAccount | None, owner: str, account_id: str, livemode: bool
) -> StripeAccount:
    """*owner*'s row pointed at *account_id*, its state unknown until retrieved."""
    if row is None:
        row = StripeAccount(owner_id=owner, livemode=livemode)
        session().add(row)
    row.account_id = account_id
    row.charges_enabled = row.details_submitted = False
    row.requirements_due, row.disabled_reason = [], None
    row.last_event_created = 0
    session().flush()
    return row


def save_state(
    state: AccountState, created: int, *, commit: bool = True
) -> StripeAccount | None:
    """Store *state* when it is news (*created* not older than the stored).

    Returns the row, or ``None`` when no owner has the account. An older
    event changes nothing (the row is returned as it was). Commits unless
    *commit* is false (the caller's transaction then holds the change).
    """
    db = session()
    row = db.scalars(
        select(StripeAccount).where(StripeAccount.account_id == state.account_id)
    ).first()
    if row is None:
        return None
    if created < (row.last_event_created or 0):
        return row
    row.charges_enabled = state.charges_enabled
    row.details_submitted = state.details_submitted
    row.requirements_due = list(state.requirements_due)
    row.disabled_reason = state.disabled_reason
    row.last_event_created = created
    if commit:
        db.commit()
    return row


def stored_state(row: StripeAccount) -> AccountState:
    """The state a stored row holds."""
    return AccountState(
        account_id=row.account_id,
        livemode=row.livemode,
        charges_enabled=row.charges_enabled,
        details_submitted=row.details_submitted,
        requirements_due=tuple(row.requirements_due or ()),
        disabled_reason=row.disabled_reason,
    )


#: Stripe's names of common requirements, in words a merchant knows.
REQUIREMENT_WORDS = {
    "external_account": "a bank account for payouts",
    "tos_acceptance.date": "acceptance of Stripe's terms of service",
    "tos_acceptance.ip": "acceptance of Stripe's terms of service",
    "business_type": "the type of business",
    "business_profile.url": "the business's website",
    "business_profile.mcc": "the business's industry",
    "business_profile.product_description": "a description of what you sell",
    "individual.verification.document": "an identity document",
    "individual.id_number": "a government ID number",
    "individual.ssn_last_4": "the last 4 digits of a social security number",
    "individual.dob.day": "a date of birth",
    "individual.dob.month": "a date of birth",
    "individual.dob.year": "a date of birth",
    "individual.first_name": "a first name",
    "individual.last_name": "a last name",
    "individual.email": "an email address",
    "individual.phone": "a phone number",
    "company.name": "the company's name",
    "company.tax_id": "the company's tax ID",
    "representative.verification.document": "an identity document of a representative",
}

#: Stripe's ``requirements.disabled_reason`` values, in words.
DISABLED_WORDS = {
    "requirements.past_due": "required information is overdue",
    "requirements.pending_verification": "Stripe is verifying the information given",
    "under_review": "Stripe is reviewing the account",
    "listed": "the account is on a prohibited list and under review",
    "rejected.fraud": "Stripe rejected the account",
    "rejected.terms_of_service": "Stripe rejected the account",
    "rejected.listed": "Stripe rejected the account",
    "rejected.other": "Stripe rejected the account",
    "platform_paused": "the platform paused the account",
    "action_required.requested_capabilities": "card payments must be requested",
    "other": "Stripe disabled it; see Stripe's dashboard",
}


def requirement_words(names: Sequence[str]) -> list[str]:
    """Stripe's requirement names as a merchant reads them, each once, in order."""
    said: list[str] = []
    for name in names:
        words = REQUIREMENT_WORDS.get(name)
        if words is None:
            prefix = name.split(".", 1)[0]
            if prefix.startswith("person_"):
                name = name.split(".", 1)[-1]
            words = name.replace(".", " ").replace("_", " ")
        if words not in said:
            said.append(words)
    return said


def disabled_words(reason: str | None) -> str | None:
    """*reason* (Stripe's ``disabled_reason``) in words, or ``None``."""
    if not reason:
        return None
    return DISABLED_WORDS.get(reason, reason.replace(".", ": ").replace("_", " "))


def charges_problem_of(state: AccountState | None) -> str | None:
    """Why an account in *state* cannot take charges, or ``None`` when it can."""
    if state is None:
        return "Connect your Stripe account first, in Payments settings."
    if state.charges_enabled:
        return None
    due = requirement_words(state.requirements_due)
    if due:
        return f"Stripe has not enabled charges yet: it needs {', '.join(due)}."
    reason = disabled_words(state.disabled_reason)
    if reason:
        return f"Stripe has not enabled charges yet: {reason}."
    return "Stripe has not enabled charges on your account yet."
