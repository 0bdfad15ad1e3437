"""How the extension reaches the host's contacts without importing its models.

A host hands :class:`~flask_paylinks.PayLinks` an object that implements
:class:`ContactDirectory`. Hosts whose contacts live in a SQLAlchemy model use
:class:`SQLAlchemyContactDirectory` and map their own column names onto the
fields of :class:`Contact`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, cast, runtime_checkable

from sqlalchemy import Select, func, inspect, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import InstrumentedAttribute

from flask_paylinks.core.errors import ConfigError
from flask_paylinks.db.queries import LIKE_ESCAPE, contains_pattern
from flask_paylinks.state import paylinks_state


@dataclass(frozen=True, slots=True)
class Address:
    """A postal address as a customer types it at checkout."""

    line1: str = ""
    line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""

    def as_dict(self) -> dict[str, str]:
        """The address as a plain dict, for JSON columns and templates."""
        return {
            "line1": self.line1,
            "line2": self.line2,
            "city": self.city,
            "region": self.region,
            "postal_code": self.postal_code,
            "country": self.country,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Address | None:
        """The inverse of :meth:`as_dict`; ``None`` stays ``None``."""
        if data is None:
            return None
        return cls(**{k: str(data.get(k) or "") for k in cls.__slots__})

    def __bool__(self) -> bool:
        return any(self.as_dict().values())

    def one_line(self) -> str:
        """The parts that are set, comma-separated."""
        return ", ".join(part for part in self.as_dict().values() if part)


@dataclass(frozen=True, slots=True)
class Contact:
    """One of the host's contacts, as the extension sees it.

    ``sms_ok`` and ``email_ok`` carry the host's opt-out and do-not-disturb
    flags: a contact with ``sms_ok=False`` is never texted.
    """

    id: str
    name: str = ""
    email: str | None = None
    phone: str | None = None
    address: Address | None = None
    sms_ok: bool = True
    email_ok: bool = True


@dataclass(frozen=True, slots=True)
class Segment:
    """A smart list, segment or tag of the host's contacts."""

    id: str
    name: str
    size: int | None = None


@runtime_checkable
class ContactDirectory(Protocol):
    """What the extension needs from the host's contact store.

    Every method is scoped to one *owner*, the id the host's
    ``owner_loader`` returned; a directory must never return another
    owner's contacts.
    """

    def get(self, owner: str, contact_id: str) -> Contact | None:
        """One contact of *owner*, or ``None``."""

    def search(self, owner: str, text: str, limit: int) -> list[Contact]:
        """Contacts whose name, email or phone contain *text*: the picker."""

    def segments(self, owner: str) -> list[Segment]:
        """The owner's segments, smart lists or tags."""

    def segment_members(self, owner: str, segment_id: str) -> Iterable[Contact]:
        """The contacts of one segment, streamed: a segment may be very large."""

    def upsert(
        self,
        owner: str,
        *,
        name: str,
        email: str | None,
        phone: str | None,
        address: Address | None,
        sms_ok: bool | None = None,
    ) -> Contact:
        """After an anonymous checkout: match by email (any case), else by phone.

        A match keeps what it holds: only a blank name, and an address where
        it has none at all, are filled in; a phone or email is never written
        to it (see :doc:`/contacts`). No match: create the contact with what
        was given.

        *sms_ok* ``False`` or ``True`` records the contact's own STOP or START
        texted from that phone (its opt-out flag); ``None`` leaves it alone.
        """

    def update(
        self,
        owner: str,
        contact_id: str,
        *,
        email: str | None = None,
        phone: str | None = None,
        address: Address | None = None,
    ) -> Contact | None:
        """Overwrite the fields given (``None``: leave alone) of one known contact.

        Called only when the change is known to come from that contact or the
        merchant: a merchant applying what a customer typed, or a checkout
        opened from that contact's personal link. ``None`` when there is no
        such contact.
        """


def differences(
    contact: Contact,
    *,
    email: str | None,
    phone: str | None,
    address: Address | None,
) -> dict[str, Any]:
    """What a customer typed that the CRM's *contact* does not hold.

    A phone or email the contact lacks or holds otherwise; an address with a
    part that differs from the part the contact holds (an address the
    contact had none of was filled in). A field the customer left empty
    changes nothing. The
    result is kept on the payment (``{"email": ..., "phone": ...,
    "address": {...}}``) for the merchant to apply or ignore.
    """
    changes: dict[str, Any] = {}
    if email and email.strip().lower() != (contact.email or "").lower():
        changes["email"] = email.strip()
    if phone and phone != contact.phone:
        changes["phone"] = phone
    if address and contact.address:
        held, typed = contact.address.as_dict(), address.as_dict()
        if any(
            typed[key] and held[key] and _folded(typed[key]) != _folded(held[key])
            for key in typed
        ):
            changes["address"] = typed
    return changes


