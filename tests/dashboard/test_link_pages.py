"""The links table, the link builder, a link's page and its actions."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select

from flask_paylinks.db.models import Asset, Payment, PaymentLink
from flask_paylinks.db.session import session

from ..factories import days_ago, make_link, make_payment, make_product
from .conftest import OWNER_A, OWNER_B
from .html import by_id, by_name, control, parse, text


def _link(link_id: int) -> PaymentLink:
    session().expire_all()
    link = session().get(PaymentLink, link_id)
    assert link is not None
    return link


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.frombytes("RGB", (8, 8), os.urandom(8 * 8 * 3)).save(buffer, "PNG")
    return buffer.getvalue()


# -- the table -----------------------------------------------------------------


def test_table_shows_each_link_with_url_status_price_source_and_date(
    client_a: FlaskClient,
) -> None:
    course = make_product(OWNER_A, unit_amount=4900)
    plan = make_product(OWNER_A, unit_amount=1900, kind="recurring")
    older = make_link(
        OWNER_A, [course, plan], name="Course + coaching", created_at=days_ago(2)
    )
    newer = make_link(
        OWNER_A,
        [make_product(OWNER_A, unit_amount=1000)],
        name="Tickets",
        source="api",
        status="inactive",
        items=[{"adjustable": True, "min_quantity": 1, "max_quantity": 9}],
    )
    response = client_a.get("/paylinks/")
    assert response.status_code == 200
    rows = [e for e in parse(response.data) if e.tag == "tr" and e.get("data-link-row")]
    assert [row["data-link-row"] for row in rows] == [str(newer.id), str(older.id)]
    page = text(response.data)
    assert "2 payment links" in page
    assert "Course + coaching" in page
    assert "$49.00 + $19.00 / month" in page
    assert "from $10.00" in page
    assert "Inactive" in page
    assert "API" in page
    assert "Dashboard" in page
    url = f"http://localhost/pay/{older.slug}"
    copy_buttons = [e for e in parse(response.data) if e.get("data-copy") == url]
    assert copy_buttons, "no copy button for the link's full URL"
    assert url in page
    detail = f"/paylinks/links/{older.id}"
    assert any(e.get("href") == detail for e in parse(response.data))
    # Every row has the menu: edit, copy, open, QR codes, deactivate/activate, delete.
    hrefs = {e.get("href") for e in parse(response.data)}
    assert f"/paylinks/links/{older.id}/edit" in hrefs
    assert f"/paylinks/links/{older.id}/qr.png?download=1" in hrefs
    assert f"/paylinks/links/{older.id}/qr.svg?download=1" in hrefs
    assert f"/paylinks/links/{older.id}/delete" in hrefs
    actions = {e.get("action") for e in parse(response.data) if e.tag == "form"}
    assert f"/paylinks/links/{older.id}/deactivate" in actions
    assert f"/paylinks/links/{newer.id}/activate" in actions


def test_empty_states(client_a: FlaskClient) -> None:
    first = text(client_a.get("/paylinks/").data)
    assert "Create your first payment link" in first
    make_link(OWNER_A, name="Spring")
    none = text(client_a.get("/paylinks/?q=winter").data)
    assert "No payment links match" in none
    assert "0 payment links match" in none


def test_pages_of_the_table_keep_the_filters(app: Flask, client_a: FlaskClient) -> None:
    app.config["PAYLINKS_PAGE_SIZE"] = 10
    product = make_product(OWNER_A)
    for n in range(23):
        make_link(OWNER_A, [product], name=f"Promo {n:02d}", created_at=days_ago(n))
    make_link(OWNER_A, [product], name="Other")
    first = client_a.get("/paylinks/?q=promo")
    nxt = next(e for e in parse(first.data) if e.get("rel") == "next")["href"]
    assert "q=promo" in nxt
    assert not [e for e in parse(first.data) if e.get("rel") == "prev"]
    second = client_a.get(nxt)
    assert "Promo 10" in text(second.data)
    assert "Promo 09" not in text(second.data)
    third = client_a.get(
        next(e for e in parse(second.data) if e.get("rel") == "next")["href"]
    )
    assert "Promo 22" in text(third.data)
    assert not [e for e in parse(third.data) if e.get("rel") == "next"]
    back = client_a.get(
        next(e for e in parse(third.data) if e.get("rel") == "prev")["href"]
    )
    assert text(back.data) == text(second.data)


# -- create and edit -----------------------------------------------------------


def test_create_a_link_with_a_fixed_and_a_chosen_quantity(
    client_a: FlaskClient,
) -> None:
    course = make_product(OWNER_A, name="Course", unit_amount=4900)
    seats = make_product(OWNER_A, name="Seat", unit_amount=1500)
    page = client_a.get("/paylinks/links/new")
    assert page.status_code == 200
    assert "One-time products" in text(page.data)
    assert "Recurring products" in text(page.data)
    response = client_a.post(
        "/paylinks/links/new",
        data={
            "name": "Workshop",
            "items-0-product_id": str(course.id),
            "items-0-quantity": "1",
            "items-3-product_id": str(seats.id),
            "items-3-adjustable": "y",
            "items-3-min_quantity": "1",
            "items-3-max_quantity": "10",
            "require_phone": "y",
            "allow_coupons": "y",
            "after_payment": "redirect",
            "redirect_url": "https://example.com/thanks",
            "redirect_target": "new",
            "brand_color": "#0a7d5a",
            "button_style": "pill",
        },
    )
    assert response.status_code == 302
    link = session().scalars(select(PaymentLink)).one()
    assert response.headers["Location"] == f"/paylinks/links/{link.id}"
    assert link.owner_id == OWNER_A
    assert [
        (i.product_id, i.adjustable, i.min_quantity, i.max_quantity) for i in link.items
    ] == [
        (course.id, False, None, None),
        (seats.id, True, 1, 10),
    ]
    assert (link.require_phone, link.collect_address, link.allow_coupons) == (
        True,
        False,
        True,
    )
    assert (link.redirect_url, link.redirect_new_tab) == (
        "https://example.com/thanks",
        True,
    )
    assert (link.brand_color, link.button_style) == ("#0A7D5A", "pill")
    detail = text(client_a.get(response.headers["Location"]).data)
    assert "Created “Workshop”" in detail
    assert "from $64.00" in detail


def test_the_builder_lists_items_in_their_sections(client_a: FlaskClient) -> None:
    course = make_product(OWNER_A, name="Course")
    plan = make_product(OWNER_A, name="Membership", kind="recurring")
    link = make_link(OWNER_A, [plan, course])
    html = client_a.get(f"/paylinks/links/{link.id}/edit").data
    sections = {e["data-section"]: e.text for e in parse(html) if e.get("data-section")}
    assert "Course" in sections["one_time"]
    assert "Membership" not in sections["one_time"]
    assert "Membership" in sections["recurring"]
    assert control(html, "name")["value"] == link.name


def test_edit_a_link(client_a: FlaskClient) -> None:
    course = make_product(OWNER_A)
    link = make_link(OWNER_A, [course], name="Before", brand_color="#111111")
    response = client_a.post(
        f"/paylinks/links/{link.id}/edit",
        data={
            "name": "After",
            "items-0-product_id": str(course.id),
            "items-0-quantity": "3",
            "after_payment": "confirmation",
            "brand_color": "",
            "button_style": "square",
        },
    )
    assert response.status_code == 302
    saved = _link(link.id)
    assert (saved.name, saved.items[0].quantity, saved.brand_color) == (
        "After",
        3,
        None,
    )
    assert saved.button_style == "square"


def test_a_product_page_can_start_a_link(client_a: FlaskClient) -> None:
    course = make_product(OWNER_A, name="Course")
    html = client_a.get(f"/paylinks/links/new?product={course.id}").data
    assert control(html, "items-0-product_id")["value"] == str(course.id)
    assert control(html, "name")["value"] == "Course"


def test_product_search_finds_own_active_products(client_a: FlaskClient) -> None:
    make_product(OWNER_A, name="Yoga class", unit_amount=2500)
    make_product(OWNER_A, name="Yoga mat", active=False)
    make_product(OWNER_A, name="Hidden yoga", listed=False)
    make_product(OWNER_B, name="Yoga retreat")
    found = client_a.get("/paylinks/products/search.json?q=YOGA").get_json()
    assert [(p["name"], p["price"], p["kind"]) for p in found] == [
        ("Yoga class", "$25.00", "one_time")
    ]


# -- logos ---------------------------------------------------------------------


def test_logo_upload_is_stored_and_served_as_what_it_is(
    client_a: FlaskClient, app: Flask
) -> None:
    course = make_product(OWNER_A)
    png = _png()
    response = client_a.post(
        "/paylinks/links/new",
        data={
            "name": "Branded",
            "items-0-product_id": str(course.id),
            "items-0-quantity": "1",
            "after_payment": "confirmation",
            "button_style": "rounded",
            # The browser says GIF; Pillow finds a PNG, and that is what we serve.
            "logo_file": (io.BytesIO(png), "logo.gif", "image/gif"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    link = session().scalars(select(PaymentLink)).one()
    asset = session().get(Asset, link.logo_asset_id)
    assert asset is not None
    assert (asset.owner_id, asset.content_type, asset.data) == (
        OWNER_A,
        "image/png",
        png,
    )
    served = app.test_client().get(f"/pay/assets/{asset.token}")
    assert served.status_code == 200
    assert served.mimetype == "image/png"
    assert served.data == png
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    detail = client_a.get(f"/paylinks/links/{link.id}").data
    assert any(e.get("src") == f"/pay/assets/{asset.token}" for e in parse(detail))
    # Removing it on the edit page.
    client_a.post(
        f"/paylinks/links/{link.id}/edit",
        data={
            "name": "Branded",
            "items-0-product_id": str(course.id),
            "items-0-quantity": "1",
            "after_payment": "confirmation",
            "button_style": "rounded",
            "remove_logo": "y",
        },
    )
    assert _link(link.id).logo_asset_id is None
    assert app.test_client().get("/pay/assets/nope").status_code == 404


# -- actions -------------------------------------------------------------------


def test_deactivate_and_activate_from_the_table(client_a: FlaskClient) -> None:
    link = make_link(OWNER_A, name="Spring")
    response = client_a.post(
        f"/paylinks/links/{link.id}/deactivate", data={"next": "/paylinks/?q=Spr"}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/paylinks/?q=Spr"
    assert _link(link.id).status == "inactive"
    page = text(client_a.get("/paylinks/?q=Spr").data)
    assert "Deactivated “Spring”" in page
    assert "Inactive" in page
    client_a.post(f"/paylinks/links/{link.id}/activate")
    assert _link(link.id).status == "active"


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"],
)
def test_actions_only_return_to_this_site(client_a: FlaskClient, target: str) -> None:
    link = make_link(OWNER_A)
    response = client_a.post(
        f"/paylinks/links/{link.id}/deactivate", data={"next": target}
    )
    assert response.headers["Location"] == "/paylinks/"


def test_delete_asks_first_and_keeps_the_payments(client_a: FlaskClient) -> None:
    link = make_link(OWNER_A, name="Old offer")
    payments = [make_payment(OWNER_A, link) for _ in range(3)]
    confirm = text(client_a.get(f"/paylinks/links/{link.id}/delete").data)
    assert "Delete “Old offer”?" in confirm
    assert "Its 3 payments will be kept." in confirm
    assert _link(link.id).deleted_at is None
    response = client_a.post(f"/paylinks/links/{link.id}/delete")
    assert response.headers["Location"] == "/paylinks/"
    assert _link(link.id).deleted_at is not None
    assert "Old offer" not in text(client_a.get("/paylinks/").data).replace(
        "Deleted “Old offer”", ""
    )
    assert client_a.get(f"/paylinks/links/{link.id}").status_code == 404
    kept = session().scalars(select(Payment.id).where(Payment.link_id == link.id)).all()
    assert sorted(kept) == sorted(p.id for p in payments)


def test_csrf_is_required_when_the_host_turns_it_on(
    app: Flask, client_a: FlaskClient
) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    course = make_product(OWNER_A)
    link = make_link(OWNER_A, [course])
    assert client_a.post(f"/paylinks/links/{link.id}/deactivate").status_code == 400
    assert client_a.post(f"/paylinks/links/{link.id}/delete").status_code == 400
    assert _link(link.id).status == "active"
    assert _link(link.id).deleted_at is None
    response = client_a.post(
        "/paylinks/links/new",
        data={
            "name": "No token",
            "items-0-product_id": str(course.id),
            "items-0-quantity": "1",
        },
    )
    assert response.status_code == 422
    assert "The form expired" in text(response.data)
    assert session().scalar(select(func.count()).select_from(PaymentLink)) == 1
    # With the token the page gave, it works.
    page = client_a.get("/paylinks/")
    token = next(iter(by_name(page.data, "csrf_token")))["value"]
    ok = client_a.post(
        f"/paylinks/links/{link.id}/deactivate", data={"csrf_token": token}
    )
    assert ok.status_code == 302
    assert _link(link.id).status == "inactive"


# -- one link's page -----------------------------------------------------------


def test_detail_shows_url_qr_settings_and_payments(
    app: Flask, client_a: FlaskClient
) -> None:
    app.extensions["paylinks"].contact_url = lambda contact_id: (
        f"/crm/contacts/{contact_id}"
    )
    course = make_product(OWNER_A, name="Course", unit_amount=4900)
    link = make_link(OWNER_A, [course], name="Course link", collect_address=True)
    make_payment(
        OWNER_A,
        link,
        amount_total=4900,
        customer_name="Ada Lovelace",
        customer_email="ada@example.test",
        customer_phone="+15551230000",
        contact_id="42",
        created_at=days_ago(1),
    )
    make_payment(OWNER_A, link, state="failed", amount_total=4900, customer_name="Bo")
    make_payment(OWNER_A, make_link(OWNER_A), customer_name="Elsewhere")
    html = client_a.get(f"/paylinks/links/{link.id}").data
    page = text(html)
    assert by_id(html, "pl-link-url")["value"] == f"http://localhost/pay/{link.slug}"
    assert any(e.get("src") == f"/paylinks/links/{link.id}/qr.svg" for e in parse(html))
    assert "Name and email, address" in page
    assert "Ada Lovelace" in page
    assert "ada@example.test" in page
    assert "+15551230000" in page
    assert "Elsewhere" not in page
    assert "Succeeded 1 · $49.00" in page
    assert "Failed 1 · $49.00" in page
    contact_links = [e for e in parse(html) if e.get("href") == "/crm/contacts/42"]
    assert len(contact_links) == 3  # name, email and phone each lead to the contact
    assert "Bo" in page


def test_detail_pages_through_payments(app: Flask, client_a: FlaskClient) -> None:
    app.config["PAYLINKS_PAGE_SIZE"] = 5
    link = make_link(OWNER_A)
    for n in range(12):
        make_payment(
            OWNER_A, link, customer_name=f"Payer {n:02d}", created_at=days_ago(n)
        )
    first = client_a.get(f"/paylinks/links/{link.id}").data
    assert "Payer 00" in text(first)
    assert "Payer 05" not in text(first)
    older = next(e for e in parse(first) if e.get("rel") == "next")["href"]
    second = client_a.get(older).data
    assert "Payer 05" in text(second)
    assert "Payer 04" not in text(second)


def test_csv_export_of_a_links_payments(client_a: FlaskClient) -> None:
    link = make_link(OWNER_A)
    make_payment(
        OWNER_A,
        link,
        amount_total=4410,
        amount_discount=490,
        coupon_code="SAVE10",
        customer_name='=HYPERLINK("http://x")',
        customer_email="ada@example.test",
        customer_phone="+15551230000",
        contact_id="42",
        amount_recurring=1900,
        recurring_interval="month",
        recurring_interval_count=1,
    )
    make_payment(OWNER_A, make_link(OWNER_A), customer_name="Elsewhere")
    response = client_a.get(f"/paylinks/links/{link.id}/payments.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.data.decode())))
    assert rows[0][:5] == ["Date (UTC)", "Reference", "Status", "Amount", "Currency"]
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["Amount"] == "44.10"
    assert row["Discount"] == "4.90"
    assert row["Coupon"] == "SAVE10"
    assert row["Recurring amount"] == "19.00"
    assert row["Every"] == "month"
    # A spreadsheet must not run what a customer typed.
    assert row["Customer name"] == '\'=HYPERLINK("http://x")'
    assert row["Phone"] == "+15551230000"
    assert row["Contact ID"] == "42"


def test_qr_codes(client_a: FlaskClient) -> None:
    link = make_link(OWNER_A)
    png = client_a.get(f"/paylinks/links/{link.id}/qr.png")
    assert png.mimetype == "image/png"
    with Image.open(io.BytesIO(png.data)) as image:
        assert image.format == "PNG"
        assert image.size[0] == image.size[1] >= 200
    svg = client_a.get(f"/paylinks/links/{link.id}/qr.svg?download=1")
    assert svg.mimetype == "image/svg+xml"
    assert b"<svg" in svg.data
    assert svg.headers["Content-Disposition"] == (
        f'attachment; filename="payment-link-{link.id}-qr.svg"'
    )
    assert "Content-Disposition" not in png.headers


# -- live preview --------------------------------------------------------------


def test_preview_renders_the_checkout_template_and_saves_nothing(
    client_a: FlaskClient,
) -> None:
    course = make_product(OWNER_A, name="Course", unit_amount=4900)
    form = {
        "name": "Spring",
        "items-0-product_id": str(course.id),
        "items-0-quantity": "1",
        "brand_color": "#FF0000",
    }
    first = client_a.post("/paylinks/links/preview", data=form)
    assert first.status_code == 200
    assert first.mimetype == "text/html"
    html = first.data.decode()
    assert "Course" in html
    assert "--brand:#FF0000" in html
    # The internal name is never shown to customers, so not in the preview.
    assert "Spring" not in html
    seats = make_product(OWNER_A, name="Seat", unit_amount=1500)
    second = client_a.post(
        "/paylinks/links/preview",
        data={
            **form,
            "brand_color": "#0A7D5A",
            "items-1-product_id": str(seats.id),
            "items-1-adjustable": "y",
            "items-1-min_quantity": "2",
            "items-1-max_quantity": "6",
        },
    ).data.decode()
    assert "--brand:#0A7D5A" in second
    assert "Seat" in second
    # It is inert: nothing in it can submit a payment.
    assert 'name="csrf_token"' not in second
    assert session().scalar(select(func.count()).select_from(PaymentLink)) == 0
    # The preview of a link being edited keeps its slug; B's link is not A's.
    link = make_link(OWNER_A, [course])
    edited = client_a.post(f"/paylinks/links/{link.id}/preview", data=form)
    assert edited.status_code == 200
    assert _link(link.id).name != "Spring"


def test_preview_uses_the_hosts_checkout_template(
    tmp_path: Path, app: Flask, client_a: FlaskClient
) -> None:
    """A host's own checkout page shows in the preview: they cannot drift."""
    from jinja2 import ChoiceLoader, FileSystemLoader

    override = tmp_path / "paylinks" / "checkout"
    override.mkdir(parents=True)
    (override / "page.html").write_text(
        "<p class=brand>{{ link.brand_color }}</p><p>{{ link.name }}</p>"
    )
    app.jinja_loader = ChoiceLoader([FileSystemLoader(str(tmp_path)), app.jinja_loader])  # type: ignore[list-item]
    app.jinja_env.loader = app.create_global_jinja_loader()
    course = make_product(OWNER_A)
    html = client_a.post(
        "/paylinks/links/preview",
        data={
            "name": "Spring",
            "items-0-product_id": str(course.id),
            "brand_color": "#ff0000",
        },
    ).data.decode()
    assert "<p class=brand>#FF0000</p>" in html


