"""The preview contract: the dashboard renders the real page for an unsaved link."""

from __future__ import annotations

from flask import Flask

from flask_paylinks.db.models import LinkItem, PaymentLink, Product
from flask_paylinks.web.checkout.rendering import render_checkout_page


def transient_link() -> PaymentLink:
    """A link built in memory as the dashboard's form would, never saved."""
    mug = Product(
        name="Ceramic mug",
        description="Holds 350 ml.",
        unit_amount=1800,
        currency="USD",
        kind="one_time",
        image_url="https://cdn.example.com/mug.png",
    )
    club = Product(
        name="Coffee club",
        unit_amount=1500,
        currency="USD",
        kind="recurring",
        interval="month",
    )
    beans = Product(
        name="Bean box",
        unit_amount=4000,
        currency="USD",
        kind="recurring",
        interval="month",
        interval_count=3,
    )
    link = PaymentLink(
        name="INTERNAL-NAME-DO-NOT-SHOW",
        currency="USD",
        require_phone=True,
        collect_address=True,
        allow_coupons=True,
        brand_color="#0F766E",
        button_style="pill",
        logo_url="https://cdn.example.com/logo.png",
    )
    link.items = [
        LinkItem(product=mug, adjustable=True, min_quantity=1, max_quantity=6),
        LinkItem(product=club),
        LinkItem(product=beans),
    ]
    return link


def test_preview_of_a_transient_link_shows_what_customers_see(host_a: Flask) -> None:
    link = transient_link()
    with host_a.test_request_context("/paylinks/links/new"):
        html = render_checkout_page(link, preview=True)
    # Branding: colour, button style, logo.
    assert "--brand:#0F766E" in html
    assert 'class="pl-btn-pill"' in html
    assert 'src="https://cdn.example.com/logo.png"' in html
    # Products, prices, the quantity selector within bounds, the plan choice.
    assert "Ceramic mug" in html
    assert "$18.00" in html
    assert "$15.00</p>" not in html  # prices are followed by their interval
    assert "$15.00 <span>/ month</span>" in html
    assert "$40.00 <span>every 3 months</span>" in html
    assert '<select id="qty-new0" name="qty-new0"' in html
    assert "<option>6</option>" in html
    assert "<option>7</option>" not in html
    assert "Choose a plan" in html
    assert 'name="plan"' in html
    # Coupon, phone (required), address fields, and the pay button with the total.
    assert 'id="coupon"' in html
    assert '<label for="phone">Phone</label>' in html
    assert 'id="line1"' in html
    assert 'id="country"' in html
    assert "Pay $33.00" in html
    # Inert: a preview marker, no form to submit, no CSRF token, no attempt.
    assert "Preview" in html
    assert "<form" not in html
    assert 'type="submit"' not in html
    assert "csrf_token" not in html
    assert 'name="attempt"' not in html
    # The link's internal name never reaches the page.
    assert "INTERNAL-NAME-DO-NOT-SHOW" not in html
    assert link.id is None  # nothing was saved


def test_preview_without_optional_fields(host_a: Flask) -> None:
    link = transient_link()
    link.require_phone = False
    link.collect_address = False
    link.allow_coupons = False
    link.logo_url = None
    link.brand_color = None
    with host_a.test_request_context("/"):
        html = render_checkout_page(link, preview=True)
    assert '<label for="phone">Phone (optional)</label>' in html
    assert 'id="line1"' not in html
    assert 'id="coupon"' not in html
    assert "--brand:#4F46E5" in html  # the configured default
    assert "pl-logo" not in html
