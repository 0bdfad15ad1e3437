"""The :class:`PayLinks` extension object and its per-app state."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from flask import Flask

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy

from flask_paylinks import config as config_module
from flask_paylinks.contacts import ContactDirectory
from flask_paylinks.core.errors import ConfigError
from flask_paylinks.db.models import PaymentLink, Send
from flask_paylinks.db.revisions import watch_revisions
from flask_paylinks.db.scoping import default_owner_loader
from flask_paylinks.sends.compose import Message
from flask_paylinks.state import OwnerLoader, PayLinksState

#: Names under which a host may replace the extension's form classes.
FORM_NAMES = frozenset({"product", "coupon", "link", "checkout", "send", "refund"})


class PayLinks:
    """Payment links, checkout, sends and Text-to-Pay for a Flask CRM.

    Mount it once per app::

        paylinks = PayLinks()
        paylinks.init_app(app, db=db, contacts=SQLAlchemyContactDirectory(...))

    Keyword options given to the constructor are defaults for every
    :meth:`init_app`; those given to :meth:`init_app` win.

    :param db: the host's Flask-SQLAlchemy instance; the extension's tables
        live in its database and use its session.
    :param contacts: a :class:`~flask_paylinks.ContactDirectory`.
    :param owner_loader: returns the id of the merchant the request acts for,
        or ``None`` when nobody is logged in. Default: Flask-Login's
        ``current_user.get_id()``.
    :param contact_url: given a contact id, the URL of that contact in the
        host's CRM, for links from the dashboard.
    :param merchant_profile: given an owner id, a
        :class:`~flask_paylinks.MerchantProfile`: the name, support email and
        phone customers see on the checkout, and the timezone the dashboard
        shows dates in. Default: the ``PAYLINKS_MERCHANT_NAME``,
        ``PAYLINKS_SUPPORT_EMAIL``, ``PAYLINKS_SUPPORT_PHONE`` and
        ``PAYLINKS_TIMEZONE`` settings, for every owner.
    :param forms: form classes to use in place of the extension's, by name
        (``"product"``, ``"coupon"``, ``"link"``, ``"checkout"``).
    :param gateway: a gateway object to use instead of the one
        ``PAYLINKS_GATEWAY`` names.
    :param stripe_account_for: given an owner id, the id (``acct_...``) of
        the Stripe account that owner is paid into, or ``None`` when they
        have none yet: for a host that already stores connected accounts
        (Stripe Connect without the Payments settings page's onboarding).
        Turns Connect mode on.
    :param sms_sender: an SMS sender to use instead of ``PAYLINKS_SMS_BACKEND``.
    :param email_sender: an email sender to use instead of
        ``PAYLINKS_EMAIL_BACKEND``.
    """

    def __init__(self, app: Flask | None = None, **options: Any) -> None:
        self._options = options
        if app is not None:
            self.init_app(app)

    def send_link(
        self,
        owner: str,
        link: PaymentLink | int,
        recipients: Iterable[str] | str,
        channels: Sequence[str],
        message: Message | str,
        *,
        email_subject: str = "",
    ) -> Send:
        """Send *link* to contacts from the host's own code, in the app context.

        *link* is a link (or its id) of *owner*; *recipients* a list of
        contact ids, or one segment id as a string; *channels* holds
        ``"sms"`` and/or ``"email"``; *message* a
        :class:`~flask_paylinks.sends.compose.Message` or the text of both,
        with ``{link}`` where each recipient's own URL goes. Returns the
        :class:`~flask_paylinks.db.models.Send`; the messages are queued
        (or, without Redis, sent before it returns). Raises
        :class:`~flask_paylinks.core.errors.InvalidInput` (keyed by field)
        or :class:`~flask_paylinks.core.errors.NotFound`::

            paylinks.send_link("42", link, "vip-segment", ["sms"],
                               "Hi {first_name}, renew here: {link}")
        """
        from flask_paylinks.db.scoping import require_owned
        from flask_paylinks.sends import service

        if not isinstance(link, PaymentLink):
            link = require_owned(PaymentLink, owner, link)
        return service.send_link(
            owner, link, recipients, channels, message, email_subject=email_subject
        )

    def init_app(self, app: Flask, **options: Any) -> None:
        """Configure *app*: check settings, register blueprints, CLI and filters.

        Raises :class:`RuntimeError` when *app* already has the extension and
        :class:`~flask_paylinks.core.errors.ConfigError` naming the setting at fault
        when the configuration cannot work.
        """
        if "paylinks" in app.extensions:
            raise RuntimeError(
                "PayLinks is already initialised on this app; call init_app once."
            )
        opts = {**self._options, **options}
        known = {
            "db",
            "contacts",
            "owner_loader",
            "contact_url",
            "merchant_profile",
            "forms",
            "gateway",
            "sms_sender",
            "email_sender",
            "stripe_account_for",
        }
        unknown = set(opts) - known
        if unknown:
            raise TypeError(
                f"PayLinks got unknown options: {', '.join(sorted(unknown))}"
            )

        config_module.apply_defaults(app.config)
        config_module.validate(app.config, debug=app.debug, testing=app.testing)
        db = _check_db(opts.get("db"))
        contacts = _check_contacts(opts.get("contacts"))
        owner_loader = _check_owner_loader(app, opts.get("owner_loader"))
        forms = dict(_check_forms(opts.get("forms") or {}))
        merchant_profile = opts.get("merchant_profile")
        if merchant_profile is not None and not callable(merchant_profile):
            raise ConfigError(
                "PayLinks merchant_profile= must be a callable taking an owner id "
                "and returning a MerchantProfile."
            )

        account_for = opts.get("stripe_account_for")
        if account_for is not None and not callable(account_for):
            raise ConfigError(
                "PayLinks stripe_account_for= must be a callable taking an owner "
                "id and returning a Stripe account id ('acct_...') or None."
            )

        from flask_paylinks.gateways import create_gateway
        from flask_paylinks.jobs.queue import JobQueue
        from flask_paylinks.messaging import create_email_sender, create_sms_sender

        state = PayLinksState(
            db=db,
            contacts=contacts,
            owner_loader=owner_loader,
            gateway=_check_gateway(opts.get("gateway"))
            or create_gateway(app.config, stripe_account_for=account_for),
            sms=opts.get("sms_sender") or create_sms_sender(app.config),
            email=opts.get("email_sender") or create_email_sender(app.config),
            jobs=JobQueue.from_config(app.config),
            contact_url=opts.get("contact_url"),
            merchant_profile=merchant_profile,
            forms=forms,
        )
        app.extensions["paylinks"] = state
        watch_revisions()
        _register(app)


def _check_db(db: Any) -> SQLAlchemy:
    from flask_sqlalchemy import SQLAlchemy

    if db is None:
        raise ConfigError(
            "PayLinks needs db=: the host's Flask-SQLAlchemy instance, e.g. "
            "paylinks.init_app(app, db=db, contacts=...)."
        )
    if not isinstance(db, SQLAlchemy):
        raise ConfigError(
            "PayLinks db= must be a flask_sqlalchemy.SQLAlchemy, not "
            f"{type(db).__name__}."
        )
    return db


def _check_contacts(contacts: Any) -> ContactDirectory:
    if contacts is None:
        raise ConfigError(
            "PayLinks needs contacts=: an object implementing ContactDirectory, "
            "e.g. SQLAlchemyContactDirectory(Customer, owner='account_id', "
            "fields={...})."
        )
    if not isinstance(contacts, ContactDirectory):
        missing = [
            name
            for name in (
                "get",
                "search",
                "segments",
                "segment_members",
                "upsert",
                "update",
            )
            if not callable(getattr(contacts, name, None))
        ]
        raise ConfigError(
            f"PayLinks contacts= ({type(contacts).__name__}) does not implement "
            f"ContactDirectory; it lacks {', '.join(missing)}."
        )
    return contacts


def _check_owner_loader(app: Flask, loader: Any) -> OwnerLoader:
    if loader is not None:
        if not callable(loader):
            raise ConfigError("PayLinks owner_loader= must be a callable.")
        return loader  # type: ignore[no-any-return]
    if getattr(app, "login_manager", None) is None:
        raise ConfigError(
            "PayLinks needs owner_loader=, or Flask-Login's LoginManager initialised "
            "on the app before PayLinks (the default owner is current_user.get_id())."
        )
    return default_owner_loader


def _check_gateway(gateway: Any) -> Any:
    """A host's own gateway, refused at start-up when it lacks part of the protocol."""
    if gateway is None:
        return None
    from flask_paylinks.gateways.base import missing_members

    missing = missing_members(gateway)
    if missing:
        raise ConfigError(
            f"PayLinks gateway= lacks {', '.join(missing)} of the Gateway protocol "
            "(flask_paylinks.gateways.Gateway); subclass or wrap a gateway that "
            "has them."
        )
    return gateway


def _check_forms(forms: Mapping[str, Any]) -> Mapping[str, type[Any]]:
    for name, form in forms.items():
        if name not in FORM_NAMES:
            raise ConfigError(
                f"PayLinks forms= has unknown form {name!r}; the forms are "
                f"{', '.join(sorted(FORM_NAMES))}."
            )
        if not isinstance(form, type):
            raise ConfigError(f"PayLinks forms[{name!r}] must be a form class.")
    return forms


def _register(app: Flask) -> None:
    from flask_paylinks.cli import paylinks_cli
    from flask_paylinks.web import init_app as init_web

    init_web(app)
    app.cli.add_command(paylinks_cli)
