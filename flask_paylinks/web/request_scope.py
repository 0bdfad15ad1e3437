"""What lives exactly as long as one request."""

from __future__ import annotations

from flask import g

from flask_paylinks.merchants import PROFILE_CACHE


def start_request() -> None:
    """Give the request its own merchant-profile cache.

    Set afresh before every request, not left to :data:`flask.g`'s own
    lifetime: an app context pushed around several requests (a test, a
    shell) would otherwise share one cache between them.
    """
    setattr(g, PROFILE_CACHE, {})