def _folded(text: str) -> str:
    return " ".join(text.split()).casefold()


#: Fields of :class:`Contact` a host maps onto its own columns.
CONTACT_FIELDS = ("name", "email", "phone", "sms_ok", "email_ok")
ADDRESS_FIELDS = Address.__slots__

SessionGetter = Callable[[], Session]
SegmentLister = Callable[[str], Iterable[Segment]]
SegmentMembers = Callable[[str, str], "Select[Any] | Iterable[Any]"]


def _default_session() -> Session:
    # The scoped session stands for the request's own session.
    return cast(Session, paylinks_state().db.session)


@dataclass(frozen=True)
class ModelSegments:
    """Segments that are rows of a SQLAlchemy model, such as a ``Tag``.

    *members* names the relationship on the segment model that holds its
    contacts (a many-to-many through a tagging table, say).
    """

    model: type[Any]
    owner: str
    members: str
    name: str = "name"
    id: str = "id"


@dataclass
class _Column:
    """One mapped field: a column, or several joined (a first and last name)."""

    attributes: tuple[InstrumentedAttribute[Any], ...]
    negate: bool = False


class SQLAlchemyContactDirectory:
    """A :class:`ContactDirectory` over a host's SQLAlchemy contact model.

    :param model: the host's contact class.
    :param owner: name of the column that holds the owner (account) id.
    :param fields: :class:`Contact` field -> column name. ``name`` may be a
        tuple of columns (``("first_name", "last_name")``), joined by a space.
        A boolean column prefixed with ``!`` is negated, so
        ``{"sms_ok": "!do_not_text"}`` maps a do-not-disturb flag.
    :param address_fields: :class:`Address` field -> column name.
    :param id_field: the primary key column.
    :param segments: a :class:`ModelSegments`, or a callable
        ``(owner) -> Iterable[Segment]``.
    :param segment_members: with a callable *segments*: a callable
        ``(owner, segment_id)`` returning a ``select()`` of the contact model
        (streamed) or an iterable of model rows.
    :param session: a callable returning the session to use; default the
        session of the ``db`` given to :class:`~flask_paylinks.PayLinks`.

    Every column name is checked when the directory is made, so a typo fails
    at start-up, naming the field.
    """

    def __init__(
        self,
        model: type[Any],
        *,
        owner: str,
        fields: Mapping[str, str | tuple[str, ...]],
        address_fields: Mapping[str, str] | None = None,
        id_field: str = "id",
        segments: ModelSegments | SegmentLister | None = None,
        segment_members: SegmentMembers | None = None,
        session: SessionGetter | None = None,
    ) -> None:
        self.model = model
        self._session = session or _default_session
        self._columns = self._column_names(model)
        self._id = self._attribute(id_field, "id_field")
        self._owner = self._attribute(owner, "owner")
        unknown = set(fields) - set(CONTACT_FIELDS)
        if unknown:
            raise ConfigError(
                f"SQLAlchemyContactDirectory fields has unknown keys {sorted(unknown)};"
                f" the keys are {', '.join(CONTACT_FIELDS)}."
            )
        if "name" not in fields:
            raise ConfigError(
                "SQLAlchemyContactDirectory fields must map 'name' to a column."
            )
        if "email" not in fields and "phone" not in fields:
            raise ConfigError(
                "SQLAlchemyContactDirectory fields must map 'email' or 'phone'."
            )
        self._fields: dict[str, _Column] = {}
        for key, spec in fields.items():
            names = (spec,) if isinstance(spec, str) else tuple(spec)
            negate = len(names) == 1 and names[0].startswith("!")
            names = tuple(n.lstrip("!") for n in names)
            self._fields[key] = _Column(
                tuple(self._attribute(n, f"fields[{key!r}]") for n in names), negate
            )
        unknown = set(address_fields or {}) - set(ADDRESS_FIELDS)
        if unknown:
            raise ConfigError(
                "SQLAlchemyContactDirectory address_fields has unknown keys "
                f"{sorted(unknown)}; the keys are {', '.join(ADDRESS_FIELDS)}."
            )
        self._address = {
            key: self._attribute(col, f"address_fields[{key!r}]")
            for key, col in (address_fields or {}).items()
        }
        if isinstance(segments, ModelSegments):
            self._check_segment_model(segments)
        elif segments is not None and segment_members is None:
            raise ConfigError(
                "SQLAlchemyContactDirectory: a callable segments= needs "
                "segment_members= too."
            )
        self._segments = segments
        self._segment_members = segment_members

    # -- configuration checks -------------------------------------------------

    @staticmethod
    def _column_names(model: type[Any]) -> set[str]:
        try:
            mapper = inspect(model)
        except Exception:
            raise ConfigError(
                f"SQLAlchemyContactDirectory: {model!r} is not a mapped SQLAlchemy "
                "model."
            ) from None
        return {attr.key for attr in mapper.column_attrs}

    def _attribute(self, column: str, key: str) -> InstrumentedAttribute[Any]:
        if column not in self._columns:
            raise ConfigError(
                f"SQLAlchemyContactDirectory {key} names {column!r}, which is not a "
                f"column of {self.model.__name__} (its columns: "
                f"{', '.join(sorted(self._columns))})."
            )
        attribute: InstrumentedAttribute[Any] = getattr(self.model, column)
        return attribute

    def _check_segment_model(self, spec: ModelSegments) -> None:
        mapper = inspect(spec.model)
        columns = {attr.key for attr in mapper.column_attrs}
        for key in ("owner", "name", "id"):
            if getattr(spec, key) not in columns:
                raise ConfigError(
                    f"ModelSegments {key}={getattr(spec, key)!r} is not a column of "
                    f"{spec.model.__name__}."
                )
        relation = mapper.relationships.get(spec.members)
        if relation is None or relation.mapper.class_ is not self.model:
            raise ConfigError(
                f"ModelSegments members={spec.members!r} is not a relationship from "
                f"{spec.model.__name__} to {self.model.__name__}."
            )

    # -- reading ----------------------------------------------------------------

    def _read(self, row: Any, key: str) -> Any:
        column = self._fields.get(key)
        if column is None:
            return None
        values = [getattr(row, attr.key) for attr in column.attributes]
        if len(values) > 1:
            return " ".join(str(v) for v in values if v)
        value = values[0]
        return (not value) if column.negate else value

    def to_contact(self, row: Any) -> Contact:
        """The :class:`Contact` for one row of the host's model."""
        address = None
        if self._address:
            address = Address(
                **{
                    key: str(getattr(row, attr.key) or "")
                    for key, attr in self._address.items()
                }
            )
        sms_ok = self._read(row, "sms_ok")
        email_ok = self._read(row, "email_ok")
        return Contact(
            id=str(getattr(row, self._id.key)),
            name=str(self._read(row, "name") or ""),
            email=self._read(row, "email") or None,
            phone=self._read(row, "phone") or None,
            address=address or None,
            sms_ok=True if sms_ok is None else bool(sms_ok),
            email_ok=True if email_ok is None else bool(email_ok),
        )

    def _owned(self, owner: str) -> Select[Any]:
        return select(self.model).where(self._owner == self._owner_value(owner))

    def _owner_value(self, owner: str) -> Any:
        python_type = self._owner.type.python_type
        return python_type(owner) if python_type is not str else owner

    def _id_value(self, contact_id: str) -> Any:
        python_type = self._id.type.python_type
        value = python_type(contact_id)
        if isinstance(value, int) and not -(2**63) <= value < 2**63:
            raise ValueError(f"contact id {contact_id!r} is out of range")
        return value

    def get(self, owner: str, contact_id: str) -> Contact | None:
        """One contact of *owner*, or ``None`` (also for an id of the wrong type)."""
        try:
            key = self._id_value(contact_id)
        except (TypeError, ValueError):
            return None
        row = self._session().scalars(self._owned(owner).where(self._id == key)).first()
        return None if row is None else self.to_contact(row)

    def search(self, owner: str, text: str, limit: int) -> list[Contact]:
        """Contacts whose name, email or phone contain *text*, case-insensitively."""
        stmt = self._owned(owner)
        text = text.strip()
        if text:
            pattern = contains_pattern(text.lower())
            columns = [
                attr
                for key in ("name", "email", "phone")
                if key in self._fields
                for attr in self._fields[key].attributes
            ]
            stmt = stmt.where(
                or_(
                    *(
                        func.lower(col).like(pattern, escape=LIKE_ESCAPE)
                        for col in columns
                    )
                )
            )
        first_name_column = self._fields["name"].attributes[0]
        stmt = stmt.order_by(first_name_column, self._id).limit(limit)
        return [self.to_contact(row) for row in self._session().scalars(stmt)]

    def segments(self, owner: str) -> list[Segment]:
        """The owner's segments, from the model or the callable given."""
        spec = self._segments
        if spec is None:
            return []
        if not isinstance(spec, ModelSegments):
            return list(spec(owner))
        seg_id = getattr(spec.model, spec.id)
        seg_name = getattr(spec.model, spec.name)
        seg_owner = getattr(spec.model, spec.owner)
        relation = getattr(spec.model, spec.members)
        stmt = (
            select(seg_id, seg_name, func.count(self._id))
            .select_from(spec.model)
            .outerjoin(relation)
            .where(seg_owner == _coerce(seg_owner, owner))
            .group_by(seg_id, seg_name)
            .order_by(seg_name)
        )
        return [
            Segment(id=str(i), name=str(n), size=int(c))
            for i, n, c in self._session().execute(stmt)
        ]

    def segment_members(self, owner: str, segment_id: str) -> Iterator[Contact]:
        """The contacts of one segment, read from the database in batches."""
        spec = self._segments
        if spec is None:
            return iter(())
        if isinstance(spec, ModelSegments):
            seg_id = getattr(spec.model, spec.id)
            try:
                seg_key = _coerce(seg_id, segment_id)
            except (TypeError, ValueError):
                return iter(())
            source: Select[Any] | Iterable[Any] = (
                self._owned(owner)
                .select_from(spec.model)
                .join(getattr(spec.model, spec.members))
                .where(seg_id == seg_key)
                .where(
                    getattr(spec.model, spec.owner)
                    == _coerce(getattr(spec.model, spec.owner), owner)
                )
                .order_by(self._id)
            )
        else:
            assert self._segment_members is not None
            source = self._segment_members(owner, segment_id)
        return self._stream(source)

    def _stream(self, source: Select[Any] | Iterable[Any]) -> Iterator[Contact]:
        if isinstance(source, Select):
            result = self._session().execute(source.execution_options(yield_per=500))
            try:
                for row in result.scalars():
                    yield self.to_contact(row)
            finally:
                # A reader that stops early (a send refused half-way) must not
                # leave the server-side cursor open.
                result.close()
        else:
            for row in source:
                yield row if isinstance(row, Contact) else self.to_contact(row)

    # -- writing ----------------------------------------------------------------

    def upsert(
        self,
        owner: str,
        *,
        name: str,
        email: str | None,
        phone: str | None,
        address: Address | None,
        sms_ok: bool | None = None,
    ) -> Contact:
        """Match by email (any case), else by phone; create when neither matches.

        A matched row keeps what it holds: a customer typing an existing
        contact's email must not be able to change where that contact's
        texts, emails and parcels go. Only a blank name is filled in, and an
        address only when the record has none at all (never a mix of two
        addresses); a phone or email is never written to a matched contact,
        not even into an empty field, since that is where messages go. The
        caller keeps what differs for the merchant
        (:func:`differences`). *sms_ok* (not ``None``) is written to the
        column mapped as ``sms_ok`` (negated for a ``"!do_not_text"`` mapping);
        without such a column it changes nothing. The row is flushed, not
        committed.
        """
        session = self._session()
        row = None
        if email and "email" in self._fields:
            email_col = self._fields["email"].attributes[0]
            row = session.scalars(
                self._owned(owner)
                .where(func.lower(email_col) == email.strip().lower())
                .order_by(self._id)
                .limit(1)
            ).first()
        if row is None and phone and "phone" in self._fields:
            phone_col = self._fields["phone"].attributes[0]
            row = session.scalars(
                self._owned(owner).where(phone_col == phone).order_by(self._id).limit(1)
            ).first()
        if row is None:
            row = self.model()
            setattr(row, self._owner.key, self._owner_value(owner))
            session.add(row)
            self._write_name(row, name)
            if email:
                self._write(row, "email", email.strip())
            if phone:
                self._write(row, "phone", phone)
            self._write_address(row, address)
        else:
            if name and not self._read(row, "name"):
                self._write_name(row, name)
            if not any(getattr(row, attr.key) for attr in self._address.values()):
                self._write_address(row, address)
        if sms_ok is not None:
            self._write_flag(row, "sms_ok", sms_ok)
        session.flush()
        return self.to_contact(row)

    def _write_address(self, row: Any, address: Address | None) -> None:
        if address:
            for key, attr in self._address.items():
                setattr(row, attr.key, getattr(address, key) or None)

    def update(
        self,
        owner: str,
        contact_id: str,
        *,
        email: str | None = None,
        phone: str | None = None,
        address: Address | None = None,
    ) -> Contact | None:
        """Overwrite the given fields of one of *owner*'s contacts; flushed."""
        try:
            key = self._id_value(contact_id)
        except (TypeError, ValueError):
            return None
        session = self._session()
        row = session.scalars(self._owned(owner).where(self._id == key)).first()
        if row is None:
            return None
        if email:
            self._write(row, "email", email.strip())
        if phone:
            self._write(row, "phone", phone)
        if address:
            for key_name, attr in self._address.items():
                setattr(row, attr.key, getattr(address, key_name) or None)
        session.flush()
        return self.to_contact(row)

    def _write(self, row: Any, key: str, value: Any) -> None:
        column = self._fields.get(key)
        if column is not None:
            setattr(row, column.attributes[0].key, value)

    def _write_flag(self, row: Any, key: str, value: bool) -> None:
        column = self._fields.get(key)
        if column is not None:
            setattr(
                row, column.attributes[0].key, (not value) if column.negate else value
            )

    def _write_name(self, row: Any, name: str) -> None:
        attributes = self._fields["name"].attributes
        if len(attributes) == 1:
            setattr(row, attributes[0].key, name)
            return
        parts = name.split(None, len(attributes) - 1)
        parts += [""] * (len(attributes) - len(parts))
        for attr, part in zip(attributes, parts, strict=True):
            setattr(row, attr.key, part)


