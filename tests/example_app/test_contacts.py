"""The contacts list, a contact's record page, segments, and account isolation."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from example_app.extensions import db
from example_app.models import Customer, Tag
from flask_paylinks.db.models import PaymentState

from ..factories import make_payment
from .helpers import ALICE, form_token, login_client


def _client(app: Flask, email: str = ALICE) -> Any:
    client = app.test_client()
    login_client(client, email)
    return client


def _customer(app: Flask, customer_id: int) -> Customer:
    with app.app_context():
        customer = db.session.get(Customer, customer_id)
        assert customer is not None
        db.session.expunge(customer)
        return customer


def _listed_ids(html: str) -> set[int]:
    return {int(i) for i in re.findall(r'href="/contacts/(\d+)"', html)}


def _all_listed(client: Any, query: str = "") -> set[int]:
    found: set[int] = set()
    for page in range(1, 10):
        html = client.get(f"/contacts/?page={page}{query}").get_data(as_text=True)
        ids = _listed_ids(html)
        if not ids:
            break
        found |= ids
    return found


def test_list_shows_only_the_accounts_customers(
    example_app: Flask, example_seed: dict[str, Any]
) -> None:
    client = _client(example_app)
    html = client.get("/contacts/").get_data(as_text=True)
    assert "40 contacts in Acme Fitness" in html
    assert _all_listed(client) == set(example_seed["acme"]["customers"])


def test_list_pages_through_the_customers(example_app: Flask) -> None:
    client = _client(example_app)
    first = client.get("/contacts/").get_data(as_text=True)
    second = client.get("/contacts/?page=2").get_data(as_text=True)
    assert "Showing 1\u201325 of 40" in first
    assert "Showing 26\u201340 of 40" in second
    assert not _listed_ids(first) & _listed_ids(second)


def test_search_by_name_email_and_phone(
    example_app: Flask, example_seed: dict[str, Any]
) -> None:
    client = _client(example_app)
    target = _customer(example_app, example_seed["acme"]["customers"][3])
    assert target.mobile
    assert target.email
    last_name = target.full_name.split()[-1]

    by_name = _listed_ids(client.get(f"/contacts/?q={last_name.upper()}").text)
    assert target.id in by_name
    with example_app.app_context():
        namesakes = db.session.scalars(
            select(Customer).where(Customer.id.in_(by_name))
        ).all()
    assert all(
        last_name.lower() in (c.full_name + " " + (c.email or "")).lower()
        for c in namesakes
    )

    by_email = _listed_ids(
        client.get("/contacts/", query_string={"q": target.email}).text
    )
    assert by_email == {target.id}

    national = f"({target.mobile[2:5]}) {target.mobile[5:8]}-{target.mobile[8:]}"
    by_phone = _listed_ids(client.get("/contacts/", query_string={"q": national}).text)
    assert by_phone == {target.id}

    nothing = client.get("/contacts/?q=zzzz-nobody").get_data(as_text=True)
    assert "No contacts found" in nothing


def test_search_never_finds_another_accounts_customer(
    example_app: Flask, example_seed: dict[str, Any]
) -> None:
    theirs = _customer(example_app, example_seed["globex"]["customers"][0])
    client = _client(example_app, ALICE)
    found = _listed_ids(client.get("/contacts/", query_string={"q": theirs.email}).text)
    assert theirs.id not in found


def test_filter_by_tag(example_app: Flask, example_seed: dict[str, Any]) -> None:
    client = _client(example_app)
    vip = example_seed["acme"]["tags"]["VIP"]
    with example_app.app_context():
        expected = {c.id for c in db.session.get(Tag, vip).customers}
    assert expected
    html = client.get(f"/contacts/?tag={vip}").get_data(as_text=True)
    assert "tagged VIP" in html
    assert _all_listed(client, f"&tag={vip}") == expected


def test_another_accounts_tag_is_404(
    example_app: Flask, example_seed: dict[str, Any]
) -> None:
    client = _client(example_app, ALICE)
    theirs = example_seed["globex"]["tags"]["VIP"]
    assert client.get(f"/contacts/?tag={theirs}").status_code == 404


def test_record_page_shows_the_contact(
    example_app: Flask, example_seed: dict[str, Any]
) -> None:
    customer = _customer(example_app, example_seed["acme"]["customers"][0])
    html = _client(example_app).get(f"/contacts/{customer.id}").get_data(as_text=True)
    assert customer.full_name in html
    if customer.email:
        assert customer.email in html
    assert customer.street in html
    assert customer.city in html
    assert f'href="/contacts/{customer.id}/conversation"' in html


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/contacts/{id}"),
        ("post", "/contacts/{id}"),
        ("get", "/contacts/{id}/conversation"),
        ("post", "/contacts/{id}/conversation"),
    ],
)
def test_another_accounts_customer_is_404_and_unchanged(
    example_app: Flask, example_seed: dict[str, Any], method: str, path: str
) -> None:
    client = _client(example_app, ALICE)
    token = form_token(client.get("/contacts/").get_data(as_text=True))
    theirs = example_seed["globex"]["customers"][0]
    before = _customer(example_app, theirs)
    response = getattr(client, method)(
        path.format(id=theirs),
        data={
            "csrf_token": token,
            "full_name": "Hijacked",
            "mobile": "+12125550100",
            "country": "US",
            "body": "hello",
        },
    )
    assert response.status_code == 404
    after = _customer(example_app, theirs)
    assert (after.full_name, after.mobile) == (before.full_name, before.mobile)


def test_unknown_customer_is_404(example_app: Flask) -> None:
    assert _client(example_app).get("/contacts/999999").status_code == 404


def _edit(client: Any, customer_id: int, **changes: Any) -> Any:
    html = client.get(f"/contacts/{customer_id}").get_data(as_text=True)
    data = {
        "csrf_token": form_token(html),
        "full_name": "Dana Whitfield",
        "email": "dana.whitfield@example.com",
        "mobile": "",
        "street": "12 Harbor St",
        "street2": "",
        "city": "Boston",
        "state": "MA",
        "postal_code": "02110",
        "country": "US",
        "notes": "Met at the open day.",
    }
    data.update(changes)
    return client.post(f"/contacts/{customer_id}", data=data)


def test_edit_stores_the_phone_in_e164(
    example_app: Flask, example_seed: dict[str, Any]
) -> None:
    client = _client(example_app)
    customer_id = example_seed["acme"]["customers"][5]
    vip = example_seed["acme"]["tags"]["VIP"]
    response = _edit(
        client,
        customer_id,
        mobile="(617) 555-0142",
        do_not_email="y",
        tags=[str(vip)],
    )
    assert response.status_code == 302
    saved = _customer(example_app, customer_id)
    assert saved.full_name == "Dana Whitfield"
    assert saved.mobile == "+16175550142"
    assert saved.do_not_email is True
    assert saved.do_not_text is False
    assert saved.notes == "Met at the open day."
    with example_app.app_context():
        tags = db.session.get(Customer, customer_id).tags
        assert [t.id for t in tags] == [vip]
    page = client.get(f"/contacts/{customer_id}").get_data(as_text=True)
    assert "Saved Dana Whitfield." in page
    assert "(617) 555-0142" in page


def test_edit_accepts_an_international_number(
    example_app: Flask, example_seed: dict[str, Any]
) -> None:
    customer_id = example_seed["acme"]["customers"][6]
    response = _edit(_client(example_app), customer_id, mobile="+44 20 7946 0958")
    assert response.status_code == 302
    assert _customer(example_app, customer_id).mobile == "+442079460958"


@pytest.mark.parametrize("bad", ["555-01", "call me maybe", "+1 212 555 01234 5"])
def test_edit_with_a_bad_phone_reshows_the_form(
    example_app: Flask, example_seed: dict[str, Any], bad: str
) -> None:
    customer_id = example_seed["acme"]["customers"][7]
    before = _customer(example_app, customer_id)
    response = _edit(_client(example_app), customer_id, mobile=bad)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    field = re.search(r"<input[^>]*id=\"mobile\"[^>]*>", html)
    assert field is not None
    assert 'aria-invalid="true"' in field.group(0)
    assert 'aria-describedby="mobile-hint mobile-error"' in field.group(0)
    assert f'value="{bad}"' in field.group(0)  # what they typed is kept
    assert 'id="mobile-error"' in html
    assert "Dana Whitfield" in html  # the other fields too
    after = _customer(example_app, customer_id)
    assert (after.full_name, after.mobile) == (before.full_name, before.mobile)


def test_edit_validates_the_email(
    example_app: Flask, example_seed: dict[str, Any]
) -> None:
    customer_id = example_seed["acme"]["customers"][8]
    response = _edit(_client(example_app), customer_id, email="dana@")
    assert response.status_code == 422
    field = re.search(r"<input[^>]*id=\"email\"[^>]*>", response.get_data(as_text=True))
    assert field is not None
    assert 'aria-invalid="true"' in field.group(0)


def test_edit_ignores_another_accounts_tag(
    example_app: Flask, example_seed: dict[str, Any]
) -> None:
    customer_id = example_seed["acme"]["customers"][9]
    theirs = example_seed["globex"]["tags"]["VIP"]
    response = _edit(_client(example_app), customer_id, tags=[str(theirs)])
    assert response.status_code == 422  # not one of the choices
    with example_app.app_context():
        tag = db.session.get(Tag, theirs)
        assert customer_id not in {c.id for c in tag.customers}


def test_record_page_lists_the_contacts_payments(
    example_app: Flask, example_seed: dict[str, Any]
) -> None:
    acme = example_seed["acme"]
    customer_id = acme["customers"][0]
    with example_app.app_context():
        for owner, reference, amount in (
            (acme["owner"], "PL-MINE0001", 17900),
            (example_seed["globex"]["owner"], "PL-THEIRS01", 999),
        ):
            make_payment(
                owner,
                reference=reference,
                link_id=acme["links"][0] if owner == acme["owner"] else None,
                state=PaymentState.SUCCEEDED,
                amount_subtotal=amount,
                amount_total=amount,
                snapshot={},
                contact_id=str(customer_id),
            )
    html = _client(example_app).get(f"/contacts/{customer_id}").get_data(as_text=True)
    assert "$179.00" in html
    assert "Class passes" in html
    assert "Succeeded" in html
    assert "$9.99" not in html


def test_segments_lists_tags_with_their_counts(
    example_app: Flask, example_seed: dict[str, Any]
) -> None:
    html = _client(example_app).get("/segments").get_data(as_text=True)
    with example_app.app_context():
        for name, tag_id in example_seed["acme"]["tags"].items():
            size = len(db.session.get(Tag, tag_id).customers)
            row = re.search(
                rf'<span class="chip">{re.escape(name)}</span></td>\s*'
                rf'<td class="num">(\d+)</td>\s*'
                rf'<td class="actions"><a href="/contacts/\?tag={tag_id}"',
                html,
            )
            assert row is not None, name
            assert int(row.group(1)) == size
    assert "Agency partners" not in html  # Globex's own tag
