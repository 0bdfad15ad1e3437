"""The checkout says who is being paid, and what a subscription agrees to."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from flask import Flask
from flask.testing import FlaskClient

from flask_paylinks import MerchantProfile
from flask_paylinks.db.models import LinkStatus, Payment, Product
from flask_paylinks.merchants import merchant_profile

from ..hosts import crm_a
from .conftest import Shop, priced, submission

ACME = crm_a.MERCHANTS["1"]


@pytest.fixture
def profiles() -> Iterator[dict[str, MerchantProfile]]:
    """Host A's profiles, restored after the test."""
    saved = dict(crm_a.MERCHANTS)
    yield crm_a.MERCHANTS
    crm_a.MERCHANTS.clear()
    crm_a.MERCHANTS.update(saved)


def text_of(page: str) -> str:
    """The words of *page* as a reader sees them, tags and spacing gone."""
    words = re.sub(r"</?(?:a|span|strong|em)\b[^>]*>", "", page)
    words = re.sub(r"<[^>]+>", " ", words)
    return re.sub(r"\s+", " ", html.unescape(words)).strip()


def title_of(page: str) -> str:
    found = re.search(r"<title>(.*?)</title>", page, re.S)
    assert found is not None
    return html.unescape(found.group(1))


def long_day(day: datetime) -> str:
    return str(format_date(day, format="long", locale="en_US"))


def test_the_checkout_names_the_merchant(
    client: FlaskClient, shop: Shop, yoga: Product
) -> None:
    link = shop.link([{"product": yoga}], logo_url="https://cdn.example/acme.png")
    page = client.get(f"/pay/{link.slug}").text
    assert title_of(page) == "Checkout · Acme Fitness"
    header = re.search(r'<header class="pl-header">(.*?)</header>', page, re.S)
    assert header is not None
    assert 'alt="Acme Fitness"' in header.group(1)
    assert "Acme Fitness" in text_of(header.group(1))
    # Another owner's link names that owner, even with the page cache on.
    other = shop.link([{"product": shop.product(owner="2")}], owner="2")
    assert title_of(client.get(f"/pay/{other.slug}").text) == (
        "Checkout · Globex Design"
    )
    assert title_of(client.get(f"/pay/{link.slug}").text) == "Checkout · Acme Fitness"


def test_the_merchant_name_is_escaped(
    client: FlaskClient, shop: Shop, yoga: Product, profiles: dict[str, MerchantProfile]
) -> None:
    profiles["1"] = MerchantProfile(name='<script>x</script> & "Co"')
    link = shop.link([{"product": yoga}], logo_url="https://cdn.example/acme.png")
    page = client.get(f"/pay/{link.slug}").text
    assert "<script>x</script>" not in page
    assert "&lt;script&gt;x&lt;/script&gt; &amp; &#34;Co&#34;" in page


def test_the_410_page_says_whom_to_ask(
    client: FlaskClient, shop: Shop, yoga: Product
) -> None:
    link = shop.link([{"product": yoga}], status=LinkStatus.INACTIVE)
    response = client.get(f"/pay/{link.slug}")
    assert response.status_code == 410
    words = text_of(response.text)
    assert "Ask Acme Fitness at help@acme.test or +1 555 0100 for a new one." in words
    assert 'href="mailto:help@acme.test"' in response.text
    assert 'href="tel:+15550100"' in response.text
    assert title_of(response.text) == "Link no longer available · Acme Fitness"


def test_without_a_profile_the_pages_name_the_configured_merchant(
    client: FlaskClient,
    host_a: Flask,
    shop: Shop,
    yoga: Product,
    profiles: dict[str, MerchantProfile],
) -> None:
    del profiles["1"]  # the hook answers None: the configured default
    link = shop.link([{"product": yoga}], status=LinkStatus.INACTIVE)
    words = text_of(client.get(f"/pay/{link.slug}").text)
    assert "Ask the business that sent you this link for a new one." in words
    host_a.config.update(
        PAYLINKS_MERCHANT_NAME="Main Street Gym",
        PAYLINKS_SUPPORT_EMAIL="desk@gym.test",
    )
    words = text_of(client.get(f"/pay/{link.slug}").text)
    assert "Ask Main Street Gym at desk@gym.test for a new one." in words


