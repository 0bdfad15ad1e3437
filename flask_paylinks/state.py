"""The extension's state for one app, and the one way to reach it.

:class:`PayLinksState` is what :class:`~flask_paylinks.PayLinks` keeps for each
app it is mounted on; :func:`paylinks_state` returns it, typed, for the
current app (or a given one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from flask import Flask, current_app

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy

    from flask_paylinks.contacts import ContactDirectory
    from flask_paylinks.gateways.base import Gateway
    from flask_paylinks.jobs.queue import JobQueue
    from flask_paylinks.merchants import MerchantProfileLoader
    from flask_paylinks.messaging.base import EmailSender, SmsSender

    # A type-only reference: the state owns the web layer's page cache, and
    # the web layer creates it (see [tool.importlinter] in pyproject.toml).
    from flask_paylinks.web.rendering.page_cache import PageCache

#: Key of the state in ``app.extensions``.
EXTENSION_KEY = "paylinks"

OwnerLoader = Callable[[], Any]
ContactUrl = Callable[[str], "str | None"]


@dataclass
class PayLinksState:
    """What one app's extension holds, at ``app.extensions["paylinks"]``."""

    db: SQLAlchemy
    contacts: ContactDirectory
    owner_loader: OwnerLoader
    gateway: Gateway
    sms: SmsSender
    email: EmailSender
    jobs: JobQueue
    contact_url: ContactUrl | None = None
    merchant_profile: MerchantProfileLoader | None = None
    forms: dict[str, type[Any]] = field(default_factory=dict)
    #: Rendered checkout pages of this app, each checked against its link's
    #: revision before it is served.
    page_cache: PageCache | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def form_class(self, name: str, default: type[Any]) -> type[Any]:
        """The form class the host put in place of *name*, else *default*."""
        return self.forms.get(name, default)


def paylinks_state(app: Flask | None = None) -> PayLinksState:
    """The state of *app* (default: the current app); it must have :class:`PayLinks`."""
    target = current_app if app is None else app
    try:
        return cast(PayLinksState, target.extensions[EXTENSION_KEY])
    except KeyError:
        raise RuntimeError(
            "flask_paylinks is not mounted on this app: call PayLinks(app, ...) first."
        ) from None
