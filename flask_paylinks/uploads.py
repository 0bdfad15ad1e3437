"""Images merchants upload (logos, product pictures), stored and served by us.

An upload is accepted only when Pillow reads it as a PNG, JPEG, GIF or WebP
image no larger than ``PAYLINKS_LOGO_MAX_BYTES``; the browser's claimed content
type and file name are ignored. SVG is refused: it can carry scripts. The
checkout serves stored files publicly (customers see the logo) under an
unguessable token, with the content type Pillow found; their URLs are built in
:mod:`flask_paylinks.web.urls`.
"""

from __future__ import annotations

import io
import re
import secrets
import warnings
from dataclasses import dataclass
from typing import IO

from flask import current_app
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
#: An asset token as :func:`save_image` makes them (``token_urlsafe(24)``).
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
#: The path a host may be mounted at: plain segments, no ``..`` and no ``//``.
_ROOT = re.compile(r"^(?:/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*$")


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


@dataclass(frozen=True)
class CheckedImage:
    """An upload that passed :func:`check_image`: its bytes and content type."""

    data: bytes
    content_type: str


def check_image(stream: IO[bytes], *, field: str) -> CheckedImage:
    """Read an uploaded image; :class:`InvalidInput` on *field* when it is not one."""
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
    return CheckedImage(data=data, content_type=content_type)


def save_image(owner: str, image: CheckedImage) -> Asset:
    """Keep a checked image for *owner*.

    The asset is added to the session, not committed: it is saved with the
    link or product it belongs to, or not at all.
    """
    asset = Asset(
        owner_id=owner,
        token=secrets.token_urlsafe(24),
        content_type=image.content_type,
        data=image.data,
        size=len(image.data),
    )
    session().add(asset)
    session().flush()
    return asset


def is_asset_path(value: str) -> bool:
    """Whether *value* is the path the checkout serves a stored file at.

    The one kind of relative image URL a product may hold: the checkout's
    ``/assets/<token>`` route, below whatever path the host is mounted at.
    Anything else that starts with ``/`` (``//evil.example``, ``..``, another
    page of the site) is not.
    """
    prefix: str = current_app.config["PAYLINKS_CHECKOUT_PREFIX"]
    root, found, token = value.rpartition(f"{prefix}/assets/")
    return bool(found) and bool(_TOKEN.match(token)) and bool(_ROOT.match(root))


def _size(limit: int) -> str:
    if limit >= 1024 * 1024:
        return f"{limit / (1024 * 1024):g} MB"
    return f"{limit // 1024} KB"
