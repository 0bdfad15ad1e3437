"""Every change to what a checkout page shows bumps its link's ``revision``.

One ``before_flush`` listener, in the transaction of the change, so services
need no code of their own: a new, changed or deleted :class:`PaymentLink`,
:class:`LinkItem` (its link), :class:`Product` (every link selling it) or
:class:`Asset` (every link showing it as logo) adds one to the revision of
each link concerned, with one ``UPDATE ... SET revision = revision + 1``,
which two concurrent transactions cannot both read and overwrite.

:func:`link_version` reads a link's revision and whether it takes payments
in one small query on a connection of its own (not the ORM session), which
is what the checkout's page cache compares before serving a page.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Engine,
    Table,
    bindparam,
    event,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, UOWTransaction

from flask_paylinks.db.models import (
    Asset,
    LinkItem,
    PaymentLink,
    Product,
    link_takes_payments,
)

_links: Table = PaymentLink.__table__  # type: ignore[assignment]
_items: Table = LinkItem.__table__  # type: ignore[assignment]


def _values(obj: Any, key: str) -> set[Any]:
    """*obj*'s *key* now and, when this flush changes it, before."""
    values = {getattr(obj, key), *inspect(obj).attrs[key].history.deleted}
    values.discard(None)
    return values


def _touched(session: Session, model: type[Any]) -> Iterable[tuple[Any, bool]]:
    """Rows of *model* this flush writes, each with whether it is new."""
    for obj in session.new:
        if isinstance(obj, model):
            yield obj, True
    for obj in session.dirty:
        if isinstance(obj, model) and session.is_modified(
            obj, include_collections=False
        ):
            yield obj, False
    for obj in session.deleted:
        if isinstance(obj, model):
            yield obj, False


def bump_revisions(session: Session, flush_context: UOWTransaction, _: Any) -> None:
    """Add one to the revision of every stored link this flush changes."""
    link_ids: set[int] = set()
    product_ids: set[int] = set()
    asset_ids: set[int] = set()
    for link, new in _touched(session, PaymentLink):
        if not new:
            link_ids.add(link.id)
    for item, new in _touched(session, LinkItem):
        link_ids.update(_values(item, "link_id"))
        # A new item appended to a stored link knows the link, not yet its id.
        if new and item.link is not None and item.link.id is not None:
            link_ids.add(item.link.id)
    for product, new in _touched(session, Product):
        if not new:
            product_ids.add(product.id)
    for asset, new in _touched(session, Asset):
        if not new:
            asset_ids.add(asset.id)
    which = []
    if link_ids:
        which.append(_links.c.id.in_(link_ids))
    if product_ids:
        used = select(_items.c.link_id).where(_items.c.product_id.in_(product_ids))
        which.append(_links.c.id.in_(used))
    if asset_ids:
        which.append(_links.c.logo_asset_id.in_(asset_ids))
    if not which:
        return
    session.execute(
        update(_links).where(or_(*which)).values(revision=_links.c.revision + 1)
    )
    # Links loaded in this session read their new revision when next asked.
    for obj in list(session.identity_map.values()):
        if isinstance(obj, PaymentLink):
            session.expire(obj, ["revision"])


def watch_revisions() -> None:
    """Keep revisions in every ORM session (once per process, however many apps)."""
    if not event.contains(Session, "before_flush", bump_revisions):
        event.listen(Session, "before_flush", bump_revisions)


@dataclass(frozen=True, slots=True)
class LinkVersion:
    """What a cached checkout page is checked against: one row of a link."""

    id: int
    revision: int
    owner_id: str
    active: bool


_VERSION = select(
    _links.c.id,
    _links.c.revision,
    _links.c.owner_id,
    _links.c.status,
    _links.c.expires_at,
    _links.c.deleted_at,
).where(_links.c.slug == bindparam("slug"))


def link_version(engine: Engine, slug: str) -> LinkVersion | None:
    """The revision of the link *slug* names, and whether it takes payments.

    Read on a pooled connection of *engine*, outside any ORM session, so a
    cached page costs this one query; ``None`` when no link has that slug.
    """
    if not slug or len(slug) > 64:
        return None
    with engine.connect() as connection:
        row = connection.execute(_VERSION, {"slug": slug}).first()
    if row is None:
        return None
    return LinkVersion(
        id=row.id,
        revision=row.revision,
        owner_id=row.owner_id,
        active=link_takes_payments(row.status, row.expires_at, row.deleted_at),
    )
