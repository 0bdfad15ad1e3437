"""How a link looks: its colours (readable by WCAG 2 contrast), buttons and logo."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from flask import current_app, url_for

from flask_paylinks.core.rules import is_hex_color
from flask_paylinks.db.models import ButtonStyle, PaymentLink
from flask_paylinks.merchants import MerchantProfile, merchant_profile

WHITE = "#FFFFFF"
DARK = "#111827"


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def luminance(color: str) -> float:
    """Relative luminance of ``#RRGGBB`` (WCAG 2)."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    """The WCAG contrast ratio of two colours, 1 to 21."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _darken(color: str, factor: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return "#{:02X}{:02X}{:02X}".format(*(int(c * factor) for c in (r, g, b)))


@dataclass(frozen=True, slots=True)
class Branding:
    """How one link looks: its colour, the text on it, its buttons and logo."""

    color: str
    #: Text on a :attr:`color` background: white or near-black, whichever reads.
    on_color: str
    #: :attr:`color`, darkened until it reads as text on white (4.5:1).
    ink: str
    button_style: str
    logo_url: str | None
    #: Who is being paid: the name, support contacts and timezone of the owner.
    merchant: MerchantProfile


@lru_cache(maxsize=512)
def palette(color: str) -> tuple[str, str, str]:
    """``(color, on_color, ink)`` for a brand colour, each readable where used."""
    color = color.upper()
    on_color = WHITE if contrast(color, WHITE) >= contrast(color, DARK) else DARK
    ink = color
    factor = 1.0
    while contrast(ink, WHITE) < 4.5 and factor > 0:
        factor -= 0.05
        ink = _darken(color, factor)
    return color, on_color, ink


def logo_url(link: PaymentLink) -> str | None:
    """The link's uploaded logo, else its logo URL, else the configured default."""
    asset = link.logo_asset
    if asset is not None and asset.token:
        return url_for("paylinks_checkout.asset", token=asset.token)
    default: str | None = current_app.config.get("PAYLINKS_LOGO_URL")
    return link.logo_url or default


def branding(link: PaymentLink) -> Branding:
    """The link's branding, falling back to the configured defaults."""
    config = current_app.config
    color = (
        link.brand_color
        if link.brand_color and is_hex_color(link.brand_color)
        else None
    )
    style = link.button_style if link.button_style in set(ButtonStyle) else None
    brand, on_color, ink = palette(color or config["PAYLINKS_BRAND_COLOR"])
    return Branding(
        color=brand,
        on_color=on_color,
        ink=ink,
        button_style=style or config["PAYLINKS_BUTTON_STYLE"],
        logo_url=logo_url(link),
        merchant=merchant_profile(link.owner_id),
    )
