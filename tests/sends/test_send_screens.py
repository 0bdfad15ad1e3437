"""The send screens in headless Chromium, in the example CRM (nonce CSP on).

Screenshots (``artifacts/screenshots/send-*.png``, 1280 and 390 pixels wide,
looked at by people) of the composer with a preview, a send's progress page
and a link's funnel; axe-core on each (no serious or critical violation); a
keyboard-only pass of the composer; and the progress bar updating itself
while a send goes out.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from flask_paylinks.db.models import Recipient, Send, utcnow
from flask_paylinks.db.session import session

from ..axe import assert_no_serious_violations
from ..browser import LiveServer, screenshot, watched_page
from ..example_app.helpers import ALICE, login

pytestmark = pytest.mark.browser

WIDTHS = (1280, 390)


@pytest.fixture
def acme_link(example_seed: dict[str, Any]) -> int:
    """The id of Acme's first (active) link."""
    return int(example_seed["acme"]["links"][0])


@pytest.fixture
def logged_in(browser: Any, example_server: LiveServer) -> Iterator[Any]:
    """Alice's page at 1280 pixels; fails on console errors."""
    with watched_page(browser) as page:
        login(page, example_server, ALICE)
        yield page


def _fits(page: Any, width: int, name: str) -> None:
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{name} scrolls sideways at {width}px"


def _preview_vip(page: Any, server: LiveServer, link: int) -> None:
    """Open the composer, tick VIP and email as well, and press Preview."""
    page.goto(f"{server.url}/paylinks/links/{link}/send")
    page.get_by_role("checkbox", name="VIP", exact=False).check()
    page.get_by_role("checkbox", name="Email", exact=True).check()
    page.get_by_role("button", name="Preview").click()
    page.locator("[data-preview]").wait_for()


def _mark_some_opened_and_paid(app: Flask) -> None:
    """As if recipients had opened their links and two had paid."""
    with app.app_context():
        rows = session().scalars(
            select(Recipient).where(Recipient.sent_at.is_not(None))
        )
        for n, recipient in enumerate(rows):
            if n % 2:
                continue
            now = utcnow()
            recipient.opened_at = recipient.last_opened_at = now
            recipient.open_count = 1 + n % 3
            if n % 4 == 0:
                recipient.started_at = now
            if n % 8 == 0:
                recipient.paid_at = now
        session().commit()


@pytest.mark.parametrize("width", WIDTHS)
def test_send_screens_look_right_and_pass_axe(
    browser: Any,
    example_server: LiveServer,
    example_app: Flask,
    acme_link: int,
    width: int,
) -> None:
    with watched_page(browser, width=width) as page:
        login(page, example_server, ALICE)
        _preview_vip(page, example_server, acme_link)
        audience = page.locator("[data-audience]").inner_text()
        assert "receive it by SMS" in audience
        assert "receive it by Email" in audience
        assert page.locator("[data-sample-sms]").inner_text().startswith("Hi ")
        screenshot(page, f"send-composer-{width}")
        assert_no_serious_violations(page, f"composer at {width}px")
        _fits(page, width, "composer")

        page.get_by_role("button", name="Send", exact=True).click()
        page.wait_for_url("**/paylinks/sends/*")
        assert "Sent. Each recipient" in page.inner_text("body")
        assert page.locator("[data-send-state]").inner_text() == "Finished"
        screenshot(page, f"send-progress-{width}")
        assert_no_serious_violations(page, f"send page at {width}px")
        _fits(page, width, "send page")

        _mark_some_opened_and_paid(example_app)
        page.goto(f"{example_server.url}/paylinks/links/{acme_link}")
        funnel = page.locator("[data-link-funnel]")
        funnel.wait_for()
        funnel.scroll_into_view_if_needed()
        assert "Send again to these" in funnel.inner_text()
        screenshot(page, f"send-funnel-{width}")
        assert_no_serious_violations(page, f"link page with funnel at {width}px")
        _fits(page, width, "link page")


def _tab_until(page: Any, test: str, limit: int = 80) -> None:
    """Press Tab until ``test`` (a JS expression on ``el``) holds for the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(
            f"(() => {{ const el = document.activeElement; return !!({test}); }})()"
        ):
            return
    raise AssertionError(f"Tab never reached an element where {test}")


def test_the_composer_works_with_the_keyboard_alone(
    logged_in: Any, example_server: LiveServer, acme_link: int
) -> None:
    page = logged_in
    page.goto(f"{example_server.url}/paylinks/links/{acme_link}/send")
    _tab_until(page, "el.name === 'q'")
    page.keyboard.type("a")
    page.keyboard.press("Enter")  # finds contacts, does not submit the form
    page.locator("[data-contact-results] input[name=contacts]").first.wait_for()
    _tab_until(page, "el.name === 'contacts'")
    page.keyboard.press("Space")
    picked = page.evaluate("document.activeElement.checked")
    assert picked is True
    _tab_until(page, "el.name === 'segments'")
    _tab_until(page, "el.name === 'channels' && el.value === 'email'")
    page.keyboard.press("Space")
    _tab_until(page, "el.name === 'sms_body'")
    _tab_until(page, "el.tagName === 'BUTTON' && el.value === 'preview'")
    page.keyboard.press("Enter")
    page.locator("[data-preview]").wait_for()
    # The picked contact is still ticked, and the preview counts them.
    assert page.locator("input[name=contacts]:checked").count() == 1
    assert "receive it by" in page.locator("[data-audience]").inner_text()


def test_the_progress_bar_follows_a_send_without_a_reload(
    logged_in: Any, example_server: LiveServer, example_app: Flask, acme_link: int
) -> None:
    page = logged_in
    _preview_vip(page, example_server, acme_link)
    page.get_by_role("button", name="Send", exact=True).click()
    page.wait_for_url("**/paylinks/sends/*")
    send_id = int(page.url.rsplit("/", 1)[1])
    # Put the send back as if its messages were still going out.
    with example_app.app_context():
        db = session()
        sent = list(
            db.scalars(
                select(Recipient.id).where(
                    Recipient.send_id == send_id, Recipient.sent_at.is_not(None)
                )
            )
        )
        db.execute(
            update(Recipient)
            .where(Recipient.id.in_(sent))
            .values(state="queued", sent_at=None, delivered_at=None)
        )
        db.execute(update(Send).where(Send.id == send_id).values(state="sending"))
        db.commit()
    page.reload()
    label = page.locator("[data-progress-label]")
    assert page.locator("[data-send-state]").inner_text() == "Sending"
    assert not label.inner_text().endswith("(100%)")
    assert page.get_by_role("button", name="Pause").is_visible()
    # The messages go out; the page notices by itself.
    with example_app.app_context():
        db = session()
        db.execute(
            update(Recipient)
            .where(Recipient.id.in_(sent))
            .values(state="sent", sent_at=utcnow())
        )
        db.execute(update(Send).where(Send.id == send_id).values(state="finished"))
        db.commit()
    page.wait_for_function(
        "() => document.querySelector('[data-send-state]').textContent === 'Finished'",
        timeout=8000,
    )
    assert label.inner_text().endswith("(100%)")
    assert label.get_attribute("aria-live") == "polite"
    assert page.locator("progress").evaluate("el => el.value === el.max")
    assert not page.get_by_role("button", name="Pause").is_visible()
    assert str(len(sent)) == page.locator('[data-count="sent"]').inner_text()
