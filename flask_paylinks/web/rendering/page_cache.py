"""Rendered checkout pages, reused while their link's revision is current.

A page differs between customers only by its CSP nonce, CSRF token and
attempt token; those are rendered as marks and filled in per response. Before
a cached page is served, one small query by slug
(:func:`~flask_paylinks.db.revisions.link_version`, on a connection of its
own) reads the link's revision and whether it takes payments: any edit to
the link, its items, a product it sells or its logo bumps the revision in
the edit's transaction, so every process sees it on its next request, and a
stopped or expired link is never served from here. Nothing else of the page
comes from the database.

What the extension cannot watch is re-checked instead: the merchant's day
(the terms name today's date) on every hit, and the merchant profile the
host's hook returns once every ``PAYLINKS_CHECKOUT_CACHE_SECONDS`` (0 turns
the cache off). Paying never trusts the page: it reloads the link, prices
the order afresh, and confirms a changed total with the customer first.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from dataclasses import dataclass, replace
from datetime import date

from flask import current_app
from flask_wtf.csrf import generate_csrf

from flask_paylinks.db.revisions import LinkVersion, link_version
from flask_paylinks.localtime import today
from flask_paylinks.merchants import MerchantProfile, merchant_profile
from flask_paylinks.state import paylinks_state
from flask_paylinks.web.security_headers import csp_nonce

#: Stand-ins for what differs per response, random per process so that no
#: merchant text can contain them.
_MARK = secrets.token_hex(12)
NONCE_MARK = f"pl-nonce-{_MARK}"
CSRF_MARK = f"pl-csrf-{_MARK}"
ATTEMPT_MARK = f"pl-attempt-{_MARK}"


_MARKS = re.compile(
    "({})".format("|".join(map(re.escape, (NONCE_MARK, CSRF_MARK, ATTEMPT_MARK))))
)


def split_marks(html: str) -> tuple[str, ...]:
    """*html* cut at its marks: text, mark, text, mark, ..., text."""
    return tuple(_MARKS.split(html))


@dataclass(frozen=True, slots=True)
class CachedPage:
    """A rendered page with marks where per-response values go."""

    #: The page cut at its marks (:func:`split_marks`): odd items are marks.
    parts: tuple[str, ...]
    link_id: int
    #: The link's revision the page was drawn from.
    revision: int
    #: Who is paid, as the page says, and when the host's hook last said so.
    merchant: MerchantProfile
    merchant_checked: float
    #: The merchant's date the page was drawn on (its terms name it).
    day: date

    def fill(self, attempt: str) -> str:
        """The page for one response: its nonce, attempt and CSRF token.

        One join over the parts cut once when the page was kept, not a
        search-and-replace of the whole page per mark and response.
        """
        parts = list(self.parts)
        values: dict[str, str] = {}
        for index in range(1, len(parts), 2):
            mark = parts[index]
            value = values.get(mark)
            if value is None:
                value = values[mark] = self._value(mark, attempt)
            parts[index] = value
        return "".join(parts)

    @staticmethod
    def _value(mark: str, attempt: str) -> str:
        if mark == NONCE_MARK:
            return csp_nonce()
        if mark == ATTEMPT_MARK:
            return attempt
        return str(generate_csrf())


class PageCache:
    """Rendered checkout pages by slug, each valid for one link revision."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._pages: dict[str, CachedPage] = {}
        self._lock = threading.Lock()

    def get(
        self, slug: str, version: LinkVersion | None, *, profile_seconds: float
    ) -> CachedPage | None:
        """The page of *slug* if it shows *version* of an active link, today,
        with the merchant profile the host gives now."""
        found = self._pages.get(slug)
        if (
            found is None
            or version is None
            or not version.active
            or found.link_id != version.id
            or found.revision != version.revision
        ):
            return None
        merchant = found.merchant
        if today(merchant.zone) != found.day:
            return None
        now = time.monotonic()
        if now - found.merchant_checked >= profile_seconds:
            if merchant_profile(version.owner_id) != merchant:
                return None
            self.put(slug, replace(found, merchant_checked=now))
        return found

    def holds(self, slug: str) -> bool:
        """Whether a page of *slug* is kept (current or not)."""
        return slug in self._pages

    def put(self, slug: str, page: CachedPage) -> None:
        """Keep *page*, dropping the oldest entries when full."""
        with self._lock:
            self._pages.pop(slug, None)
            while len(self._pages) >= self.size:
                del self._pages[next(iter(self._pages))]
            self._pages[slug] = page


def cache_seconds() -> float:
    """``PAYLINKS_CHECKOUT_CACHE_SECONDS``: 0 (or less) turns the cache off."""
    return float(current_app.config.get("PAYLINKS_CHECKOUT_CACHE_SECONDS") or 0)


def page_cache() -> PageCache | None:
    """The app's page cache, or ``None`` when caching is off."""
    if cache_seconds() <= 0:
        return None
    return paylinks_state().page_cache


def cached_page(slug: str) -> CachedPage | None:
    """The cached page of *slug*, if caching is on and the page is current."""
    seconds = cache_seconds()
    if seconds <= 0:
        return None
    state = paylinks_state()
    cache = state.page_cache
    if cache is None or not cache.holds(slug):
        return None
    version = link_version(state.db.engine, slug)
    return cache.get(slug, version, profile_seconds=seconds)


def keep_page(
    slug: str, html: str, *, link_id: int, revision: int, merchant: MerchantProfile
) -> CachedPage:
    """Cache *html* (rendered with the marks) as *slug*'s page at *revision*."""
    page = CachedPage(
        split_marks(html),
        link_id=link_id,
        revision=revision,
        merchant=merchant,
        merchant_checked=time.monotonic(),
        day=today(merchant.zone),
    )
    cache = page_cache()
    if cache is not None:
        cache.put(slug, page)
    return page
