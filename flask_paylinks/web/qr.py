"""QR codes of checkout URLs, as PNG and SVG (drawn by ``segno``)."""

from __future__ import annotations

import io

import segno


def _code(url: str) -> segno.QRCode:
    # Level M survives a little dirt on a printed code and stays small.
    return segno.make(url, error="m", micro=False)


def qr_png(url: str, *, scale: int = 10) -> bytes:
    """A PNG of the QR code of *url*, *scale* pixels a module, with a quiet zone."""
    buffer = io.BytesIO()
    _code(url).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def qr_svg(url: str, *, scale: int = 10, title: str | None = None) -> bytes:
    """A standalone SVG of the QR code of *url*, which prints at any size."""
    buffer = io.BytesIO()
    _code(url).save(
        buffer,
        kind="svg",
        scale=scale,
        border=4,
        xmldecl=True,
        svgns=True,
        title=title,
        nl=True,
    )
    return buffer.getvalue()
