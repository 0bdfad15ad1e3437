"""Dashboard pages for sending a link to contacts, following a send, and the funnel.

Thin views over :mod:`flask_paylinks.sends.service` and
:mod:`flask_paylinks.sends.tracking`: the composer (pick contacts and
segments, write the message, preview, send), a send's page with its live
progress, and the funnel shown on a link's page and in the links table.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import jsonify, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import (
    HiddenField,
    SearchField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from flask_paylinks.contacts import Contact
from flask_paylinks.core.errors import Conflict, InvalidInput, Unavailable
from flask_paylinks.db.models import (
    PaymentLink,
    Recipient,
    Send,
    SendState,
)
from flask_paylinks.db.scoping import current_owner, require_owned
from flask_paylinks.links import service as link_service
from flask_paylinks.sends import service as sends
from flask_paylinks.sends import tracking
from flask_paylinks.state import paylinks_state
from flask_paylinks.web.dashboard import blueprint
from flask_paylinks.web.dashboard.formflow import Answer
from flask_paylinks.web.dashboard.forms import mark_errors, options
from flask_paylinks.web.dashboard.helpers import (
    UNPROCESSABLE,
    ActionForm,
    form_class,
    notice,
    paging,
    require_action,
)

#: Contacts the search box shows at once.
SEARCH_LIMIT = 20
#: The merge fields a message may use, with what each becomes.
MERGE_FIELDS: tuple[tuple[str, str], ...] = (
    ("{link}", "the recipient's own payment link (required)"),
    ("{first_name}", "first name"),
    ("{last_name}", "last name"),
    ("{name}", "full name"),
    ("{merchant}", "your business name"),
    ("{link_name}", "this link's name"),
)
#: States in which a send is still moving and its page keeps polling.
LIVE_STATES = (SendState.QUEUED, SendState.SENDING)
#: What each skip reason means to a merchant.
SKIP_REASONS: dict[str, str] = {
    "no phone": "No phone number",
    "no email": "No email address",
    "invalid number": "Invalid phone number",
    "invalid email": "Invalid email address",
    "opted out": "Opted out",
    "duplicate": "Duplicate",
    "contact deleted": "Contact deleted",
    "send cancelled": "Send cancelled",
}
CHANNEL_LABELS = {"sms": "SMS", "email": "Email"}


# -- the composer's form --------------------------------------------------------


class CheckboxesField(SelectMultipleField):  # type: ignore[misc]
    """Several choices as checkboxes; unknown values are the service's to judge.

    Choices are not checked here: a segment id of another merchant must
    reach the service (a 404), and a picked contact whose row is gone is
    simply not shown again.
    """

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("validate_choice", False)
        kwargs.setdefault("coerce", str)
        super().__init__(*args, **kwargs)


DEFAULT_SMS = "Hi {first_name}, here is your payment link from {merchant}: {link}"
DEFAULT_SUBJECT = "{link_name} from {merchant}"
DEFAULT_EMAIL = (
    "Hi {first_name},\n\nYou can pay for {link_name} securely here:\n{link}\n\n"
    "Thank you,\n{merchant}"
)


class SendForm(FlaskForm):  # type: ignore[misc]
    """Who receives the link, on which channels, and what the message says.

    A host may replace it with ``forms={"send": MySendForm}``; keep these
    field names, which the sends service names in its errors.
    """

    q = SearchField(
        "Search contacts",
        validators=[Optional(), Length(max=200)],
        description="Name, email or phone number.",
    )
    contacts = CheckboxesField("Contacts")
    segments = CheckboxesField(
        "Segments", description="Everyone in a segment receives it."
    )
    channels = CheckboxesField(
        "Send by",
        choices=options(("sms", "SMS"), ("email", "Email")),
        default=["sms"],
    )
    sms_body = TextAreaField(
        "SMS message",
        default=DEFAULT_SMS,
        validators=[Length(max=2000)],
        description="Must contain {link}. Longer texts cost more segments.",
    )
    email_subject = StringField(
        "Email subject", default=DEFAULT_SUBJECT, validators=[Length(max=200)]
    )
    email_body = TextAreaField(
        "Email message",
        default=DEFAULT_EMAIL,
        validators=[Length(max=20000)],
        description="Must contain {link}.",
    )
    #: One value per composer page: the same Send pressed twice sends once.
    attempt = HiddenField(validators=[Optional(), Length(max=64)])

    def selection(self) -> sends.Selection:
        """The contacts and segments that were ticked."""
        return sends.Selection(
            contact_ids=tuple(_unique(self.contacts.data or [])),
            segment_ids=tuple(_unique(self.segments.data or [])),
        )

    def channel_list(self) -> list[str]:
        """The channels that were ticked, in a stable order."""
        picked = set(self.channels.data or [])
        return [channel for channel in ("sms", "email") if channel in picked]

    def message(self) -> sends.Message:
        """The message, with only the parts of the ticked channels."""
        channels = self.channel_list()
        sms = "sms" in channels
        email = "email" in channels
        return sends.Message(
            sms_body=self.sms_body.data or "" if sms else "",
            email_subject=self.email_subject.data or "" if email else "",
            email_body=self.email_body.data or "" if email else "",
        )


def _unique(values: Iterable[str]) -> list[str]:
    """*values* without blanks and repeats, in order."""
    return list(dict.fromkeys(v.strip() for v in values if v and v.strip()))


# -- the composer -----------------------------------------------------------------


@dataclass
class Composer:
    """Draws the composer page for one link and one filled-in form."""

    owner: str
    link: PaymentLink
    form: SendForm

    def __post_init__(self) -> None:
        directory = paylinks_state().contacts
        picked = [
            directory.get(self.owner, cid) for cid in self.form.contacts.data or []
        ]
        self.picked = [c for c in picked if c is not None]
        self.form.contacts.data = [c.id for c in self.picked]
        query = (self.form.q.data or "").strip()[:200]
        known = {c.id for c in self.picked}
        found = directory.search(self.owner, query, SEARCH_LIMIT) if query else []
        self.found = [c for c in found if c.id not in known]
        self.query = query
        self.form.contacts.choices = options(
            *((c.id, contact_label(c)) for c in [*self.picked, *self.found])
        )
        self.form.segments.choices = options(
            *(
                (s.id, s.name if s.size is None else f"{s.name} ({s.size:,})")
                for s in directory.segments(self.owner)
            )
        )

    def render(self, preview: Any = None) -> str:
        """The page, with the preview when there is one."""
        if hasattr(self.form, "attempt") and not self.form.attempt.data:
            self.form.attempt.data = secrets.token_urlsafe(16)
        return render_template(
            "paylinks/sends/compose.html",
            link=self.link,
            form=self.form,
            picked=self.picked,
            found=self.found,
            query=self.query,
            preview=preview,
            merge_fields=MERGE_FIELDS,
            inline=paylinks_state().jobs.is_inline,
            skip_reasons=SKIP_REASONS,
            channel_labels=CHANNEL_LABELS,
            search_url=url_for(".link_send_contact_search"),
            contact_label=contact_label,
        )


def contact_label(contact: Contact) -> str:
    """A contact as the picker lists it: name, then masked phone and email."""
    parts = [contact.name or "Unnamed contact"]
    if contact.phone:
        parts.append(mask_address("sms", contact.phone))
    if contact.email:
        parts.append(mask_address("email", contact.email))
    return " · ".join(parts)


@blueprint.route("/links/<int:link_id>/send", methods=["GET", "POST"])
def link_send(link_id: int) -> Answer:
    """Send the link to contacts: pick, write, preview, send."""
    owner = current_owner()
    link = link_service.get_link(owner, link_id)
    form = form_class("send", SendForm)()
    action = request.form.get("action", "preview")
    if request.method != "POST" or action == "search":
        return Composer(owner, link, form).render()
    if not form.validate():
        return Composer(owner, link, form).render(), UNPROCESSABLE
    args = (owner, link, form.selection(), form.channel_list(), form.message())
    attempt = form.attempt.data or None
    # Personal URLs point where the merchant reached this page, unless
    # PAYLINKS_PUBLIC_URL says otherwise.
    base_url = request.host_url.rstrip("/")
    try:
        if action == "send":
            return _started(
                sends.start_send(*args, base_url=base_url, idempotency_key=attempt)
            )
        preview = sends.preview(*args, base_url=base_url)
    except InvalidInput as error:
        mark_errors(form, error.errors)
        return Composer(owner, link, form).render(), UNPROCESSABLE
    except (Conflict, Unavailable) as error:
        form.form_errors.append(str(error))
        return Composer(owner, link, form).render(), UNPROCESSABLE
    return Composer(owner, link, form).render(preview)


def _started(send: Send) -> Response:
    if send.state == SendState.FINISHED:
        notice("Sent. Each recipient's message and what they did is below.")
    else:
        notice("Your send has started. Its progress shows below.")
    return redirect(url_for(".link_send_detail", send_id=send.id))


@blueprint.get("/contacts/search")
def link_send_contact_search() -> Response:
    """Contacts matching ``q`` for the composer's picker, as JSON."""
    owner = current_owner()
    query = request.args.get("q", "").strip()[:200]
    found = (
        paylinks_state().contacts.search(owner, query, SEARCH_LIMIT) if query else []
    )
    return jsonify(
        [
            {
                "id": c.id,
                "name": c.name or "Unnamed contact",
                "label": contact_label(c),
                "sms_ok": bool(c.phone) and c.sms_ok,
                "email_ok": bool(c.email) and c.email_ok,
            }
            for c in found
        ]
    )