@pytest.mark.parametrize(
    "hook_answer",
    [
        RuntimeError("CRM down"),
        {"name": "Acme"},
        "Acme Fitness",
        MerchantProfile(name=42),  # type: ignore[arg-type]
    ],
    ids=["raises", "dict", "str", "bad-name"],
)
def test_a_broken_hook_never_breaks_the_checkout(
    client: FlaskClient,
    host_a: Flask,
    shop: Shop,
    yoga: Product,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    hook_answer: object,
) -> None:
    def hook(owner: str) -> object:
        if isinstance(hook_answer, Exception):
            raise hook_answer
        return hook_answer

    monkeypatch.setattr(host_a.extensions["paylinks"], "merchant_profile", hook)
    host_a.config["PAYLINKS_MERCHANT_NAME"] = "Fallback Inc"
    link = shop.link([{"product": yoga}])
    gone = shop.link([{"product": yoga}], status=LinkStatus.INACTIVE)
    with caplog.at_level(logging.WARNING, logger="flask_paylinks.merchants"):
        page = client.get(f"/pay/{link.slug}")
        stopped = client.get(f"/pay/{gone.slug}")
    assert page.status_code == 200
    assert title_of(page.text) == "Checkout · Fallback Inc"
    assert stopped.status_code == 410
    assert "Ask Fallback Inc for a new one." in text_of(stopped.text)
    assert any("merchant_profile('1')" in r.getMessage() for r in caplog.records)


def test_an_unknown_timezone_falls_back_to_utc_with_one_warning(
    host_a: Flask, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        host_a.extensions["paylinks"],
        "merchant_profile",
        lambda owner: MerchantProfile(name="Acme", timezone="Mars/Olympus_Mons"),
    )
    with caplog.at_level(logging.WARNING, logger="flask_paylinks.merchants"):
        for _ in range(3):
            with host_a.app_context():
                profile = merchant_profile("1")
                assert profile.timezone == "UTC"
                assert profile.zone == ZoneInfo("UTC")
    warnings = [r for r in caplog.records if "Mars/Olympus_Mons" in r.getMessage()]
    assert len(warnings) == 1


