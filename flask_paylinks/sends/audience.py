"""Who a send reaches: the picked contacts and segment members, and who is skipped.

Segment members are streamed from the host's directory, never loaded all at
once. Each contact is classified per channel: the address the message goes
to, or the reason it is skipped.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Generator
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

from flask_paylinks.contacts import Contact
from flask_paylinks.core.errors import InvalidInput, NotFound
from flask_paylinks.db.models import Channel
from flask_paylinks.state import paylinks_state

#: Most contacts one send may pick by hand (segments have no limit).
MAX_PICKED = 1000
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class SkipReason(enum.StrEnum):
    """Why a contact gets no message on a channel."""

    NO_PHONE = "no phone"
    NO_EMAIL = "no email"
    INVALID_NUMBER = "invalid number"
    INVALID_EMAIL = "invalid email"
    OPTED_OUT = "opted out"
    DUPLICATE = "duplicate"
    CONTACT_GONE = "contact deleted"


@dataclass(frozen=True, slots=True)
class Selection:
    """The contacts picked one by one and the segments picked whole."""

    contact_ids: tuple[str, ...] = ()
    segment_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Audience:
    """A checked selection: the picked contacts and segments are the owner's."""

    owner: str
    picked: tuple[Contact, ...]
    segment_ids: tuple[str, ...]
    #: Picked contacts plus the segments' sizes, as the directory tells them.
    size_hint: int

    def members(self) -> Generator[Contact, None, None]:
        """Every contact, picked ones first, then each segment's (streamed)."""
        yield from self.picked
        contacts = paylinks_state().contacts
        for segment_id in self.segment_ids:
            yield from contacts.segment_members(self.owner, segment_id)


def resolve(owner: str, selection: Selection) -> Audience:
    """Check *selection* for *owner*; a foreign contact or segment is ``NotFound``."""
    if not selection.contact_ids and not selection.segment_ids:
        raise InvalidInput({"contacts": "Pick at least one contact or segment."})
    if len(selection.contact_ids) > MAX_PICKED:
        raise InvalidInput(
            {
                "contacts": f"Pick at most {MAX_PICKED:,} contacts one by one; "
                "use a segment for more."
            }
        )
    contacts = paylinks_state().contacts
    sizes = {segment.id: segment.size for segment in contacts.segments(owner)}
    segment_ids = tuple(dict.fromkeys(str(sid) for sid in selection.segment_ids))
    for segment_id in segment_ids:
        if segment_id not in sizes:
            raise NotFound(f"No segment {segment_id!r}.")
    picked: list[Contact] = []
    for contact_id in dict.fromkeys(str(cid) for cid in selection.contact_ids):
        contact = contacts.get(owner, contact_id) if len(contact_id) <= 64 else None
        if contact is None:
            raise NotFound(f"No contact {contact_id!r}.")
        picked.append(contact)
    hint = len(picked) + sum(int(sizes[sid] or 0) for sid in segment_ids)
    return Audience(owner, tuple(picked), segment_ids, hint)


def address_for(
    contact: Contact, channel: Channel, *, region: str | None = None
) -> tuple[str | None, SkipReason | None]:
    """Where *channel* reaches *contact* (E.164 or email), or why it does not.

    A phone is checked for its shape here (cheap, for sends of 100,000);
    :func:`phone_problem` checks that the number exists before it is texted.
    """
    if channel is Channel.SMS:
        if not contact.sms_ok:
            return None, SkipReason.OPTED_OUT
        if not contact.phone:
            return None, SkipReason.NO_PHONE
        phone = contact.phone.strip()
        if _E164.fullmatch(phone):
            return phone, None
        normalised = normalise_phone(phone, region)
        if normalised is None:
            return None, SkipReason.INVALID_NUMBER
        return normalised, None
    if not contact.email_ok:
        return None, SkipReason.OPTED_OUT
    if not contact.email:
        return None, SkipReason.NO_EMAIL
    email = contact.email.strip()
    if len(email) > 320 or not _EMAIL.fullmatch(email):
        return None, SkipReason.INVALID_EMAIL
    return email, None


def normalise_phone(text: str, region: str | None) -> str | None:
    """*text* as an E.164 number if it is a valid one, else ``None``."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=4096)
def phone_problem(phone: str) -> SkipReason | None:
    """``INVALID_NUMBER`` unless *phone* (E.164) is a number that exists."""
    return None if normalise_phone(phone, None) == phone else SkipReason.INVALID_NUMBER