# -- one send ---------------------------------------------------------------------


@blueprint.get("/sends/<int:send_id>")
def link_send_detail(send_id: int) -> str:
    """A send: its progress, funnel, and every recipient with their history."""
    owner = current_owner()
    send = sends.get_send(owner, send_id)
    # The link's page may be gone (deleted); its sends keep their pages.
    link = require_owned(PaymentLink, owner, send.link_id)
    show = request.args.get("show", "")
    progress = sends.progress(send)
    return render_template(
        "paylinks/sends/send.html",
        send=send,
        link=link,
        progress=progress,
        progress_json=progress_json(send, progress),
        funnel=funnel_steps(tracking.funnel(owner, link, send_id=send.id)),
        skipped=tracking.skip_counts(owner, send.id),
        show=show if show in ("skipped", "opened") else "",
        recipients=_recipients(owner, send, show),
        opened_not_paid=tracking.opened_not_paid(owner, link, send_id=send.id),
        action=ActionForm(),
        live=send.state in LIVE_STATES,
        skip_reasons=SKIP_REASONS,
        channel_labels=CHANNEL_LABELS,
        mask=mask_address,
    )


def _recipients(owner: str, send: Send, show: str) -> Any:
    """The page of the send's recipients asked for, maybe only the skipped ones."""
    state = "skipped" if show == "skipped" else None
    return tracking.recipient_page(owner, send.id, state=state, **paging())


