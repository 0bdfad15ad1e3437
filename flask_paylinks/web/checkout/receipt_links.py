"""Receipt URLs: a signed token carries the payment's reference.

Building or reading one needs no database, so the page that answers a
database outage can still link a charged customer to their receipt.
"""

from __future__ import annotations

from flask import current_app, url_for
from itsdangerous import BadSignature, URLSafeSerializer

RECEIPT_SALT = "paylinks.receipt"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key or "", salt=RECEIPT_SALT)


def receipt_token(reference: str) -> str:
    """The signed token naming the payment *reference*."""
    return str(_serializer().dumps(reference))


def reference_of(token: str) -> str | None:
    """The reference *token* was signed for, or ``None`` when it is not ours."""
    try:
        reference = _serializer().loads(token)
    except BadSignature:
        return None
    return reference if isinstance(reference, str) else None


def receipt_url_for(slug: str, reference: str) -> str:
    """Where the customer sees the receipt of *reference*, paid on link *slug*."""
    return url_for(
        "paylinks_checkout.receipt", slug=slug, token=receipt_token(reference)
    )
