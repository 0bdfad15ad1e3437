"""Configuration keys, their defaults, and the start-up checks on them.

Every key is read from ``app.config`` as ``PAYLINKS_<KEY>``. :func:`apply_defaults`
fills in what the host did not set; :func:`validate` refuses a configuration that
could only fail later, naming the key at fault.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from babel import Locale, UnknownLocaleError

from flask_paylinks.core.errors import ConfigError
from flask_paylinks.core.money import is_currency
from flask_paylinks.core.rules import is_hex_color
from flask_paylinks.db.models import ButtonStyle
from flask_paylinks.merchants import zone_named
from flask_paylinks.messaging.sms import SIGNATURE_METHODS
from flask_paylinks.sends.quiet import parse_window


@dataclass(frozen=True)
class ConfigKey:
    """One configuration key: its default and what it means."""

    default: Any
    doc: str


#: Said of the keys of features that have not landed yet.
_NO_SMS_YET = (
    "**Not yet used:** nothing in this version sends SMS (bulk sends and "
    "Text-to-Pay are not built yet). "
)
_EMAIL_USE = "Used for customers' receipts (bulk sends by email are not built yet). "

DEFAULTS: dict[str, ConfigKey] = {
    # URLs
    "PAYLINKS_DASHBOARD_PREFIX": ConfigKey(
        "/paylinks", "URL prefix of the merchant dashboard."
    ),
    "PAYLINKS_CHECKOUT_PREFIX": ConfigKey(
        "/pay", "URL prefix of the public checkout pages (``/pay/<slug>``)."
    ),
    "PAYLINKS_WEBHOOK_PREFIX": ConfigKey(
        "/paylinks/webhooks",
        "URL prefix of the provider callbacks: Vonage's delivery receipts at "
        "``<prefix>/vonage/status`` and inbound SMS at ``<prefix>/vonage/inbound`` "
        "(see :doc:`messaging`).",
    ),
    "PAYLINKS_API_PREFIX": ConfigKey(
        "/paylinks/api",
        "**Not yet used:** this version has no JSON API. URL prefix it will have.",
    ),
    "PAYLINKS_PUBLIC_URL": ConfigKey(
        None,
        "Scheme and host customers reach the checkout on, e.g. "
        "``https://crm.example.com``. Used for URLs built outside a request (CLI, "
        "jobs). Unset: ``SERVER_NAME`` and ``PREFERRED_URL_SCHEME``, else "
        "``http://localhost:5000``.",
    ),
    # Gateways
    "PAYLINKS_GATEWAY": ConfigKey(
        "sandbox",
        "Payment gateway: ``sandbox`` (test mode, no money moves) or ``stripe``.",
    ),
    "PAYLINKS_ALLOW_SANDBOX": ConfigKey(
        False,
        "Allow the ``sandbox`` gateway outside debug and testing. Off by default so "
        "a production deployment cannot take fake payments by accident.",
    ),
    "PAYLINKS_STRIPE_SECRET_KEY": ConfigKey(
        None,
        "Stripe secret key (``sk_test_...``/``sk_live_...``, or a restricted "
        "``rk_...`` key); required with the Stripe gateway. Its mode must match "
        "the publishable key's.",
    ),
    "PAYLINKS_STRIPE_PUBLISHABLE_KEY": ConfigKey(
        None, "Stripe publishable key (``pk_...``); required with the Stripe gateway."
    ),
    "PAYLINKS_STRIPE_WEBHOOK_SECRET": ConfigKey(
        None,
        "Signing secret of the Stripe webhook endpoint (``whsec_...``); required "
        "with the Stripe gateway.",
    ),
    "PAYLINKS_STRIPE_CONNECT": ConfigKey(
        False,
        "Stripe Connect: each owner is paid into their own Stripe account, "
        "connected from the dashboard's Payments settings page (or named by the "
        "host's ``stripe_account_for=``). False: the host's own account for every "
        "owner. See :doc:`gateways`.",
    ),
    "PAYLINKS_STRIPE_APPLICATION_FEE_BPS": ConfigKey(
        0,
        "The platform's fee on each Connect payment, in basis points (0 to "
        "10000; 250 is 2.5%), rounded down to a minor unit, sent as "
        "``application_fee_amount``. Needs ``PAYLINKS_STRIPE_CONNECT``.",
    ),
    "PAYLINKS_STRIPE_CONNECT_WEBHOOK_SECRET": ConfigKey(
        None,
        "Signing secret (``whsec_...``) of the Stripe endpoint that listens to "
        "events on connected accounts (Stripe signs it apart from the platform's "
        "endpoint, even at the same URL). Unset: only "
        "``PAYLINKS_STRIPE_WEBHOOK_SECRET`` is tried.",
    ),
    "PAYLINKS_STRIPE_API_BASE": ConfigKey(
        None,
        "Base URL of the Stripe API. Unset: Stripe itself. Tests point it at a "
        "local Stripe-compatible server.",
    ),
    "PAYLINKS_STRIPE_JS_URL": ConfigKey(
        "https://js.stripe.com/v3/",
        "URL of Stripe.js, which the checkout's payment step loads. Keep Stripe's "
        "own; tests point it at a stand-in. The checkout's CSP allows its origin.",
    ),
    # Jobs
    "PAYLINKS_REDIS_URL": ConfigKey(
        None,
        "Redis URL for the RQ job queue and the rate-limit store. Unset: jobs run "
        "inline in the request and rate limits are kept in memory.",
    ),
    "PAYLINKS_QUEUE_NAME": ConfigKey("paylinks", "Name of the RQ queue."),
    "PAYLINKS_SWEEP_SECONDS": ConfigKey(
        10,
        "How often ``flask paylinks worker`` runs the sweeper: it hands out "
        "again follow-ups that are due and not done (a lost queue, a killed "
        "worker) and settles payments left pending.",
    ),
    "PAYLINKS_OUTBOX_LEASE_SECONDS": ConfigKey(
        30,
        "How long a running follow-up may take before it is taken to be lost "
        "(its worker died) and run again. Longer than any one follow-up runs.",
    ),
    "PAYLINKS_OUTBOX_REDISPATCH_SECONDS": ConfigKey(
        30,
        "How long a follow-up handed to the queue may wait there before the "
        "sweeper hands it out again (the queue may have lost it).",
    ),
    "PAYLINKS_OUTBOX_MAX_ATTEMPTS": ConfigKey(
        8,
        "Runs of a failing follow-up (5 s, 10 s, 20 s … apart, at most 10 "
        "min) before it is parked and logged as an error for a person.",
    ),
    # Messaging
    "PAYLINKS_SMS_BACKEND": ConfigKey(
        "console",
        f"{_NO_SMS_YET}SMS sender: ``console`` (logs each message) or ``vonage``.",
    ),
    "PAYLINKS_VONAGE_API_KEY": ConfigKey(
        None, f"{_NO_SMS_YET}Vonage API key (SMS backend)."
    ),
    "PAYLINKS_VONAGE_API_SECRET": ConfigKey(
        None, f"{_NO_SMS_YET}Vonage API secret (SMS backend)."
    ),
    "PAYLINKS_SMS_FROM": ConfigKey(
        None,
        f"{_NO_SMS_YET}Sender id or number SMS are sent from; required with Vonage.",
    ),
    "PAYLINKS_VONAGE_REST_HOST": ConfigKey(
        None,
        "Host name (and port) of Vonage's SMS API, e.g. ``rest.nexmo.com``. "
        "Unset: Vonage itself. The SDK always speaks HTTPS to it; tests and the "
        "benchmark point it at a local fake.",
    ),
    "PAYLINKS_VONAGE_SIGNATURE_SECRET": ConfigKey(
        None,
        "Signature secret of the Vonage account (dashboard, API settings). Set: "
        "delivery receipts and inbound SMS must carry a good ``sig`` or are "
        "answered 401 and ignored. Unset: callbacks are taken unsigned (a "
        "warning is logged at start-up when the Vonage backend is on). See "
        ":doc:`messaging`.",
    ),
    "PAYLINKS_VONAGE_SIGNATURE_METHOD": ConfigKey(
        "sha256",
        "How Vonage signs callbacks, as chosen in its dashboard: ``md5hash``, "
        "``md5``, ``sha1``, ``sha256`` or ``sha512`` (the last four are HMACs).",
    ),
    "PAYLINKS_EMAIL_BACKEND": ConfigKey(
        "console",
        f"{_EMAIL_USE}Email sender: ``console`` (logs each message) or ``smtp``.",
    ),
    "PAYLINKS_SMTP_HOST": ConfigKey("localhost", f"{_EMAIL_USE}SMTP server host."),
    "PAYLINKS_SMTP_PORT": ConfigKey(25, f"{_EMAIL_USE}SMTP server port."),
    "PAYLINKS_SMTP_USERNAME": ConfigKey(
        None, f"{_EMAIL_USE}SMTP user name, if it needs one."
    ),
    "PAYLINKS_SMTP_PASSWORD": ConfigKey(
        None, f"{_EMAIL_USE}SMTP password, if it needs one."
    ),
    "PAYLINKS_SMTP_STARTTLS": ConfigKey(
        False, f"{_EMAIL_USE}Upgrade the SMTP connection with STARTTLS."
    ),
    "PAYLINKS_EMAIL_FROM": ConfigKey(
        "payments@localhost",
        f"{_EMAIL_USE}The From address of the emails the extension sends.",
    ),
    # Presentation
    "PAYLINKS_BASE_TEMPLATE": ConfigKey(
        "paylinks/base.html",
        "The host layout the dashboard pages extend. It must define "
        "``{% block content %}``; ``{% block title %}`` is filled when present.",
    ),
    "PAYLINKS_LOCALE": ConfigKey(
        "en_US", "Babel locale for money, number and date formatting."
    ),
    "PAYLINKS_DEFAULT_CURRENCY": ConfigKey(
        "USD", "ISO 4217 currency preselected on new products."
    ),
    "PAYLINKS_PHONE_REGION": ConfigKey(
        "US",
        "Region (ISO 3166 alpha-2) used to read phone numbers typed without a "
        "``+`` country code.",
    ),
    "PAYLINKS_BRAND_COLOR": ConfigKey(
        "#4F46E5", "Brand colour of a link that does not set its own (``#RRGGBB``)."
    ),
    "PAYLINKS_BUTTON_STYLE": ConfigKey(
        "rounded",
        "Button style of a link that does not set its own: rounded, square, pill.",
    ),
    "PAYLINKS_LOGO_URL": ConfigKey(
        None, "Logo of a link that does not set its own (absolute https URL or path)."
    ),
    # Who is being paid (used when init_app gets no merchant_profile= hook)
    "PAYLINKS_MERCHANT_NAME": ConfigKey(
        None,
        "The business name the checkout shows (title, header, receipt, the "
        "no-longer-available page) when ``init_app`` gets no ``merchant_profile=``"
        " hook. Unset: the pages name nobody.",
    ),
    "PAYLINKS_SUPPORT_EMAIL": ConfigKey(
        None,
        "Where customers write for help and to cancel a subscription, when there is "
        "no ``merchant_profile=`` hook.",
    ),
    "PAYLINKS_SUPPORT_PHONE": ConfigKey(
        None,
        "A phone number customers may call, as it should be shown, when there is "
        "no ``merchant_profile=`` hook.",
    ),
    "PAYLINKS_TIMEZONE": ConfigKey(
        "UTC",
        "IANA timezone (e.g. ``Europe/Berlin``) the dashboard shows dates in and "
        "its date filters use, for merchants whose profile names none.",
    ),
    "PAYLINKS_PAGE_SIZE": ConfigKey(25, "Rows per page in the dashboard tables."),
    # Dashboard security headers
    "PAYLINKS_DASHBOARD_FRAME_ANCESTORS": ConfigKey(
        "'self'",
        "Who may show the dashboard in a frame: the sources of its CSP "
        "``frame-ancestors``, as a string or a list, e.g. ``\"'self' "
        "https://portal.example.com\"``. ``'self'`` and ``'none'`` also send "
        "``X-Frame-Options`` (``SAMEORIGIN``, ``DENY``); a list of other origins "
        "is left to ``frame-ancestors``, which browsers follow instead.",
    ),
    "PAYLINKS_DASHBOARD_CSP": ConfigKey(
        False,
        "Send a nonce-based Content-Security-Policy on the dashboard pages. Off by "
        "default, because the dashboard renders inside the host layout: turn it "
        "on once every inline ``<script>`` and ``<style>`` of that layout carries "
        '``nonce="{{ paylinks_csp_nonce() }}"``. ``True`` allows scripts, styles '
        "and connections from the site itself and images from it, ``data:`` and "
        "``https:``; a mapping turns it on and adds sources per directive, e.g. "
        '``{"font-src": ["https://fonts.gstatic.com"]}``. Off or on, the '
        "dashboard always sends ``frame-ancestors``, ``nosniff``, "
        "``Referrer-Policy: same-origin`` and ``Cache-Control: no-store``.",
    ),
    # Limits
    "PAYLINKS_MAX_QUANTITY": ConfigKey(
        999, "Highest quantity a link may let a customer choose for one item."
    ),
    "PAYLINKS_MAX_ITEMS_PER_LINK": ConfigKey(20, "Most products one link may hold."),
    "PAYLINKS_TEXT_TO_PAY_MAX_AMOUNT": ConfigKey(
        1_000_000,
        "Highest total one Text-to-Pay request may ask for, in minor units of its "
        "currency (the default, 1,000,000, is 10,000.00 dollars or euros, or "
        "1,000,000 yen).",
    ),
    "PAYLINKS_LOGO_MAX_BYTES": ConfigKey(
        512 * 1024, "Largest logo upload accepted, in bytes."
    ),
    "PAYLINKS_MAX_CONTENT_LENGTH": ConfigKey(
        1024 * 1024,
        "Largest request body the extension's routes read, in bytes; a larger one "
        "is answered 413 without being read. It applies to the dashboard and "
        "checkout only (the host's routes keep ``MAX_CONTENT_LENGTH``); it is "
        "raised to ``PAYLINKS_LOGO_MAX_BYTES`` plus 64 KiB if set lower, and a "
        "smaller ``MAX_CONTENT_LENGTH`` of the host wins. ``None``: only the "
        "host's ``MAX_CONTENT_LENGTH``.",
    ),
    "PAYLINKS_RATELIMIT_CHECKOUT": ConfigKey(
        "20 per minute;200 per hour",
        "Rate limit on starting payments, per client address (Flask-Limiter syntax).",
    ),
    "PAYLINKS_RATELIMIT_COUPON": ConfigKey(
        "10 per minute;60 per hour",
        "Rate limit on coupon code attempts, per client address.",
    ),
    "PAYLINKS_RATELIMIT_ENABLED": ConfigKey(True, "Turn the rate limits on or off."),
    # Sends
    "PAYLINKS_SEND_BATCH_SIZE": ConfigKey(
        100, "Messages of a bulk send one job hands to the provider."
    ),
    "PAYLINKS_SEND_RATE": ConfigKey(
        30,
        "Most messages a second all workers together hand to the providers "
        "(a token bucket in Redis, shared by every worker).",
    ),
    "PAYLINKS_SEND_CONCURRENCY": ConfigKey(
        4,
        "Messages one worker has in flight at once: with a provider that takes "
        "50 ms to answer, 4 reach 80 a second, so one worker fills the rate.",
    ),
    "PAYLINKS_INLINE_SEND_LIMIT": ConfigKey(
        50,
        "Without Redis, messages go out from the merchant's request: a send to "
        "more contacts than this is refused with a message saying a worker is "
        "needed.",
    ),
    "PAYLINKS_QUIET_HOURS": ConfigKey(
        "21:00-08:00",
        "No SMS between these times in the contact's timezone (from the phone "
        "number, else the merchant's); those messages wait. ``None`` or ``''`` "
        "turns quiet hours off.",
    ),
    "PAYLINKS_MESSAGE_LEASE_SECONDS": ConfigKey(
        60,
        "How long a claimed message may wait for the provider's answer. A claim "
        "older than this (its worker died) leaves the message in doubt: marked "
        "failed, never sent twice.",
    ),
    "PAYLINKS_MESSAGE_MAX_ATTEMPTS": ConfigKey(
        8,
        "Tries of a message the provider keeps deferring (throttled) before it "
        "is marked failed; back-off 5 s, 10 s, 20 s … 10 min.",
    ),
    "PAYLINKS_OPEN_COUNT_SECONDS": ConfigKey(
        1,
        "Anonymous checkout visits are counted in each process and written at "
        "most this often (one ``UPDATE`` per link), so a cached checkout page "
        "stays cheap. 0 writes each visit at once.",
    ),
    "PAYLINKS_PERSONAL_LINK_DAYS": ConfigKey(
        90,
        "Days a recipient's personal URL knows who they are. After that it opens "
        "the checkout as an anonymous visit.",
    ),
    "PAYLINKS_CHECKOUT_CACHE_SECONDS": ConfigKey(
        10,
        "0 turns the checkout's page cache off; any other value turns it on. It is"
        " no longer a staleness window: a cached page is served only while its"
        " link's revision is current, so an edit to the link, its items, a product"
        " or the logo shows in every process at once. The value is how many"
        " seconds a cached page may keep the merchant profile the host's"
        " ``merchant_profile`` hook returned before the hook is asked again. Each"
        " response gets its own nonce, CSRF token and attempt, and the amount"
        " charged is always priced afresh.",
    ),
    "PAYLINKS_PENDING_TIMEOUT": ConfigKey(
        3600,
        "Seconds a started but unfinished payment holds its coupon redemption; "
        "after that the sweeper (the worker, or ``flask paylinks reconcile``) "
        "marks it abandoned (failed). A gateway that knows sooner that a "
        "payment can no longer finish (the sandbox: after 2 minutes) says so.",
    ),
    "PAYLINKS_RECONCILE_AFTER_MINUTES": ConfigKey(
        10,
        "Minutes a payment may stay pending before the reconciler asks the "
        "gateway what became of it (its webhook may never have come) and "
        "applies the answer; refunds left pending that long are asked again. "
        "See :ref:`reconciler`.",
    ),
    "PAYLINKS_RECONCILE_SECONDS": ConfigKey(
        300,
        "How often ``flask paylinks worker`` runs the reconciler, from its "
        "sweep loop. Without a worker, run ``flask paylinks reconcile`` from "
        "cron.",
    ),
}

GATEWAYS = ("sandbox", "stripe")
SMS_BACKENDS = ("console", "vonage")
EMAIL_BACKENDS = ("console", "smtp")
#: The values of :class:`~flask_paylinks.db.models.ButtonStyle`, for code that
#: wants a tuple of strings (the checkout's branding reads it).
BUTTON_STYLES = tuple(style.value for style in ButtonStyle)


def apply_defaults(config: dict[str, Any]) -> None:
    """Set every ``PAYLINKS_*`` key the host left out to its default."""
    for key, spec in DEFAULTS.items():
        config.setdefault(key, spec.default)


def _require(config: Mapping[str, Any], key: str, because: str) -> None:
    if not config.get(key):
        raise ConfigError(f"{key} must be set {because}.")


def _one_of(config: Mapping[str, Any], key: str, choices: tuple[str, ...]) -> None:
    value = config.get(key)
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ConfigError(f"{key}={value!r} is not one of {allowed}.")


def _prefix(config: Mapping[str, Any], key: str) -> None:
    value = config.get(key)
    if not isinstance(value, str) or not value.startswith("/") or value.endswith("/"):
        raise ConfigError(
            f"{key}={value!r} must start with '/' and not end with one, "
            "e.g. '/paylinks'."
        )


def _positive_int(config: Mapping[str, Any], key: str) -> None:
    value = config.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{key}={value!r} must be a whole number of at least 1.")


#: A CSP directive name, and a source a host may add to one.
_DIRECTIVE = re.compile(r"[a-z][a-z-]*")
_SOURCE = re.compile(r"[^\s;,]+")


def _dashboard_headers(config: Mapping[str, Any]) -> None:
    from flask_paylinks.web.security_headers import parse_frame_ancestors

    key = "PAYLINKS_DASHBOARD_FRAME_ANCESTORS"
    try:
        parse_frame_ancestors(config.get(key))  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise ConfigError(
            f"{key}={config.get(key)!r} is not a frame-ancestors source list "
            f"({error}), e.g. \"'self'\" or \"'self' https://portal.example.com\"."
        ) from None

    key = "PAYLINKS_DASHBOARD_CSP"
    value = config.get(key)
    if isinstance(value, bool):
        return
    example = '{"font-src": ["https://fonts.gstatic.com"]}'
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{key}={value!r} must be True, False or a mapping of extra sources "
            f"per directive, e.g. {example}."
        )
    for name, sources in value.items():
        if not isinstance(name, str) or not _DIRECTIVE.fullmatch(name):
            raise ConfigError(f"{key} names a directive {name!r} that is not one.")
        if name == "frame-ancestors":
            raise ConfigError(
                f"{key} cannot set frame-ancestors; use "
                "PAYLINKS_DASHBOARD_FRAME_ANCESTORS."
            )
        if not isinstance(sources, (list, tuple)) or not all(
            isinstance(s, str) and _SOURCE.fullmatch(s) for s in sources
        ):
            raise ConfigError(
                f"{key}[{name!r}] must be a list of sources without spaces, ';' "
                f"or ',', e.g. {example}."
            )


def validate(config: Mapping[str, Any], *, debug: bool, testing: bool) -> None:
    """Raise :class:`ConfigError` naming the key of the first bad setting."""
    _check_urls(config)
    _check_providers(config, debug=debug, testing=testing)
    _check_presentation(config)
    _check_limits(config)
    _dashboard_headers(config)
    _positive_int(config, "PAYLINKS_RECONCILE_AFTER_MINUTES")
    _positive_int(config, "PAYLINKS_RECONCILE_SECONDS")


def _check_urls(config: Mapping[str, Any]) -> None:
    for key in (
        "PAYLINKS_DASHBOARD_PREFIX",
        "PAYLINKS_CHECKOUT_PREFIX",
        "PAYLINKS_WEBHOOK_PREFIX",
        "PAYLINKS_API_PREFIX",
    ):
        _prefix(config, key)
    public_url = config.get("PAYLINKS_PUBLIC_URL")
    if public_url is not None and (
        not isinstance(public_url, str)
        or not re.fullmatch(r"https?://[^/\s]+", public_url)
    ):
        raise ConfigError(
            f"PAYLINKS_PUBLIC_URL={public_url!r} must be a scheme and host only, "
            "e.g. 'https://crm.example.com'."
        )


def _check_providers(config: Mapping[str, Any], *, debug: bool, testing: bool) -> None:
    _one_of(config, "PAYLINKS_GATEWAY", GATEWAYS)
    if config["PAYLINKS_GATEWAY"] == "sandbox":
        if not (debug or testing or config.get("PAYLINKS_ALLOW_SANDBOX")):
            raise ConfigError(
                "PAYLINKS_GATEWAY='sandbox' takes no real payments and is refused "
                "outside debug or testing. Set PAYLINKS_ALLOW_SANDBOX=True to run a "
                "public demo on it. This version has no gateway that takes real "
                "payments yet: the 'stripe' gateway cannot complete a checkout (see "
                "the Gateways page of the docs)."
            )
    else:
        _check_stripe_keys(config)

    _one_of(config, "PAYLINKS_SMS_BACKEND", SMS_BACKENDS)
    if config["PAYLINKS_SMS_BACKEND"] == "vonage":
        for key in (
            "PAYLINKS_VONAGE_API_KEY",
            "PAYLINKS_VONAGE_API_SECRET",
            "PAYLINKS_SMS_FROM",
        ):
            _require(config, key, "with PAYLINKS_SMS_BACKEND='vonage'")
    _one_of(config, "PAYLINKS_VONAGE_SIGNATURE_METHOD", SIGNATURE_METHODS)
    for key in ("PAYLINKS_VONAGE_REST_HOST", "PAYLINKS_VONAGE_SIGNATURE_SECRET"):
        value = config.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigError(f"{key}={value!r} must be a non-empty string or None.")
    rest_host = config.get("PAYLINKS_VONAGE_REST_HOST")
    if rest_host and not re.fullmatch(r"[A-Za-z0-9.-]+(:\d{1,5})?", rest_host):
        raise ConfigError(
            f"PAYLINKS_VONAGE_REST_HOST={rest_host!r} must be a host name and "
            "optional port, without a scheme, e.g. 'rest.nexmo.com' or "
            "'127.0.0.1:8443'."
        )
    _one_of(config, "PAYLINKS_EMAIL_BACKEND", EMAIL_BACKENDS)


_STRIPE_SECRET = "PAYLINKS_STRIPE_SECRET_KEY"  # noqa: S105 (a key name)
_STRIPE_PUBLISHABLE = "PAYLINKS_STRIPE_PUBLISHABLE_KEY"
_STRIPE_WEBHOOK = "PAYLINKS_STRIPE_WEBHOOK_SECRET"
#: A Stripe API key: its kind, its mode, then the rest.
_STRIPE_KEY = re.compile(r"(sk|rk|pk)_(test|live)_[A-Za-z0-9]+")


def _stripe_key(config: Mapping[str, Any], key: str) -> tuple[str, str] | None:
    """The kind (``sk``, ``rk``, ``pk``) and mode of the Stripe key in *key*.

    ``None`` when it is not shaped like a Stripe API key. Messages name the
    key and the kind found, never the value: it is a secret.
    """
    value = config.get(key)
    if not value:
        raise ConfigError(f"{key} must be set with PAYLINKS_GATEWAY='stripe'.")
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be a string.")
    match = _STRIPE_KEY.fullmatch(value.strip())
    return None if match is None else (match.group(1), match.group(2))


def _check_stripe_keys(config: Mapping[str, Any]) -> None:
    """Refuse Stripe keys in the wrong slot, of mixed modes, or a missing secret."""
    secret = _stripe_key(config, _STRIPE_SECRET)
    if secret is None:
        raise ConfigError(
            f"{_STRIPE_SECRET} is not a Stripe secret key: it must start with "
            "'sk_test_' or 'sk_live_' (or 'rk_' for a restricted key)."
        )
    if secret[0] == "pk":
        raise ConfigError(
            f"{_STRIPE_SECRET} holds a publishable key (pk_...); it must be the "
            f"secret key (sk_...). The publishable key goes in {_STRIPE_PUBLISHABLE}."
        )
    publishable = _stripe_key(config, _STRIPE_PUBLISHABLE)
    if publishable is None:
        raise ConfigError(
            f"{_STRIPE_PUBLISHABLE} is not a Stripe publishable key: it must "
            "start with 'pk_test_' or 'pk_live_'."
        )
    if publishable[0] != "pk":
        raise ConfigError(
            f"{_STRIPE_PUBLISHABLE} holds a secret key ({publishable[0]}_...), "
            "which would be sent to every customer's browser; it must be the "
            f"publishable key (pk_...). Roll that secret key in Stripe's dashboard "
            "if it was ever served."
        )
    if secret[1] != publishable[1]:
        raise ConfigError(
            f"{_STRIPE_SECRET} is a {secret[1]} key but {_STRIPE_PUBLISHABLE} is a "
            f"{publishable[1]} key: both must be test keys, or both live keys."
        )
    webhook = config.get(_STRIPE_WEBHOOK)
    if not webhook:
        raise ConfigError(
            f"{_STRIPE_WEBHOOK} must be set with PAYLINKS_GATEWAY='stripe': without "
            "it no webhook can be verified, so no payment would ever be marked "
            "paid. It is the endpoint's signing secret (whsec_...)."
        )
    if not isinstance(webhook, str) or not re.fullmatch(r"whsec_\S+", webhook):
        raise ConfigError(
            f"{_STRIPE_WEBHOOK} is not a webhook signing secret: it must start "
            "with 'whsec_'."
        )
    _check_connect(config)
    api_base = config.get("PAYLINKS_STRIPE_API_BASE")
    if api_base is not None and (
        not isinstance(api_base, str)
        or not re.fullmatch(r"https?://[^/\s]+(/[^\s]*)?", api_base)
    ):
        raise ConfigError(
            f"PAYLINKS_STRIPE_API_BASE={api_base!r} must be an http(s) URL, e.g. "
            "'http://127.0.0.1:8420', or None for Stripe itself."
        )
    js_url = config.get("PAYLINKS_STRIPE_JS_URL")
    if not isinstance(js_url, str) or not re.fullmatch(
        r"https?://[^/\s]+(/[^\s]*)?", js_url
    ):
        raise ConfigError(
            f"PAYLINKS_STRIPE_JS_URL={js_url!r} must be an http(s) URL, e.g. "
            "'https://js.stripe.com/v3/'."
        )


def _check_connect(config: Mapping[str, Any]) -> None:
    """Refuse a Connect switch that is not a bool, or a fee out of range or unused."""
    connect = config.get("PAYLINKS_STRIPE_CONNECT")
    if not isinstance(connect, bool):
        raise ConfigError(f"PAYLINKS_STRIPE_CONNECT={connect!r} must be True or False.")
    key = "PAYLINKS_STRIPE_APPLICATION_FEE_BPS"
    bps = config.get(key)
    if not isinstance(bps, int) or isinstance(bps, bool) or not 0 <= bps <= 10_000:
        raise ConfigError(
            f"{key}={bps!r} must be a whole number of basis points from 0 to 10000 "
            "(250 is 2.5%)."
        )
    if bps and not connect:
        raise ConfigError(
            f"{key} needs PAYLINKS_STRIPE_CONNECT=True: a platform fee is taken "
            "from payments into merchants' own accounts."
        )
    secret = config.get("PAYLINKS_STRIPE_CONNECT_WEBHOOK_SECRET")
    if secret is not None and (
        not isinstance(secret, str) or not re.fullmatch(r"whsec_\S+", secret)
    ):
        raise ConfigError(
            "PAYLINKS_STRIPE_CONNECT_WEBHOOK_SECRET is not a webhook signing "
            "secret: it must start with 'whsec_'."
        )


def _check_presentation(config: Mapping[str, Any]) -> None:
    _one_of(config, "PAYLINKS_BUTTON_STYLE", BUTTON_STYLES)
    color = config.get("PAYLINKS_BRAND_COLOR")
    if not isinstance(color, str) or not is_hex_color(color):
        raise ConfigError(f"PAYLINKS_BRAND_COLOR={color!r} must look like '#4F46E5'.")

    locale = config.get("PAYLINKS_LOCALE")
    try:
        Locale.parse(locale)
    except (UnknownLocaleError, ValueError, TypeError):
        raise ConfigError(
            f"PAYLINKS_LOCALE={locale!r} is not a locale Babel knows, e.g. 'en_US'."
        ) from None

    currency = config.get("PAYLINKS_DEFAULT_CURRENCY")
    if not isinstance(currency, str) or not is_currency(currency):
        raise ConfigError(
            f"PAYLINKS_DEFAULT_CURRENCY={currency!r} is not an ISO 4217 code, "
            "e.g. 'USD'."
        )

    timezone = config.get("PAYLINKS_TIMEZONE")
    if not isinstance(timezone, str) or zone_named(timezone) is None:
        raise ConfigError(
            f"PAYLINKS_TIMEZONE={timezone!r} is not an IANA timezone, "
            "e.g. 'Europe/Berlin' or 'UTC'."
        )

    region = config.get("PAYLINKS_PHONE_REGION")
    if not isinstance(region, str) or not re.fullmatch(r"[A-Z]{2}", region):
        raise ConfigError(
            f"PAYLINKS_PHONE_REGION={region!r} must be a two-letter region, e.g. 'US'."
        )


def _check_limits(config: Mapping[str, Any]) -> None:
    for key in (
        "PAYLINKS_PAGE_SIZE",
        "PAYLINKS_MAX_QUANTITY",
        "PAYLINKS_MAX_ITEMS_PER_LINK",
        "PAYLINKS_TEXT_TO_PAY_MAX_AMOUNT",
        "PAYLINKS_LOGO_MAX_BYTES",
        "PAYLINKS_SEND_BATCH_SIZE",
        "PAYLINKS_PENDING_TIMEOUT",
        "PAYLINKS_SWEEP_SECONDS",
        "PAYLINKS_OUTBOX_LEASE_SECONDS",
        "PAYLINKS_OUTBOX_REDISPATCH_SECONDS",
        "PAYLINKS_OUTBOX_MAX_ATTEMPTS",
        "PAYLINKS_SEND_RATE",
        "PAYLINKS_SEND_CONCURRENCY",
        "PAYLINKS_INLINE_SEND_LIMIT",
        "PAYLINKS_MESSAGE_LEASE_SECONDS",
        "PAYLINKS_MESSAGE_MAX_ATTEMPTS",
        "PAYLINKS_PERSONAL_LINK_DAYS",
    ):
        _positive_int(config, key)
    every = config.get("PAYLINKS_OPEN_COUNT_SECONDS")
    if not isinstance(every, int) or isinstance(every, bool) or every < 0:
        raise ConfigError(
            f"PAYLINKS_OPEN_COUNT_SECONDS={every!r} must be a whole number, 0 or more."
        )
    quiet = config.get("PAYLINKS_QUIET_HOURS")
    try:
        if quiet is not None and not isinstance(quiet, str):
            raise ValueError
        parse_window(quiet)
    except ValueError:
        raise ConfigError(
            f"PAYLINKS_QUIET_HOURS={quiet!r} must be 'HH:MM-HH:MM', e.g. "
            "'21:00-08:00', or None to turn quiet hours off."
        ) from None
    if config.get("PAYLINKS_MAX_CONTENT_LENGTH") is not None:
        _positive_int(config, "PAYLINKS_MAX_CONTENT_LENGTH")
