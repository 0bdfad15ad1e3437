"""Images merchants upload (logos, product pictures), stored and served by us.

An upload is accepted only when Pillow reads it as a PNG, JPEG, GIF or WebP
image no larger than ``PAYLINKS_LOGO_MAX_BYTES``; the browser's claimed content
type and file name are ignored. SVG is refused: it can carry scripts. The
checkout serves stored files publicly (customers see the logo) under an
unguessable token, with the content type Pillow found.
"""

from __future__ import annotations

import io
import re
import secrets
import warnings
from typing import IO

from flask import current_app, has_request_context, request, url_for
from PIL import Image, UnidentifiedImageError

from flask_paylinks.core.errors import InvalidInput
from flask_paylinks.db.models import Asset
from flask_paylinks.db.session import session

#: Pillow format name -> the content type we serve the file with.
IMAGE_TYPES = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}
#: Width times height above which an image is refused (a decompression bomb).
MAX_PIXELS = 25_000_000
#: An asset token as :func:`store_image` makes them (``token_urlsafe(24)``).
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def read_limited(stream: IO[bytes], max_bytes: int) -> bytes | None:
    """The bytes of *stream*, or ``None`` when it holds more than *max_bytes*."""
    data = stream.read(max_bytes + 1)
    return None if len(data) > max_bytes else data


def image_type(data: bytes) -> str | None:
    """The content type of *data* when Pillow can read it as a web image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    return None
                kind = image.format
                image.verify()
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,
    ):
        return None
    return IMAGE_TYPES.get(kind or "")


def store_image(owner: str, stream: IO[bytes], *, field: str = "logo_file") -> Asset:
    """Keep an uploaded image for *owner*; :class:`InvalidInput` on *field* if bad.

    The asset is added to the session, not committed: it is saved with the
    link or product it belongs to, or not at all.
    """
    limit: int = current_app.config["PAYLINKS_LOGO_MAX_BYTES"]
    data = read_limited(stream, limit)
    if data is None:
        raise InvalidInput({field: f"The image must be {_size(limit)} or smaller."})
    if not data:
        raise InvalidInput({field: "The file is empty."})
    content_type = image_type(data)
    if content_type is None:
        raise InvalidInput(
            {field: "Upload a PNG, JPEG, GIF or WebP image; this file is not one."}
        )
    asset = Asset(
        owner_id=owner,
        token=secrets.token_urlsafe(24),
        content_type=content_type,
        data=data,
        size=len(data),
    )
    session().add(asset)
    session().flush()
    return asset


def asset_path(asset: Asset) -> str:
    """The URL path the checkout serves an uploaded file at (public, by token)."""
    return url_for("paylinks_checkout.asset", token=asset.token)


def is_asset_path(value: str) -> bool:
    """Whether *value* is the path :func:`asset_path` gives a stored file.

    The one kind of relative image URL a product may hold: anything else that
    starts with ``/`` (``//evil.example``, another page of the site) is not.
    """
    root = request.script_root if has_request_context() else ""
    prefix = f"{root}{current_app.config['PAYLINKS_CHECKOUT_PREFIX']}/assets/"
    return value.startswith(prefix) and bool(_TOKEN.match(value[len(prefix) :]))


def _size(limit: int) -> str:
    if limit >= 1024 * 1024:
        return f"{limit / (1024 * 1024):g} MB"
    return f"{limit // 1024} KB"
