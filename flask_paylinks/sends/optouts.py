"""The phones that texted STOP, per owner: never texted by that owner again.

The host's directory hears of each STOP and START too (``upsert`` with
``sms_ok``), but the extension keeps its own list, so no send texts an
opted-out phone even when the host has nowhere to keep the flag.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from flask_paylinks.db.models import SmsOptOut, utcnow
from flask_paylinks.db.session import session


def opted_out(owner: str, phone: str) -> bool:
    """Whether *phone* (E.164) texted STOP to *owner* (and not START since)."""
    found = session().scalar(
        select(SmsOptOut.id).where(
            SmsOptOut.owner_id == owner, SmsOptOut.phone == phone
        )
    )
    return found is not None


def opted_out_phones(owner: str) -> frozenset[str]:
    """Every phone opted out of *owner*'s texts, for checking a whole send."""
    rows = session().scalars(select(SmsOptOut.phone).where(SmsOptOut.owner_id == owner))
    return frozenset(rows)


def record_stop(owner: str, phone: str) -> None:
    """Add *phone* to *owner*'s list, in the caller's transaction (twice is once)."""
    db = session()
    if opted_out(owner, phone):
        return
    try:
        with db.begin_nested():
            db.add(SmsOptOut(owner_id=owner, phone=phone, created_at=utcnow()))
    except IntegrityError:
        pass  # a STOP processed at the same moment: it is on the list


def record_start(owner: str, phone: str) -> None:
    """Take *phone* off *owner*'s list, in the caller's transaction."""
    session().execute(
        delete(SmsOptOut).where(SmsOptOut.owner_id == owner, SmsOptOut.phone == phone)
    )