def test_the_hook_is_asked_once_per_request(
    client: FlaskClient, host_a: Flask, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def hook(owner: str) -> MerchantProfile:
        asked.append(owner)
        return ACME

    monkeypatch.setattr(host_a.extensions["paylinks"], "merchant_profile", hook)
    host_a.config["PAYLINKS_CHECKOUT_CACHE_SECONDS"] = 0
    monthly = shop.product(
        kind="recurring", interval="month", interval_count=1, unit_amount=4900
    )
    link = shop.link([{"product": monthly}])
    assert client.get(f"/pay/{link.slug}").status_code == 200
    assert asked == ["1"]


def test_a_bad_timezone_setting_is_refused_at_start(database_url: str) -> None:
    from flask_paylinks import ConfigError

    with pytest.raises(ConfigError, match="PAYLINKS_TIMEZONE='Europe/Nowhere'"):
        crm_a.create_app(database_url, PAYLINKS_TIMEZONE="Europe/Nowhere")


# -- the subscription's terms -------------------------------------------------------


@pytest.fixture
def membership(shop: Shop) -> Product:
    return shop.product(
        name="Membership",
        kind="recurring",
        interval="month",
        interval_count=1,
        unit_amount=4900,
    )


def test_a_subscription_says_what_is_charged_when_and_how_to_cancel(
    client: FlaskClient,
    shop: Shop,
    membership: Product,
    profiles: dict[str, MerchantProfile],
) -> None:
    profiles["1"] = MerchantProfile(
        name="Acme Fitness",
        support_email="help@acme.test",
        timezone="Pacific/Kiritimati",  # UTC+14: often a day ahead of UTC
    )
    link = shop.link([{"product": membership}])
    page = client.get(f"/pay/{link.slug}").text
    today = long_day(datetime.now(ZoneInfo("Pacific/Kiritimati")))
    terms = re.search(r'<p class="pl-fineprint" id="pl-terms">(.*?)</p>', page, re.S)
    assert terms is not None
    assert text_of(terms.group(1)) == (
        f"By paying you agree to be charged $49.00 today, {today}, and $49.00 "
        "every month after that until you cancel. To cancel, contact Acme Fitness "
        "at help@acme.test."
    )
    assert 'href="mailto:help@acme.test"' in terms.group(1)


def test_a_one_time_purchase_says_it_is_charged_once(
    client: FlaskClient, shop: Shop, yoga: Product
) -> None:
    link = shop.link([{"product": yoga}])
    page = client.get(f"/pay/{link.slug}").text
    terms = re.search(r'<p class="pl-fineprint" id="pl-terms">(.*?)</p>', page, re.S)
    assert terms is not None
    assert text_of(terms.group(1)) == "You are charged once."


def test_a_coupon_with_a_duration_names_both_later_amounts(
    client: FlaskClient, shop: Shop, membership: Product
) -> None:
    shop.coupon(
        code="THREE", percent_off_bp=2000, duration="repeating", duration_in_months=3
    )
    link = shop.link([{"product": membership}], allow_coupons=True)
    today = long_day(datetime.now(UTC))
    expected = (
        f"By paying you agree to be charged $39.20 today, {today}, $39.20 every "
        "month for the next 2 months, and $49.00 every month after that until you "
        "cancel. To cancel, contact Acme Fitness at help@acme.test or +1 555 0100."
    )
    data = submission(client, link, coupon="THREE")
    # The page script gets the new terms with the new summary ...
    answer = client.post(
        f"/pay/{link.slug}/quote", data=data, headers={"Accept": "application/json"}
    )
    found = re.search(r"<template data-terms>(.*?)</template>", answer.json["summary"])
    assert found is not None
    assert text_of(found.group(1)) == expected
    # ... and without JavaScript the whole page shows them.
    page = client.post(f"/pay/{link.slug}/quote", data=data).text
    terms = re.search(r'<p class="pl-fineprint" id="pl-terms">(.*?)</p>', page, re.S)
    assert terms is not None
    assert text_of(terms.group(1)) == expected
    # A forever coupon: one later amount.
    shop.coupon(code="ALWAYS", amount_off=900, currency="USD", duration="forever")
    data = submission(client, link, coupon="ALWAYS")
    page = client.post(f"/pay/{link.slug}/quote", data=data).text
    assert (
        f"charged $40.00 today, {today}, and $40.00 every month after that until "
        "you cancel." in text_of(page)
    )


def test_the_receipt_names_the_merchant_and_the_next_charge(
    client: FlaskClient,
    host_a: Flask,
    shop: Shop,
    membership: Product,
    profiles: dict[str, MerchantProfile],
) -> None:
    link = shop.link([{"product": membership}])
    data = priced(client, link, submission(client, link))
    location = client.post(f"/pay/{link.slug}", data=data).headers["Location"]
    # Paid at 23:30 UTC on 31 January: 1 February in Berlin, still 31 January
    # in New York (where a month later is the last day of February).
    with host_a.app_context():
        payment = crm_a.db.session.scalars(crm_a.db.select(Payment)).one()
        payment.succeeded_at = datetime(2026, 1, 31, 23, 30, tzinfo=UTC)
        crm_a.db.session.commit()
    profiles["1"] = MerchantProfile(
        name="Acme Fitness", support_email="help@acme.test", timezone="Europe/Berlin"
    )
    words = text_of(client.get(location).text)
    assert "Thank you for paying Acme Fitness." in words
    assert "Paid to Acme Fitness" in words
    assert "Next charge $49.00 on March 1, 2026" in words
    assert "Date Feb 1, 2026, 12:30:00 AM" in words
    assert "To cancel, contact Acme Fitness at help@acme.test." in words
    profiles["1"] = MerchantProfile(name="Acme Fitness", timezone="America/New_York")
    words = text_of(client.get(location).text)
    assert "Next charge $49.00 on February 28, 2026" in words
    assert "Date Jan 31, 2026, 6:30:00 PM" in words


def test_a_one_time_receipt_has_no_next_charge(
    client: FlaskClient, shop: Shop, yoga: Product
) -> None:
    link = shop.link([{"product": yoga}])
    data = priced(client, link, submission(client, link))
    location = client.post(f"/pay/{link.slug}", data=data).headers["Location"]
    words = text_of(client.get(location).text)
    assert "Paid to Acme Fitness" in words
    assert "Next charge" not in words
    assert "Questions? Contact Acme Fitness at help@acme.test or +1 555 0100." in words
