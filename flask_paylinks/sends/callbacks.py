"""What Vonage tells us after a message left: delivery receipts and inbound SMS.

:func:`apply_delivery_receipt` moves one recipient to delivered or failed;
:func:`apply_inbound_sms` turns a STOP (or START) texted back into the
contact's opt-out, through the host's :class:`~flask_paylinks.ContactDirectory`,
and skips what is still queued for that number. Both take the callback's
parameters as plain strings (the web layer has checked the signature), write
in one transaction, and ignore what they cannot place (logged, never raised):
Vonage would only send it again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update

from flask_paylinks import signals
from flask_paylinks.db.models import Channel, Recipient, RecipientState, utcnow
from flask_paylinks.db.session import session
from flask_paylinks.messaging.sms import delivery_error_text
from flask_paylinks.sends.delivery import IN_DOUBT
from flask_paylinks.sends.optouts import record_start, record_stop
from flask_paylinks.state import paylinks_state

log = logging.getLogger(__name__)
#: How a message in doubt reads on its row (see :mod:`~flask_paylinks.sends.delivery`).
IN_DOUBT_REASON = IN_DOUBT[:200]

#: First words of an inbound SMS that opt the sender out, and back in.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "UNSTOP"})
#: The reason a queued recipient is skipped with after a STOP.
OPTED_OUT = "opted out"

_MESSAGE_ID = re.compile(r"[A-Za-z0-9-]{1,100}")
_MSISDN = re.compile(r"\+?(\d{6,15})")
_FIRST_WORD = re.compile(r"\s*([A-Za-z]+)")

#: Receipt statuses that end a message, and the state each gives it.
_FINAL = {
    "delivered": RecipientState.DELIVERED,
    "failed": RecipientState.FAILED,
    "expired": RecipientState.FAILED,
    "rejected": RecipientState.FAILED,
}
#: The states a receipt may move a recipient out of: never back from
#: delivered; a failed one may still turn out delivered.
_MAY_MOVE = {
    RecipientState.DELIVERED: (
        RecipientState.QUEUED,
        RecipientState.SENT,
        RecipientState.FAILED,
    ),
    RecipientState.FAILED: (RecipientState.QUEUED, RecipientState.SENT),
}


@dataclass(frozen=True, slots=True)
class ReceiptResult:
    """What one delivery receipt did: ``recipient_id`` ``None`` when unknown."""

    recipient_id: int | None
    state: str | None
    changed: bool


@dataclass(frozen=True, slots=True)
class InboundResult:
    """What one inbound SMS did.

    ``action`` is ``"stop"``, ``"start"`` or ``None`` (any other text);
    ``contacts`` lists ``(owner, contact_id)`` updated; ``skipped`` counts
    queued messages skipped.
    """

    action: str | None
    phone: str | None
    contacts: tuple[tuple[str, str], ...] = ()
    skipped: int = 0


def _message_timestamp(value: str | None) -> datetime:
    # Vonage's message-timestamp is UTC, "2020-01-01 12:00:00".
    try:
        parsed = datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return utcnow()
    return min(parsed.replace(tzinfo=UTC), utcnow())


def _find_recipient(message_id: str, client_ref: str) -> Recipient | None:
    db = session()
    recipient = db.scalars(
        select(Recipient)
        .where(
            Recipient.provider_message_id == message_id,
            Recipient.channel == Channel.SMS,
        )
        .limit(1)
    ).first()
    if (
        recipient is not None
        or not (client_ref.isascii() and client_ref.isdigit())
        or len(client_ref) > 18
    ):
        return recipient
    # The receipt may outrun the worker recording the message id: the
    # client-ref we sent (the recipient's id) still names the row.
    found = db.get(Recipient, int(client_ref))
    if (
        found is not None
        and found.channel == Channel.SMS
        and found.provider_message_id in (None, message_id)
        # Only a message being handed over right now, or one left in doubt
        # (its worker died waiting for Vonage's answer: the receipt says it
        # went out). A receipt never settles one still waiting to be sent.
        and (
            found.provider_message_id is not None
            or found.claim is not None
            or found.reason == IN_DOUBT_REASON
        )
    ):
        return found
    return None


def apply_delivery_receipt(params: Mapping[str, str]) -> ReceiptResult:
    """Move the recipient a Vonage delivery receipt names to delivered or failed.

    ``messageId`` finds the recipient (``client-ref`` when the message id is
    not recorded yet). ``delivered`` sets ``delivered_at``; ``failed``,
    ``expired`` and ``rejected`` set ``failed_at`` and a readable ``reason``
    from ``err-code``; ``accepted``, ``buffered`` and ``unknown`` change
    nothing. A delivered recipient never moves back. Sends
    ``message_delivered`` or ``message_failed`` when the state changed, inside
    the transaction, then commits.
    """
    message_id = str(params.get("messageId") or params.get("message-id") or "")
    client_ref = str(params.get("client-ref") or "")
    status = str(params.get("status") or "").lower()
    if not _MESSAGE_ID.fullmatch(message_id):
        log.info("Vonage receipt without a usable messageId ignored")
        return ReceiptResult(None, None, False)
    recipient = _find_recipient(message_id, client_ref)
    if recipient is None:
        log.info("Vonage receipt for unknown message %s ignored", message_id)
        return ReceiptResult(None, None, False)
    target = _FINAL.get(status)
    if target is None:
        log.info("Vonage receipt %r for message %s noted", status, message_id)
        return ReceiptResult(recipient.id, recipient.state, False)

    db = session()
    when = _message_timestamp(params.get("message-timestamp"))
    values: dict[str, Any] = {"state": target, "provider_message_id": message_id}
    err_code = str(params.get("err-code") or "")
    reason = None
    if target == RecipientState.DELIVERED:
        # A message left in doubt has no sent_at: the receipt proves it went.
        values |= {
            "delivered_at": when,
            "reason": None,
            "sent_at": func.coalesce(Recipient.sent_at, when),
            "failed_at": None,
        }
    else:
        code = err_code if err_code.isdigit() and len(err_code) <= 6 else ""
        reason = f"{status.capitalize()}: {delivery_error_text(code)}"[:200]
        values |= {"failed_at": when, "reason": reason}
    moved: Any = db.execute(
        update(Recipient)
        .where(Recipient.id == recipient.id, Recipient.state.in_(_MAY_MOVE[target]))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        db.rollback()
        log.info(
            "Vonage receipt %r for message %s left recipient %s as it was",
            status,
            message_id,
            recipient.id,
        )
        current = db.get(Recipient, recipient.id)
        return ReceiptResult(recipient.id, current.state if current else None, False)
    db.refresh(recipient)
    _announce(target, recipient, reason)
    db.commit()
    return ReceiptResult(recipient.id, str(target), True)


def _announce(target: str, recipient: Recipient, reason: str | None) -> None:
    """Send the signal in a savepoint: a receiver that raises loses its writes.

    The receipt itself is kept either way, and it is not heard twice: Vonage
    sends each receipt once, so a failing receiver is logged, not retried.
    """
    db = session()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    about = {
        "recipient": recipient,
        "contact_id": recipient.contact_id,
        "channel": recipient.channel,
        "to": recipient.address,
    }
    savepoint = db.begin_nested()
    if target == RecipientState.DELIVERED:
        failures = signals.send_guarded(signals.message_delivered, app, **about)
    else:
        failures = signals.send_guarded(
            signals.message_failed, app, reason=reason, **about
        )
    if not savepoint.is_active:
        log.warning(
            "a message_delivered/message_failed receiver committed or rolled back "
            "the session; receivers run inside the receipt's transaction and must not"
        )
    elif failures:
        savepoint.rollback()
    else:
        savepoint.commit()


def _keyword(text: str) -> str | None:
    found = _FIRST_WORD.match(text)
    word = found.group(1).upper() if found else ""
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    return None


def apply_inbound_sms(params: Mapping[str, str]) -> InboundResult:
    """Act on an SMS a contact texted back (``msisdn``, ``text``…).

    STOP, STOPALL, UNSUBSCRIBE, CANCEL, END or QUIT (the first word, any case)
    opt that phone out for every owner that has messaged it: each contact the
    recipient rows name is upserted with ``sms_ok=False`` and the owner's
    still-queued SMS to that number are skipped ("opted out"), in one
    transaction, so a send in progress sends nothing more to it. START opts
    back in (``sms_ok=True``). Other text, or a number no recipient row has,
    changes nothing.
    """
    text = str(params.get("text") or "")
    action = _keyword(text)
    number = _MSISDN.fullmatch(str(params.get("msisdn") or "").strip())
    phone = f"+{number.group(1)}" if number else None
    if action is None or phone is None:
        log.info("inbound SMS with no STOP or START (or no number) ignored")
        return InboundResult(action, phone)

    db = session()
    rows = db.execute(
        select(Recipient.owner_id, Recipient.contact_id)
        .where(Recipient.channel == Channel.SMS, Recipient.address == phone)
        .distinct()
        .order_by(Recipient.owner_id, Recipient.contact_id)
    ).all()
    if not rows:
        log.info("inbound %s from a number no send has messaged ignored", action)
        return InboundResult(action, phone)

    directory = paylinks_state().contacts
    sms_ok = action == "start"
    updated: list[tuple[str, str]] = []
    for owner, contact_id in rows:
        contact = directory.get(owner, contact_id)
        if contact is None or not (contact.email or contact.phone):
            log.info(
                "inbound %s: contact %s of %s not found", action, contact_id, owner
            )
            continue
        # Matched on the contact's own email and phone, so the upsert finds
        # this very contact and only its opt-out changes.
        result = directory.upsert(
            owner,
            name="",
            email=contact.email,
            phone=contact.phone,
            address=None,
            sms_ok=sms_ok,
        )
        if result.id != contact.id:
            log.warning(
                "inbound %s for contact %s of %s matched contact %s instead",
                action,
                contact.id,
                owner,
                result.id,
            )
        updated.append((owner, contact_id))

    skipped = 0
    owners = sorted({owner for owner, _ in rows})
    for owner in owners:
        if action == "stop":
            record_stop(owner, phone)
        else:
            record_start(owner, phone)
    if action == "stop":
        result_rows: Any = db.execute(
            update(Recipient)
            .where(
                Recipient.owner_id.in_(owners),
                Recipient.channel == Channel.SMS,
                Recipient.address == phone,
                Recipient.state == RecipientState.QUEUED,
            )
            .values(state=RecipientState.SKIPPED, reason=OPTED_OUT)
            .execution_options(synchronize_session=False)
        )
        skipped = int(result_rows.rowcount or 0)
    db.commit()
    log.info(
        "inbound %s from %s: %d contact(s) updated, %d queued message(s) skipped",
        action,
        phone,
        len(updated),
        skipped,
    )
    return InboundResult(action, phone, tuple(updated), skipped)