@blueprint.get("/sends/<int:send_id>/progress.json")
def link_send_progress(send_id: int) -> Response:
    """The send's counts, for the progress bar that updates itself."""
    send = sends.get_send(current_owner(), send_id)
    response = jsonify(progress_json(send, sends.progress(send)))
    response.headers["Cache-Control"] = "no-store"
    return response


def progress_json(send: Send, progress: Any) -> dict[str, Any]:
    """What the progress script reads: counts, state, label, whether to poll on."""
    return {
        "state": progress.state,
        "state_label": state_label(progress.state),
        "queued": progress.queued,
        "sent": progress.sent,
        "delivered": progress.delivered,
        "failed": progress.failed,
        "skipped": progress.skipped,
        "total": progress.total,
        "done": progress_done(progress),
        "percent": round(progress.done_fraction * 100),
        "label": progress_label(progress),
        "paused_reason": progress.paused_reason or "",
        "live": progress.state in LIVE_STATES,
    }


def progress_done(progress: Any) -> int:
    """Messages that are no longer waiting: sent, delivered, failed or skipped."""
    return int(progress.total - progress.queued)


def progress_label(progress: Any) -> str:
    """``42 of 120 messages done (35%)``."""
    return (
        f"{progress_done(progress):,} of {progress.total:,} messages done "
        f"({round(progress.done_fraction * 100)}%)"
    )


def state_label(state: str) -> str:
    """A send's state in words."""
    return {
        "queued": "Queued",
        "sending": "Sending",
        "paused": "Paused",
        "finished": "Finished",
        "cancelled": "Cancelled",
    }.get(state, state.capitalize())


def _send_action(send_id: int, verb: str) -> Response:
    owner = current_owner()
    send = sends.get_send(owner, send_id)  # a missing send is a 404 before a 400
    require_action()
    change = {"pause": sends.pause, "resume": sends.resume, "cancel": sends.cancel}
    try:
        change[verb](owner, send_id)
    except Conflict:  # it finished or changed meanwhile: say so
        state = state_label(sends.get_send(owner, send.id).state).lower()
        done = {"pause": "paused", "resume": "resumed", "cancel": "cancelled"}[verb]
        notice(f"This send is {state} now, so it cannot be {done}. Nothing changed.")
        return redirect(url_for(".link_send_detail", send_id=send_id))
    notice(
        {
            "pause": "Paused the send. Messages not yet sent wait until you resume it.",
            "resume": "Resumed the send.",
            "cancel": "Cancelled the send. Messages not yet sent will not go out.",
        }[verb]
    )
    return redirect(url_for(".link_send_detail", send_id=send_id))


@blueprint.post("/sends/<int:send_id>/pause")
def link_send_pause(send_id: int) -> Response:
    """Hold the messages of the send that have not gone out yet."""
    return _send_action(send_id, "pause")


@blueprint.post("/sends/<int:send_id>/resume")
def link_send_resume(send_id: int) -> Response:
    """Carry on with a paused send."""
    return _send_action(send_id, "resume")


@blueprint.post("/sends/<int:send_id>/cancel")
def link_send_cancel(send_id: int) -> Response:
    """Stop the send for good; what was sent stays sent."""
    return _send_action(send_id, "cancel")