def _coerce(column: Any, value: str) -> Any:
    python_type = column.type.python_type
    return value if python_type is str else python_type(value)


@dataclass
class InMemoryContactDirectory:
    """An in-memory :class:`ContactDirectory`, for hosts without a database model.

    Useful in scripts and in the documentation's examples; it keeps contacts
    in a dict per owner.
    """

    contacts: dict[str, dict[str, Contact]] = field(default_factory=dict)
    tagged: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def get(self, owner: str, contact_id: str) -> Contact | None:
        """One contact of *owner*, or ``None``."""
        return self.contacts.get(owner, {}).get(contact_id)

    def search(self, owner: str, text: str, limit: int) -> list[Contact]:
        """Contacts whose name, email or phone contain *text*."""
        needle = text.strip().lower()
        found = [
            c
            for c in self.contacts.get(owner, {}).values()
            if needle in " ".join(filter(None, (c.name, c.email, c.phone))).lower()
        ]
        return sorted(found, key=lambda c: (c.name, c.id))[:limit]

    def segments(self, owner: str) -> list[Segment]:
        """One segment per tag."""
        return [
            Segment(id=tag, name=tag, size=len(ids))
            for tag, ids in sorted(self.tagged.get(owner, {}).items())
        ]

    def segment_members(self, owner: str, segment_id: str) -> Iterator[Contact]:
        """The contacts with that tag."""
        people = self.contacts.get(owner, {})
        for contact_id in self.tagged.get(owner, {}).get(segment_id, []):
            if contact_id in people:
                yield people[contact_id]

    def upsert(
        self,
        owner: str,
        *,
        name: str,
        email: str | None,
        phone: str | None,
        address: Address | None,
        sms_ok: bool | None = None,
    ) -> Contact:
        """Match by email, else phone, else create; a match keeps what it holds.

        *sms_ok* (not ``None``) sets the contact's SMS opt-in.
        """
        people = self.contacts.setdefault(owner, {})
        match = next(
            (
                c
                for c in people.values()
                if (email and c.email and c.email.lower() == email.lower())
            ),
            None,
        ) or next((c for c in people.values() if phone and c.phone == phone), None)
        if match is None:
            match = Contact(
                id=str(len(people) + 1), name=name, email=email, phone=phone
            )
            people[match.id] = replace(
                match, address=address, sms_ok=True if sms_ok is None else sms_ok
            )
            return people[match.id]
        updated = replace(
            match,
            name=match.name or name,
            address=match.address or address,
            sms_ok=match.sms_ok if sms_ok is None else sms_ok,
        )
        people[updated.id] = updated
        return updated

    def update(
        self,
        owner: str,
        contact_id: str,
        *,
        email: str | None = None,
        phone: str | None = None,
        address: Address | None = None,
    ) -> Contact | None:
        """Overwrite the given fields of one contact."""
        current = self.contacts.get(owner, {}).get(contact_id)
        if current is None:
            return None
        updated = replace(
            current,
            email=email or current.email,
            phone=phone or current.phone,
            address=address or current.address,
        )
        self.contacts[owner][contact_id] = updated
        return updated
