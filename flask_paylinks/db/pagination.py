"""Pages of rows: keyset (cursor) pages for the big tables, numbered pages for small.

The links table and a link's payments can hold hundreds of thousands of rows,
so they page by *keyset*: a page starts after (or before) the sort key of the
row at the edge of the previous one, which costs the same on page 1 and page
4,000. A cursor is opaque, URL-safe text; a cursor that does not decode, or
belongs to another sort order, or holds a value no row can have (an id
beyond ``BIGINT``, a NUL in a name) is ignored (the first page is shown).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, tuple_
from sqlalchemy.orm import QueryableAttribute

T = TypeVar("T")
#: Sort-key integers beyond a ``BIGINT`` name no row and overflow in SQL.
_INT64 = 2**63


def page_window(page: int, per_page: int, total: int) -> tuple[int, int]:
    """The numbered page to show and its row offset, for *total* rows.

    A page past the last one shows the last one: a huge ``?page=`` must not
    become an ``OFFSET`` the database cannot hold.
    """
    last = max(1, -(-total // per_page))
    number = min(max(1, page), last)
    return number, (number - 1) * per_page


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of rows and how to reach its neighbours."""

    items: list[T]
    #: Rows matching the filters across all pages (see :attr:`total_is_capped`).
    total: int
    #: Pass as ``after`` for the next page; ``None`` on the last page.
    next_cursor: str | None = None
    #: Pass as ``before`` for the previous page; ``None`` on the first page.
    prev_cursor: str | None = None
    #: Numbered pages only: this page's number (from 1) and the page size.
    number: int | None = None
    per_page: int = 25
    #: The count stopped at :attr:`total`: there are at least that many rows.
    total_is_capped: bool = False

    @property
    def pages(self) -> int:
        """How many numbered pages there are (at least 1)."""
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        """Whether a page follows this one."""
        if self.number is not None:
            return self.number < self.pages
        return self.next_cursor is not None

    @property
    def has_prev(self) -> bool:
        """Whether a page comes before this one."""
        if self.number is not None:
            return self.number > 1
        return self.prev_cursor is not None


def encode_cursor(tag: str, values: Sequence[Any]) -> str:
    """Opaque text for a sort key; *tag* names the sort order it belongs to."""
    encoded: list[Any] = [tag]
    for value in values:
        if isinstance(value, datetime):
            encoded.append(["d", value.isoformat()])
        elif isinstance(value, bool) or not isinstance(value, int | str):
            raise TypeError(f"cannot put {type(value).__name__} in a cursor")
        else:
            encoded.append(["i" if isinstance(value, int) else "s", value])
    raw = json.dumps(encoded, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str | None, tag: str, kinds: str) -> list[Any] | None:
    """The values of a cursor made by :func:`encode_cursor`, or ``None``.

    *kinds* spells the expected value types, one letter each: ``d`` datetime,
    ``i`` int, ``s`` str. Anything else (tampered, other sort order) is ``None``.
    """
    if not text or len(text) > 1000:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        data = json.loads(raw)
    except (ValueError, binascii.Error):
        return None
    if not isinstance(data, list) or len(data) != len(kinds) + 1 or data[0] != tag:
        return None
    values: list[Any] = []
    for kind, item in zip(kinds, data[1:], strict=True):
        if not isinstance(item, list) or len(item) != 2 or item[0] != kind:
            return None
        value = item[1]
        if kind == "d":
            try:
                parsed = datetime.fromisoformat(value)
            except (TypeError, ValueError):
                return None
            if parsed.tzinfo is None or not _fits_utc(parsed):
                return None
            values.append(parsed)
        elif (kind == "i" and type(value) is int and -_INT64 <= value < _INT64) or (
            kind == "s" and isinstance(value, str) and "\x00" not in value
        ):
            values.append(value)
        else:
            return None
    return values


def _fits_utc(moment: datetime) -> bool:
    """Whether *moment* stays a datetime in UTC (year 1 at -12:00 does not)."""
    try:
        moment.astimezone(UTC)
    except OverflowError:
        return False
    return True


@dataclass(frozen=True)
class KeysetOrder:
    """A sort order for keyset paging: key expressions, all in one direction."""

    tag: str
    keys: tuple[ColumnElement[Any] | QueryableAttribute[Any], ...]
    kinds: str
    descending: bool


def keyset_select(
    stmt: Select[Any],
    order: KeysetOrder,
    *,
    after: str | None,
    before: str | None,
    per_page: int,
) -> tuple[Select[Any], str]:
    """*stmt* limited to one page (plus one row, to tell if there is more).

    Returns the statement and where the page starts: ``"first"``, ``"after"``
    a cursor, or ``"before"`` one (read backwards; :func:`keyset_page` turns
    the rows round).
    """
    start = "after"
    values = decode_cursor(after, order.tag, order.kinds)
    if values is None:
        values = decode_cursor(before, order.tag, order.kinds)
        start = "before" if values is not None else "first"
    key = tuple_(*order.keys)
    descending = order.descending != (start == "before")
    if values is not None:
        bound = tuple_(*values)
        stmt = stmt.where(key < bound if descending else key > bound)
    stmt = stmt.order_by(*(k.desc() if descending else k.asc() for k in order.keys))
    return stmt.limit(per_page + 1), start


def keyset_page(
    rows: Sequence[T],
    order: KeysetOrder,
    *,
    start: str,
    per_page: int,
    total: int,
    key_of: Callable[[T], Sequence[Any]],
) -> Page[T]:
    """Turn the rows of a :func:`keyset_select` statement into a :class:`Page`."""
    more = len(rows) > per_page
    items = list(rows[:per_page])
    if start == "before":
        items.reverse()
        has_prev, has_next = more, True
    else:
        has_prev, has_next = start == "after", more
    return Page(
        items=items,
        total=total,
        next_cursor=encode_cursor(order.tag, key_of(items[-1]))
        if items and has_next
        else None,
        prev_cursor=encode_cursor(order.tag, key_of(items[0]))
        if items and has_prev
        else None,
        per_page=per_page,
    )
