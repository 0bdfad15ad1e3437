"""The checkout pages over HTTP: show, pay, decline, receipt, redirect."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient

from flask_paylinks.db.models import Coupon, LinkStatus, Product, utcnow

from .conftest import (
    DECLINED_CARD,
    NO_FUNDS_CARD,
    Shop,
    priced,
    submission,
)

Heard = Callable[[str], list[dict[str, Any]]]


def test_page_shows_products_branding_and_never_the_internal_name(
    client: FlaskClient, shop: Shop, yoga: Product
) -> None:
    link = shop.link(
        [{"product": yoga, "adjustable": True, "min_quantity": 1, "max_quantity": 4}],
        name="Internal: spring promo 2026",
        brand_color="#B91C1C",
        button_style="square",
        logo_url="https://cdn.example.com/logo.png",
    )
    response = client.get(f"/pay/{link.slug}")
    assert response.status_code == 200
    html = response.text
    assert "Yoga class" in html
    assert "One hour, all levels." in html
    assert "$25.00" in html
    assert "Pay $25.00" in html
    assert "--brand:#B91C1C" in html
    assert "pl-btn-square" in html
    assert "https://cdn.example.com/logo.png" in html
    assert "Test mode" in html
    assert "Internal: spring promo 2026" not in html
    assert "<option>4</option>" in html
    assert "<option>5</option>" not in html


def test_every_input_has_a_label(
    client: FlaskClient, shop: Shop, yoga: Product
) -> None:
    link = shop.link(
        [{"product": yoga, "adjustable": True, "min_quantity": 1, "max_quantity": 50}],
        allow_coupons=True,
        collect_address=True,
    )
    html = client.get(f"/pay/{link.slug}").text
    ids = re.findall(
        r'<(?:input|select)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', html
    )
    assert len(ids) >= 12
    for field_id in ids:
        assert f'<label for="{field_id}"' in html, field_id


def test_unknown_slug_is_404_and_stopped_links_are_410(
    client: FlaskClient, shop: Shop, yoga: Product
) -> None:
    assert client.get("/pay/no-such-link").status_code == 404
    assert client.get("/pay/" + "x" * 300).status_code == 404
    internal = "Internal: spring promo 2026"
    stopped = [
        shop.link([{"product": yoga}], name=internal, status=LinkStatus.INACTIVE),
        shop.link([{"product": yoga}], name=internal, deleted_at=utcnow()),
        shop.link(
            [{"product": yoga}],
            name=internal,
            expires_at=utcnow() - timedelta(minutes=1),
        ),
    ]
    for link in stopped:
        response = client.get(f"/pay/{link.slug}")
        assert response.status_code == 410
        assert "This link is no longer available" in response.text
        assert "Internal: spring promo" not in response.text
        assert client.post(f"/pay/{link.slug}", data={}).status_code == 410
    assert shop.payments() == []


def test_security_headers(client: FlaskClient, shop: Shop, yoga: Product) -> None:
    link = shop.link([{"product": yoga}])
    response = client.get(f"/pay/{link.slug}")
    csp = response.headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce is not None
    assert f'<style nonce="{nonce.group(1)}">' in response.text
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert "default-src 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    second = client.get(f"/pay/{link.slug}").headers["Content-Security-Policy"]
    assert second != csp  # a fresh nonce on every response
    assert "<script>" not in response.text  # no inline script without a nonce
    assert " style=" not in response.text


def test_paying_records_the_payment_contact_and_signals(
    client: FlaskClient, shop: Shop, yoga: Product, received: Heard
) -> None:
    link = shop.link(
        [{"product": yoga, "adjustable": True, "min_quantity": 1, "max_quantity": 5}],
        allow_coupons=True,
        require_phone=True,
        collect_address=True,
    )
    coupon = shop.coupon(code="SAVE10", max_redemptions=5)
    data = priced(
        client,
        link,
        submission(client, link, **{f"qty-{yoga.id}": "3", "coupon": "save10"}),
    )
    assert len(data["terms"]) == 32
    response = client.post(f"/pay/{link.slug}", data=data)
    assert response.status_code == 303
    [payment] = shop.payments()
    assert payment.state == "succeeded"
    assert (payment.amount_subtotal, payment.amount_discount, payment.amount_total) == (
        7500,
        750,
        6750,
    )
    assert payment.snapshot["lines"][0]["quantity"] == 3
    assert payment.customer_phone == "+14155552671"
    assert payment.reference.startswith("PL-")
    assert shop.get(Coupon, coupon.id).times_redeemed == 1
    [customer] = shop.customers()
    assert (customer.full_name, customer.email, customer.mobile) == (
        "Ada Lovelace",
        "ada@example.com",
        "+14155552671",
    )
    assert (customer.street, customer.city, customer.zip, customer.country) == (
        "12 Analytical Row",
        "London",
        "N1 9GU",
        "GB",
    )
    assert payment.contact_id == str(customer.id)
    assert [s["payment"].id for s in received("checkout_started")] == [payment.id]
    [paid] = received("payment_succeeded")
    assert paid["payment"].id == payment.id
    assert paid["contact"].phone == "+14155552671"
    assert received("payment_failed") == []

    receipt = client.get(response.headers["Location"])
    assert receipt.status_code == 200
    assert "Payment received" in receipt.text
    assert payment.reference in receipt.text
    assert "$67.50" in receipt.text
    assert "Yoga class" in receipt.text


def test_declined_card_keeps_the_form_and_records_a_failed_payment(
    client: FlaskClient, shop: Shop, yoga: Product, received: Heard
) -> None:
    link = shop.link(
        [{"product": yoga, "adjustable": True, "min_quantity": 1, "max_quantity": 5}],
        allow_coupons=True,
        collect_address=True,
    )
    coupon = shop.coupon(code="SAVE10", max_redemptions=1)
    data = priced(
        client,
        link,
        submission(
            client,
            link,
            **{f"qty-{yoga.id}": "2", "coupon": "SAVE10", "card-number": DECLINED_CARD},
        ),
    )
    response = client.post(f"/pay/{link.slug}", data=data)
    assert response.status_code == 402
    html = response.text
    assert (
        "Your card was declined. You have not been charged. Try another card." in html
    )
    assert 'value="Ada Lovelace"' in html
    assert 'value="12 Analytical Row"' in html
    assert 'value="SAVE10"' in html
    assert "<option selected>2</option>" in html
    card_input = re.search(r'<input[^>]*id="card-number"[^>]*>', html)
    assert card_input is not None
    assert 'value=""' in card_input.group(0)  # the card number is not kept
    assert 'aria-invalid="true"' in card_input.group(0)
    assert "card-number-error" in card_input.group(0)
    [payment] = shop.payments()
    assert payment.state == "failed"
    assert payment.failure_code == "card_declined"
    assert payment.contact_id is None
    assert shop.customers() == []
    assert shop.get(Coupon, coupon.id).times_redeemed == 0
    assert [s["payment"].id for s in received("payment_failed")] == [payment.id]
    assert received("payment_succeeded") == []

    # The page came back with a new attempt: paying again is a new payment,
    # and the failed one no longer holds the coupon's only redemption.
    again = dict(data)
    new_attempt = re.search(r'name="attempt" type="hidden" value="([^"]+)"', html)
    assert new_attempt is not None
    assert new_attempt.group(1) != data["attempt"]
    again.update({"attempt": new_attempt.group(1), "card-number": "4242424242424242"})
    assert client.post(f"/pay/{link.slug}", data=again).status_code == 303
    assert [p.state for p in shop.payments()] == ["failed", "succeeded"]
    assert shop.get(Coupon, coupon.id).times_redeemed == 1


def test_insufficient_funds_says_so(
    client: FlaskClient, shop: Shop, yoga: Product
) -> None:
    link = shop.link([{"product": yoga}])
    data = priced(
        client, link, submission(client, link, **{"card-number": NO_FUNDS_CARD})
    )
    response = client.post(f"/pay/{link.slug}", data=data)
    assert response.status_code == 402
    assert "Your card has insufficient funds." in response.text
    assert [p.failure_code for p in shop.payments()] == ["insufficient_funds"]


def test_double_submit_and_reload_make_one_payment(
    client: FlaskClient, shop: Shop, yoga: Product, received: Heard
) -> None:
    link = shop.link([{"product": yoga}])
    data = priced(client, link, submission(client, link))
    first = client.post(f"/pay/{link.slug}", data=data)
    second = client.post(f"/pay/{link.slug}", data=data)
    third = client.post(f"/pay/{link.slug}", data=data)
    assert first.status_code == second.status_code == third.status_code == 303
    assert (
        first.headers["Location"]
        == second.headers["Location"]
        == third.headers["Location"]
    )
    [payment] = shop.payments()
    assert payment.state == "succeeded"
    assert len(received("checkout_started")) == 1
    assert len(received("payment_succeeded")) == 1
    assert len(shop.customers()) == 1


def test_reloading_a_decline_charges_nothing_more(
    client: FlaskClient, shop: Shop, yoga: Product
) -> None:
    link = shop.link([{"product": yoga}])
    data = priced(
        client, link, submission(client, link, **{"card-number": DECLINED_CARD})
    )
    assert client.post(f"/pay/{link.slug}", data=data).status_code == 402
    # The browser's "resend form" posts the same attempt with another card.
    data["card-number"] = "4242 4242 4242 4242"
    assert client.post(f"/pay/{link.slug}", data=data).status_code == 402
    assert [p.state for p in shop.payments()] == ["failed"]


def test_a_changed_total_is_confirmed_before_charging(
    client: FlaskClient, shop: Shop, yoga: Product
) -> None:
    link = shop.link(
        [{"product": yoga, "adjustable": True, "min_quantity": 1, "max_quantity": 5}]
    )
    data = submission(client, link, **{f"qty-{yoga.id}": "4"})  # page said $25.00
    response = client.post(f"/pay/{link.slug}", data=data)
    assert response.status_code == 409
    assert "It now costs $100.00" in response.text
    assert "Pay $100.00" in response.text
    assert shop.payments() == []


def test_quote_endpoint_without_javascript_returns_the_page(
    client: FlaskClient, shop: Shop, yoga: Product
) -> None:
    link = shop.link(
        [{"product": yoga, "adjustable": True, "min_quantity": 1, "max_quantity": 5}],
        allow_coupons=True,
    )
    shop.coupon(code="SAVE10", percent_off_bp=2500)
    data = submission(client, link, **{f"qty-{yoga.id}": "2", "coupon": "save10"})
    response = client.post(f"/pay/{link.slug}/quote", data=data)
    assert response.status_code == 200
    assert "Pay $37.50" in response.text
    assert "\N{MINUS SIGN}$12.50" in response.text
    terms = client.post(
        f"/pay/{link.slug}/quote", data=data, headers={"Accept": "application/json"}
    ).json["terms"]
    assert f'name="terms" type="hidden" value="{terms}"' in response.text
    assert shop.payments() == []


def test_receipt_redirects_on_in_the_same_tab(
    client: FlaskClient, shop: Shop, yoga: Product
) -> None:
    link = shop.link([{"product": yoga}], redirect_url="https://example.com/thanks?x=1")
    data = priced(client, link, submission(client, link))
    receipt = client.get(
        client.post(f"/pay/{link.slug}", data=data).headers["Location"]
    )
    assert "Payment received — taking you on…" in receipt.text
    assert 'data-redirect="https://example.com/thanks?x=1"' in receipt.text
    assert "data-new-tab" not in receipt.text
    assert 'href="https://example.com/thanks?x=1"' in receipt.text


def test_receipt_opens_a_new_tab_and_keeps_a_link(
    client: FlaskClient, shop: Shop, yoga: Product
) -> None:
    link = shop.link(
        [{"product": yoga}],
        redirect_url="https://example.com/next",
        redirect_new_tab=True,
    )
    data = priced(client, link, submission(client, link))
    receipt = client.get(
        client.post(f"/pay/{link.slug}", data=data).headers["Location"]
    )
    assert "data-new-tab" in receipt.text
    assert 'target="_blank" rel="noopener"' in receipt.text
    assert "open example.com" in receipt.text


def test_redirect_url_is_checked_again_when_redirecting(
    client: FlaskClient, shop: Shop, yoga: Product
) -> None:
    # Stored before any dashboard validation existed, or edited in the database.
    for bad in (
        "javascript:alert(1)",
        "//evil.example/",
        "https://user:pw@example.com/",
        "https://exa mple.com/",
        "data:text/html,hi",
    ):
        link = shop.link([{"product": yoga}], redirect_url=bad)
        data = priced(client, link, submission(client, link))
        receipt = client.get(
            client.post(f"/pay/{link.slug}", data=data).headers["Location"]
        )
        assert receipt.status_code == 200
        assert "data-redirect" not in receipt.text
        assert "Payment received" in receipt.text


def test_receipt_token_cannot_be_forged(
    client: FlaskClient, shop: Shop, yoga: Product
) -> None:
    link = shop.link([{"product": yoga}])
    other = shop.link([{"product": yoga}])
    data = priced(client, link, submission(client, link))
    location = client.post(f"/pay/{link.slug}", data=data).headers["Location"]
    token = location.rsplit("/", 1)[1]
    [payment] = shop.payments()
    assert (
        client.get(f"/pay/{link.slug}/receipt/{payment.reference}").status_code == 404
    )
    assert client.get(f"/pay/{link.slug}/receipt/{token[:-2]}xx").status_code == 404
    assert client.get(f"/pay/{other.slug}/receipt/{token}").status_code == 404


def test_one_owners_coupon_does_not_work_on_anothers_link(
    client: FlaskClient, shop: Shop, yoga: Product
) -> None:
    link = shop.link([{"product": yoga}], allow_coupons=True)
    shop.coupon(owner="2", code="THEIRS")
    data = submission(client, link, coupon="theirs")
    response = client.post(
        f"/pay/{link.slug}/quote", data=data, headers={"Accept": "application/json"}
    )
    assert response.status_code == 422
    assert response.json["errors"] == {"coupon": "This code is not valid."}


def test_single_use_link_closes_after_payment(
    client: FlaskClient, shop: Shop, yoga: Product
) -> None:
    link = shop.link([{"product": yoga}], single_use=True)
    data = priced(client, link, submission(client, link))
    assert client.post(f"/pay/{link.slug}", data=data).status_code == 303
    assert client.get(f"/pay/{link.slug}").status_code == 410


def test_page_and_assets_are_small(
    client: FlaskClient, shop: Shop, yoga: Product
) -> None:
    link = shop.link(
        [{"product": yoga, "adjustable": True, "min_quantity": 1, "max_quantity": 9}],
        allow_coupons=True,
        collect_address=True,
        require_phone=True,
    )
    html = client.get(f"/pay/{link.slug}").data
    sizes = [len(html)]
    for asset in ("checkout.css", "checkout.js"):
        with client.get(f"/pay/static/paylinks/{asset}") as response:
            assert response.status_code == 200
            sizes.append(len(response.data))
    assert sum(sizes) < 60 * 1024


def test_slugs_carry_at_least_128_random_bits() -> None:
    import base64

    from flask_paylinks.links.service import new_slug

    slugs = {new_slug() for _ in range(1000)}
    assert len(slugs) == 1000
    for slug in slugs:
        raw = base64.urlsafe_b64decode(slug + "=" * (-len(slug) % 4))
        assert len(raw) * 8 >= 128