@blueprint.post("/sends/<int:send_id>/again")
def link_send_again(send_id: int) -> Answer:
    """Send the link again to the recipients ticked (opened but not paid)."""
    owner = current_owner()
    send = sends.get_send(owner, send_id)
    require_action()
    picked = [
        int(v)
        for v in request.form.getlist("recipient")
        if v.isascii() and v.isdigit() and len(v) <= 18
    ]
    try:
        again = sends.send_again(owner, send.id, picked)
    except InvalidInput as error:
        notice(" ".join(error.errors.values()))
        return redirect(url_for(".link_send_detail", send_id=send.id))
    notice("Sent the link again to the recipients who opened it but did not pay.")
    return redirect(url_for(".link_send_detail", send_id=again.id))


# -- the funnel -------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One step of the funnel: how many got there, and what share of the step before."""

    key: str
    label: str
    #: The label where space is short (a table cell on a phone).
    short: str
    count: int
    rate: str


def percent(part: int, whole: int) -> str:
    """``42%``, or ``—`` when there is nothing to divide by."""
    if whole <= 0:
        return "—"
    return f"{round(part * 100 / whole)}%"


def funnel_steps(funnel: tracking.Funnel) -> dict[str, Any]:
    """The funnel as the templates draw it: its steps, conversion, anonymous opens."""
    counts = [
        ("sent", "Sent", "Sent", funnel.sent),
        ("delivered", "Delivered", "Delivered", funnel.delivered),
        ("opened", "Opened", "Opened", funnel.opened),
        ("started", "Started checkout", "Started", funnel.started),
        ("paid", "Paid", "Paid", funnel.paid),
    ]
    # Each step as a share of what was sent: email has no delivery receipts,
    # so a share of the step before would divide opens by nothing.
    steps = [
        Step(
            key,
            label,
            short,
            count,
            "" if key == "sent" else percent(count, funnel.sent),
        )
        for key, label, short, count in counts
    ]
    return {
        "steps": steps,
        "conversion": conversion_text(funnel),
        "anonymous_opens": funnel.anonymous_opens,
        "empty": not any(count for *_, count in counts) and not funnel.anonymous_opens,
    }


def conversion_text(funnel: tracking.Funnel) -> str:
    """Paid ÷ opens as a percentage; ``—`` when nobody opened it."""
    rate = funnel.conversion
    return "—" if rate is None else f"{round(rate * 100)}%"


def link_tracking(owner: str, link: PaymentLink) -> dict[str, Any]:
    """What a link's page shows of its sends: the funnel, the sends, who to chase."""
    link_sends = tracking.sends_of_link(owner, link.id, limit=10)
    waiting = tracking.opened_not_paid(owner, link)
    return {
        "funnel": funnel_steps(tracking.funnel(owner, link)),
        "sends": [
            (s, funnel_steps(tracking.funnel(owner, link, send_id=s.id)))
            for s in link_sends
        ],
        "opened_not_paid": [
            (sends.get_send(owner, send_id), group)
            for send_id, group in _by_send(waiting)
        ],
        "state_label": state_label,
        "mask": mask_address,
    }


def _by_send(recipients: Sequence[Recipient]) -> list[tuple[int, list[Recipient]]]:
    """Recipients grouped by their send, newest send first."""
    groups: dict[int, list[Recipient]] = {}
    for recipient in recipients:
        groups.setdefault(recipient.send_id, []).append(recipient)
    return sorted(groups.items(), key=lambda item: -item[0])


def link_conversions(owner: str, links: Sequence[PaymentLink]) -> dict[int, str]:
    """Each link's conversion (paid ÷ opens) for the links table, for the whole page."""
    found = tracking.conversions(owner, links)
    return {
        link.id: conversion_text(found[link.id]) for link in links if link.id in found
    }


# -- addresses --------------------------------------------------------------------


def mask_address(channel: str, address: str | None) -> str:
    """A phone number or email address with most of it hidden.

    ``+1 ••• ••• 1234`` and ``a•••@example.com``: enough for a merchant to
    tell two recipients apart, not enough to read a number off the screen.
    """
    if not address:
        return "—"
    if channel == "email" or "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}•••@{domain}"
    digits = "".join(ch for ch in address if ch.isdigit())
    prefix = f"+{_country_code(address)} " if address.startswith("+") else ""
    return f"{prefix}••• ••• {digits[-4:]}"


def _country_code(number: str) -> str:
    """The calling code of an E.164 number (``1`` for ``+15551234567``)."""
    import phonenumbers

    try:
        return str(phonenumbers.parse(number, None).country_code)
    except phonenumbers.NumberParseException:
        return number[1:2]
