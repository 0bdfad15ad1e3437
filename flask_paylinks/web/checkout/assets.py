"""Uploaded files the checkout serves publicly, such as a link's logo."""

from __future__ import annotations

from sqlalchemy import select

from flask_paylinks.db.models import Asset
from flask_paylinks.db.session import session

#: Only these are served: an SVG could carry script, so it gets a sandbox CSP.
IMAGE_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml"}
)


def find_asset(token: str) -> Asset | None:
    """The image *token* names (its unguessable public handle), or ``None``."""
    if not token or len(token) > 64:
        return None
    found = session().scalars(select(Asset).where(Asset.token == token)).first()
    if found is None or found.content_type not in IMAGE_TYPES:
        return None
    return found
