"""The dashboard's send screens: the composer, a send's page, the funnel.

Host A keeps its contacts in ``crm_customers`` with tags as segments (see
``tests/hosts/crm_a.py``); no Redis is configured, so the messages of a
send go out inline, through the console senders, during the request.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from flask_paylinks.db.models import PaymentLink, Recipient, Send, utcnow
from flask_paylinks.db.session import session

from ..dashboard import conftest as dashboard
from ..dashboard.conftest import OWNER_A
from ..dashboard.html import by_name, field_error, parse, text
from ..factories import make_link
from ..hosts import crm_a

# The dashboard's fixtures: host A with merchants A ("1") and B ("2").
app = dashboard.app
client_a = dashboard.client_a
client_b = dashboard.client_b


def _count(model: type[Any]) -> int:
    session().expire_all()
    return session().scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def people(app: Flask) -> dict[str, Any]:
    """Merchant A's contacts (one of each kind the audience counts) and B's."""
    db = crm_a.db
    vip = crm_a.Tag(account_id=1, name="VIP")
    others = crm_a.Tag(account_id=2, name="Their VIPs")
    rows = {
        "ada": crm_a.Customer(
            account_id=1,
            full_name="Ada Lovelace",
            email="ada@example.com",
            mobile="+14155550101",
            tags=[vip],
        ),
        "grace": crm_a.Customer(
            account_id=1,
            full_name="Grace Hopper",
            email="grace@example.com",
            mobile=None,
            tags=[vip],
        ),
        "alan": crm_a.Customer(
            account_id=1,
            full_name="Alan Turing",
            email=None,
            mobile="+14155550103",
            do_not_text=True,
            tags=[vip],
        ),
        "bad": crm_a.Customer(
            account_id=1,
            full_name="Bad Number",
            email=None,
            mobile="+1555",
            tags=[vip],
        ),
        "bob": crm_a.Customer(
            account_id=2,
            full_name="Ada Other",
            email="other@example.com",
            mobile="+14155550199",
            tags=[others],
        ),
    }
    db.session.add_all([vip, others, *rows.values()])
    db.session.commit()
    ids = {key: str(row.id) for key, row in rows.items()}
    return {**ids, "vip": str(vip.id), "others": str(others.id)}


@pytest.fixture
def link(app: Flask) -> PaymentLink:
    return make_link(OWNER_A, name="Spring class")


def compose(link: PaymentLink, **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "channels": ["sms"],
        "sms_body": "Hi {first_name}, pay here: {link}",
        "email_subject": "{link_name}",
        "email_body": "Hi {name}, {link}",
        "action": "preview",
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def marked(html: str | bytes, attribute: str) -> Any:
    """The one element carrying *attribute*."""
    found = [e for e in parse(html) if e.get(attribute) is not None]
    assert len(found) == 1, f"{len(found)} elements with {attribute}"
    return found[0]


def funnel_counts(html: str | bytes) -> dict[str, int]:
    """The first funnel on the page, step by step."""
    counts: dict[str, int] = {}
    for element in parse(html):
        step = element.get("data-funnel-count")
        if step and step not in counts:
            counts[step] = int(element.text.replace(",", ""))
    return counts


def url(link: PaymentLink) -> str:
    return f"/paylinks/links/{link.id}/send"


# -- the composer ---------------------------------------------------------------


def test_the_composer_is_reached_from_the_link_page_and_the_table_menu(
    client_a: FlaskClient, link: PaymentLink
) -> None:
    for page in ("/paylinks/", f"/paylinks/links/{link.id}"):
        hrefs = [e.get("href") for e in parse(client_a.get(page).data)]
        assert url(link) in hrefs, page
    response = client_a.get(url(link))
    assert response.status_code == 200
    page = text(response.data)
    assert "Send to contacts" in page
    # No Redis: the page says the messages go out from it.
    assert "Messages go out from this page; large sends need a worker" in page
    for code in ("{link}", "{first_name}", "{last_name}", "{name}", "{merchant}"):
        assert code in page
    assert "VIP" not in page  # no segments yet


def test_search_keeps_the_picked_contacts_ticked_without_javascript(
    client_a: FlaskClient, link: PaymentLink, people: dict[str, Any]
) -> None:
    response = client_a.post(
        url(link),
        data=compose(link, q="grace", contacts=[people["ada"]], action="search"),
    )
    assert response.status_code == 200
    boxes = {
        e["value"]: "checked" in e.attrs for e in by_name(response.data, "contacts")
    }
    assert boxes == {people["ada"]: True, people["grace"]: False}
    page = text(response.data)
    assert "Ada Lovelace" in page
    assert "Grace Hopper" in page
    # Only merchant A's own segments are offered.
    segments = [e["value"] for e in by_name(response.data, "segments")]
    assert segments == [people["vip"]]


def test_the_contact_search_json_finds_only_the_merchants_own_contacts(
    client_a: FlaskClient, people: dict[str, Any]
) -> None:
    found = client_a.get("/paylinks/contacts/search?q=ada").get_json()
    assert [c["id"] for c in found] == [people["ada"]]
    assert found[0]["name"] == "Ada Lovelace"
    assert "+14155550101" not in found[0]["label"]  # masked
    assert "••• ••• 0101" in found[0]["label"]
    assert client_a.get("/paylinks/contacts/search?q=").get_json() == []


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"sms_body": "Hi {first_name}, pay soon"}, "sms_body", "{link}"),
        ({"sms_body": "Hi {nickname}: {link}"}, "sms_body", "{nickname}"),
        ({"sms_body": "{link} " + "x" * 1600}, "sms_body", "10"),
        (
            {"channels": ["email"], "email_body": "Pay now"},
            "email_body",
            "{link}",
        ),
        ({"channels": []}, "channels", ""),
    ],
    ids=["no-link", "unknown-field", "over-10-segments", "email-no-link", "no-channel"],
)
@pytest.mark.parametrize("action", ["preview", "send"])
def test_a_bad_message_comes_back_marked_and_sends_nothing(
    client_a: FlaskClient,
    link: PaymentLink,
    people: dict[str, Any],
    fields: dict[str, Any],
    field: str,
    says: str,
    action: str,
) -> None:
    data = compose(link, contacts=[people["ada"]], action=action, **fields)
    response = client_a.post(url(link), data=data)
    assert response.status_code == 422, text(response.data)[:500]
    if field == "channels":
        assert "aria-invalid" in response.data.decode()
        assert "problem" in text(response.data)
    else:
        assert says in field_error(response.data, field)
    # What was typed is kept.
    picked = [
        e["value"] for e in by_name(response.data, "contacts") if "checked" in e.attrs
    ]
    assert picked == [people["ada"]]
    assert _count(Send) == 0
    assert _count(Recipient) == 0


@pytest.mark.parametrize("action", ["preview", "send"])
def test_an_empty_selection_is_refused(
    client_a: FlaskClient, link: PaymentLink, action: str
) -> None:
    response = client_a.post(url(link), data=compose(link, action=action))
    assert response.status_code == 422
    page = text(response.data)
    assert "There is a problem" in page
    marked = [e for e in by_name(response.data, "contacts") if e.get("aria-invalid")]
    assert marked or "Contacts:" in page
    assert _count(Send) == 0


@pytest.mark.parametrize("action", ["preview", "send"])
def test_another_merchants_segment_is_a_404(
    client_a: FlaskClient, link: PaymentLink, people: dict[str, Any], action: str
) -> None:
    data = compose(link, segments=[people["others"]], action=action)
    assert client_a.post(url(link), data=data).status_code == 404
    assert _count(Send) == 0


def test_another_merchants_link_has_no_composer(
    client_b: FlaskClient, link: PaymentLink
) -> None:
    assert client_b.get(url(link)).status_code == 404
    assert client_b.post(url(link), data=compose(link)).status_code == 404


def test_preview_counts_who_receives_it_and_who_is_skipped_and_why(
    client_a: FlaskClient, link: PaymentLink, people: dict[str, Any]
) -> None:
    data = compose(
        link,
        channels=["sms", "email"],
        segments=[people["vip"]],
        contacts=[people["ada"]],  # also in VIP: a duplicate
    )
    response = client_a.post(url(link), data=data)
    assert response.status_code == 200, text(response.data)[:800]
    html = response.data.decode()
    audience = {
        e["data-receiving"]: e.text for e in parse(html) if e.get("data-receiving")
    }
    # SMS: Ada only (Grace has no phone, Alan opted out, Bad's number is invalid).
    assert audience["sms"].split()[0] == "1"
    # Email: Ada and Grace (Alan and Bad have no email).
    assert audience["email"].split()[0] == "2"
    skipped = {e["data-skipped"]: e.text for e in parse(html) if e.get("data-skipped")}
    assert skipped == {
        "sms:no phone": "1 by SMS: no phone number",
        "sms:opted out": "1 by SMS: opted out",
        "sms:invalid number": "1 by SMS: invalid phone number",
        "email:no email": "2 by Email: no email address",
    }
    # Ada, picked and in the segment, is counted once.
    assert marked(html, "data-duplicates").text.split()[0] == "1"
    # The message as a real recipient gets it, with a personal link in it.
    sms = marked(html, "data-sample-sms").text
    assert re.fullmatch(r"Hi Ada, pay here: https?://[^/\s]+/pay/p/[\w-]{16,}", sms)
    assert marked(html, "data-sample-subject").text == "Spring class"
    assert marked(html, "data-sample-email").text.startswith("Hi Ada Lovelace, http")
    cost = " ".join(marked(html, "data-sms-cost").text.split())
    assert cost.startswith("GSM-7 ·")
    assert "1 segment per message" in cost
    assert cost.endswith("1 segment for 1 recipient")
    assert _count(Send) == 0  # a preview sends nothing


def test_sending_from_the_form_creates_the_rows_and_shows_the_send(
    client_a: FlaskClient, link: PaymentLink, people: dict[str, Any]
) -> None:
    data = compose(link, segments=[people["vip"]], action="send")
    response = client_a.post(url(link), data=data)
    assert response.status_code == 302, text(response.data)[:800]
    send = session().scalars(select(Send)).one()
    assert send.owner_id == OWNER_A
    assert send.link_id == link.id
    assert response.headers["Location"].endswith(f"/paylinks/sends/{send.id}")
    rows = {r.contact_id: r for r in session().scalars(select(Recipient))}
    assert set(rows) == {people[k] for k in ("ada", "grace", "alan", "bad")}
    assert rows[people["ada"]].state in ("sent", "delivered")
    assert rows[people["grace"]].state == "skipped"
    assert rows[people["grace"]].reason == "no phone"

    page = client_a.get(f"/paylinks/sends/{send.id}")
    assert page.status_code == 200
    html = page.data.decode()
    shown = text(html)
    assert "Sent. Each recipient's message and what they did is below." in shown
    assert "Ada Lovelace" in shown
    assert "+1 ••• ••• 0101" in shown
    assert "+14155550101" not in html
    reasons = [e.text for e in parse(html) if e.get("data-reason") is not None]
    assert sorted(reasons) == ["Invalid phone number", "No phone number", "Opted out"]
    bar = next(e for e in parse(html) if e.tag == "progress")
    assert (bar["max"], bar["value"]) == ("4", "4")
    assert "send-progress.js" in html

    progress = client_a.get(f"/paylinks/sends/{send.id}/progress.json")
    assert progress.status_code == 200
    assert progress.headers["Cache-Control"] == "no-store"
    counts = progress.get_json()
    assert counts["total"] == 4
    assert counts["skipped"] == 3
    assert counts["queued"] == 0
    assert counts["sent"] + counts["delivered"] == 1
    assert counts["state"] == "finished"
    assert counts["live"] is False
    assert counts["label"] == "4 of 4 messages done (100%)"

    skipped = client_a.get(f"/paylinks/sends/{send.id}?show=skipped")
    names = [e.text for e in parse(skipped.data) if e.get("data-label") == "Name"]
    assert sorted(names) == ["Alan Turing", "Bad Number", "Grace Hopper"]


def test_another_merchants_send_is_a_404(
    client_a: FlaskClient,
    client_b: FlaskClient,
    link: PaymentLink,
    people: dict[str, Any],
) -> None:
    client_a.post(
        url(link), data=compose(link, contacts=[people["ada"]], action="send")
    )
    send = session().scalars(select(Send)).one()
    for path in (
        f"/paylinks/sends/{send.id}",
        f"/paylinks/sends/{send.id}/progress.json",
    ):
        assert client_b.get(path).status_code == 404
    for verb in ("pause", "resume", "cancel", "again"):
        assert client_b.post(f"/paylinks/sends/{send.id}/{verb}").status_code == 404
    assert client_a.get("/paylinks/sends/999999").status_code == 404


def test_opened_but_not_paid_are_listed_and_sent_again(
    client_a: FlaskClient, link: PaymentLink, people: dict[str, Any]
) -> None:
    client_a.post(
        url(link),
        data=compose(
            link,
            channels=["email"],
            contacts=[people["ada"], people["grace"]],
            action="send",
        ),
    )
    send = session().scalars(select(Send)).one()
    rows = {r.contact_id: r for r in session().scalars(select(Recipient))}
    ada, grace = rows[people["ada"]], rows[people["grace"]]
    now = utcnow()
    ada.opened_at = ada.last_opened_at = now
    ada.open_count = 2
    grace.opened_at = grace.last_opened_at = now
    grace.open_count = 1
    grace.started_at = grace.paid_at = now
    session().commit()

    page = client_a.get(f"/paylinks/links/{link.id}")
    html = page.data.decode()
    counts = funnel_counts(html)
    assert counts["sent"] == 2
    assert counts["opened"] == 2
    assert (counts["started"], counts["paid"]) == (1, 1)
    assert marked(html, "data-conversion").text == "50%"
    assert marked(html, "data-anonymous-opens").text == "0"
    assert marked(html, "data-send-row").get("data-send-row") == str(send.id)
    again = by_name(html, "recipient")
    assert [e["value"] for e in again] == [str(ada.id)]  # Grace paid
    assert f"/paylinks/sends/{send.id}/again" in html

    response = client_a.post(
        f"/paylinks/sends/{send.id}/again", data={"recipient": [str(ada.id)]}
    )
    assert response.status_code == 302
    sends = session().scalars(select(Send).order_by(Send.id)).all()
    assert len(sends) == 2
    assert response.headers["Location"].endswith(f"/paylinks/sends/{sends[1].id}")
    resent = (
        session()
        .scalars(select(Recipient).where(Recipient.send_id == sends[1].id))
        .all()
    )
    assert [r.contact_id for r in resent] == [people["ada"]]


def test_the_links_table_shows_each_links_conversion(
    client_a: FlaskClient, link: PaymentLink, people: dict[str, Any]
) -> None:
    quiet = make_link(OWNER_A, name="Nobody opened")
    client_a.post(
        url(link),
        data=compose(
            link,
            channels=["email"],
            contacts=[people["ada"], people["grace"]],
            action="send",
        ),
    )
    for recipient in session().scalars(select(Recipient)):
        recipient.opened_at = recipient.last_opened_at = utcnow()
        recipient.open_count = 1
        if recipient.contact_id == people["ada"]:
            recipient.started_at = recipient.paid_at = utcnow()
    session().commit()
    html = client_a.get("/paylinks/").data
    values = [
        e.text.strip() for e in parse(html) if e.get("data-conversion") is not None
    ]
    ids = [e["data-link-row"] for e in parse(html) if e.get("data-link-row")]
    by_link = dict(zip(ids, values, strict=True))
    assert by_link[str(link.id)] == "50%"
    assert by_link[str(quiet.id)] == "—"


def test_a_large_send_without_a_worker_is_refused_with_the_reason(
    app: Flask, client_a: FlaskClient, link: PaymentLink, people: dict[str, Any]
) -> None:
    app.config["PAYLINKS_INLINE_SEND_LIMIT"] = 2
    data = compose(link, segments=[people["vip"]], action="send")
    response = client_a.post(url(link), data=data)
    assert response.status_code == 422
    page = text(response.data)
    assert "Messages go out from this page; large sends need a worker" in page
    assert "at most 2" in page
    assert "worker" in marked(response.data, "data-error-summary").text
    ticked = [
        e["value"] for e in by_name(response.data, "segments") if "checked" in e.attrs
    ]
    assert ticked == [people["vip"]]
    assert _count(Send) == 0


def test_a_paused_send_says_why_and_can_be_resumed_or_cancelled(
    client_a: FlaskClient, link: PaymentLink, people: dict[str, Any]
) -> None:
    client_a.post(
        url(link), data=compose(link, contacts=[people["ada"]], action="send")
    )
    send = session().scalars(select(Send)).one()
    recipient = session().scalars(select(Recipient)).one()
    assert recipient.state == "sent"
    # As if the provider had said "out of credit" before Ada's message went.
    recipient.state, recipient.sent_at = "queued", None
    send.state, send.paused_reason = "paused", "Your SMS account is out of credit."
    session().commit()

    html = client_a.get(f"/paylinks/sends/{send.id}").data
    assert "Paused. Your SMS account is out of credit." in text(html)
    forms = {e["action"]: "hidden" in e.attrs for e in parse(html) if e.tag == "form"}
    assert forms[f"/paylinks/sends/{send.id}/resume"] is False
    assert forms[f"/paylinks/sends/{send.id}/cancel"] is False
    assert forms[f"/paylinks/sends/{send.id}/pause"] is True
    assert (
        client_a.get(f"/paylinks/sends/{send.id}/progress.json").get_json()[
            "paused_reason"
        ]
        == "Your SMS account is out of credit."
    )

    response = client_a.post(f"/paylinks/sends/{send.id}/resume")
    assert response.status_code == 302
    session().expire_all()
    assert session().get(Recipient, recipient.id).state == "sent"  # went out inline
    assert "Resumed the send." in text(client_a.get(f"/paylinks/sends/{send.id}").data)

    # A send that has finished cannot be cancelled: said, not a 500.
    session().get(Send, send.id).state = "finished"
    session().commit()
    response = client_a.post(f"/paylinks/sends/{send.id}/cancel")
    assert response.status_code == 302
    shown = text(client_a.get(f"/paylinks/sends/{send.id}").data)
    assert (
        "This send is finished now, so it cannot be cancelled. Nothing changed."
        in shown
    )
    session().expire_all()
    assert session().get(Send, send.id).state == "finished"


def test_a_host_form_in_place_of_the_send_form_is_used(
    app: Flask, client_a: FlaskClient, link: PaymentLink
) -> None:
    from wtforms import TextAreaField

    from flask_paylinks.state import paylinks_state
    from flask_paylinks.web.dashboard.sends import SendForm

    class ShortSendForm(SendForm):
        sms_body = TextAreaField("Text message", default="{first_name}: {link}")

    paylinks_state(app).forms["send"] = ShortSendForm
    html = client_a.get(url(link)).data
    assert "Text message" in text(html)
    assert by_name(html, "sms_body")[0].text.strip() == "{first_name}: {link}"


def test_the_same_composer_sent_twice_makes_one_send(
    client_a: FlaskClient, link: PaymentLink, people: dict[str, Any]
) -> None:
    page = client_a.get(url(link)).data
    [attempt] = by_name(page, "attempt")
    assert attempt.get("value")
    data = compose(link, segments=[people["vip"]], action="send")
    data["attempt"] = attempt.get("value")
    first = client_a.post(url(link), data=data)
    again = client_a.post(url(link), data=data)  # a double click, a resubmit
    assert first.status_code == again.status_code == 302
    assert first.headers["Location"] == again.headers["Location"]
    assert _count(Send) == 1
    assert _count(Recipient) == 4