def test_preview_ignores_other_merchants_products(client_a: FlaskClient) -> None:
    foreign = make_product(OWNER_B, name="Secret product")
    html = client_a.post(
        "/paylinks/links/preview",
        data={"name": "x", "items-0-product_id": str(foreign.id)},
    ).data.decode()
    assert "Secret product" not in html


# -- host overrides ------------------------------------------------------------


def test_a_host_form_class_replaces_the_link_form(
    app: Flask, client_a: FlaskClient
) -> None:
    from wtforms import StringField

    from flask_paylinks.web.dashboard.forms import LinkForm

    class HostLinkForm(LinkForm):  # type: ignore[misc]
        name = StringField("Internal reference")

    app.extensions["paylinks"].forms["link"] = HostLinkForm
    html = client_a.get("/paylinks/links/new").data
    labels = [
        e.text for e in parse(html) if e.tag == "label" and e.get("for") == "name"
    ]
    assert labels == ["Internal reference"]


def test_every_input_has_a_visible_label(client_a: FlaskClient) -> None:
    course = make_product(OWNER_A)
    link = make_link(OWNER_A, [course])
    make_payment(OWNER_A, link)
    for path in [
        "/paylinks/",
        "/paylinks/links/new",
        f"/paylinks/links/{link.id}/edit",
        f"/paylinks/links/{link.id}",
        "/paylinks/products",
        "/paylinks/products/new",
        f"/paylinks/products/{course.id}/edit",
        "/paylinks/coupons/new",
    ]:
        elements = parse(client_a.get(path).data)
        visible_labels = {
            e.get("for")
            for e in elements
            if e.tag == "label" and "pl-visually-hidden" not in (e.get("class") or "")
        }
        controls = [
            e
            for e in elements
            if e.tag in {"input", "select", "textarea"}
            and e.get("type") not in {"hidden", "submit"}
        ]
        # A control may share a visible label by naming it in aria-labelledby
        # (the colour picker beside the brand colour's hex field).
        visible_label_ids = {
            e.get("id")
            for e in elements
            if e.tag == "label"
            and e.get("id")
            and "pl-visually-hidden" not in (e.get("class") or "")
        }
        assert controls
        for control_ in controls:
            shared = (control_.get("aria-labelledby") or "").split()[:1]
            assert control_.get("id") in visible_labels or (
                shared and shared[0] in visible_label_ids
            ), f"{path}: {control_.attrs}"


def test_anonymous_visitors_get_the_hosts_login(app: Flask) -> None:
    link = make_link(OWNER_A)
    response = app.test_client().get(f"/paylinks/links/{link.id}")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_a_large_table_says_more_than(
    client_a: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flask_paylinks.links import service as links

    monkeypatch.setattr(links, "COUNT_CAP", 3)
    for n in range(5):
        make_link(OWNER_A, name=f"Promo {n}")
    assert "More than 3 payment links" in text(client_a.get("/paylinks/").data)
    assert "More than 3 payment links match" in text(
        client_a.get("/paylinks/?q=Promo+").data
    )
    assert "1 payment link matches" in text(client_a.get("/paylinks/?q=Promo+4").data)
