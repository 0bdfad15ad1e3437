"""Payment link services: look-up, listing, slugs and public URLs."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from flask import url_for
from sqlalchemy import select

from .database import session
from .models import PaymentLink
from .scoping import get_owned, owned


def new_slug() -> str:
    """An unguessable slug: 128 random bits, URL-safe (22 characters)."""
    return secrets.token_urlsafe(16)


def list_links(owner: str) -> Sequence[PaymentLink]:
    """The owner's links that are not deleted, newest first."""
    stmt = (
        owned(PaymentLink, owner)
        .where(PaymentLink.deleted_at.is_(None))
        .order_by(PaymentLink.created_at.desc(), PaymentLink.id.desc())
    )
    return session().scalars(stmt).all()


def get_link(owner: str, link_id: object) -> PaymentLink | None:
    """One of the owner's links that is not deleted, or ``None``."""
    link = get_owned(PaymentLink, owner, link_id)
    return None if link is None or link.deleted_at is not None else link


def find_by_slug(slug: str) -> PaymentLink | None:
    """The link a public slug names, deleted or not (the checkout says which)."""
    if not slug or len(slug) > 64:
        return None
    return (
        session().scalars(select(PaymentLink).where(PaymentLink.slug == slug)).first()
    )


def public_url(link: PaymentLink) -> str:
    """The full checkout URL customers open."""
    return url_for("paylinks_checkout.show", slug=link.slug, _external=True)
