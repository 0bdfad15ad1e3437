"""The dashboard's forms and tables as a merchant sees them, in the example CRM.

Each screen is photographed at 1280 and 390 pixels
(``artifacts/screenshots/screen-*.png``, looked at by people), checked with
axe-core (no serious or critical violation) and for sideways scrolling. The
example CRM runs the dashboard under its nonce CSP, so any script or style
the CSP blocks fails these tests as a console error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ..axe import assert_no_serious_violations, axe_violations
from ..browser import LiveServer, screenshot, watched_page
from ..example_app.helpers import ALICE, login
from .conftest import tall_screenshot

pytestmark = pytest.mark.browser

WIDTHS = (1280, 390)


def _recurring(page: Any) -> None:
    page.get_by_label("Recurring", exact=True).check()


def _amount_off(page: Any) -> None:
    page.get_by_label("Fixed amount off").check()


def _preview_ready(page: Any) -> None:
    page.locator("[data-preview-round]").wait_for()
    page.frame_locator("[data-preview-frame]").get_by_role("button").first.wait_for()


def _branding(page: Any) -> None:
    _preview_ready(page)
    page.get_by_text("Advanced options").click()


#: name, path, what to do on the page before looking at it.
SCREENS: list[tuple[str, str, Callable[[Any], None] | None]] = [
    ("products", "/paylinks/products", None),
    ("coupons", "/paylinks/coupons", None),
    ("product-form-one-time", "/paylinks/products/new", None),
    ("product-form-recurring", "/paylinks/products/new", _recurring),
    ("coupon-form-percent", "/paylinks/coupons/new", None),
    ("coupon-form-amount", "/paylinks/coupons/new", _amount_off),
    ("builder", "/paylinks/links/{link}/edit", _preview_ready),
    ("builder-branding", "/paylinks/links/{link}/edit", _branding),
]


@pytest.mark.parametrize("width", WIDTHS)
def test_screens_look_right_and_pass_axe(
    browser: Any, example_server: LiveServer, example_seed: dict[str, Any], width: int
) -> None:
    link = example_seed["acme"]["links"][0]
    with watched_page(browser, width=width) as page:
        login(page, example_server, ALICE)
        for name, path, prepare in SCREENS:
            response = page.goto(example_server.url + path.format(link=link))
            assert response is not None
            assert "'nonce-" in response.headers["content-security-policy"]
            if prepare is not None:
                prepare(page)
            if name.startswith("builder"):
                tall_screenshot(page, f"screen-{name}-{width}")
            else:
                screenshot(page, f"screen-{name}-{width}")
            assert_no_serious_violations(page, f"{name} at {width}px")
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            assert scroll_width <= width, f"{name} scrolls sideways at {width}px"


def test_fields_marked_hidden_stay_hidden(
    page: Any, example_server: LiveServer, example_seed: dict[str, Any]
) -> None:
    login(page, example_server, ALICE)
    page.goto(f"{example_server.url}/paylinks/products/new")
    every = page.get_by_label("Charge every")
    period = page.get_by_label("Period")
    assert page.get_by_label("One-time").is_checked()
    assert not every.is_visible()
    assert not period.is_visible()
    page.get_by_label("Recurring", exact=True).check()
    assert every.is_visible()
    assert period.is_visible()
    page.get_by_label("One-time").check()
    assert not every.is_visible()

    page.goto(f"{example_server.url}/paylinks/coupons/new")
    percent = page.get_by_role("textbox", name="Percentage off", exact=True)
    amount = page.get_by_role("textbox", name="Amount off", exact=True)
    assert page.get_by_role("radio", name="Percentage off").is_checked()
    assert percent.is_visible()
    assert not amount.is_visible()
    page.get_by_role("radio", name="Fixed amount off").check()
    assert amount.is_visible()
    assert not percent.is_visible()
    page.get_by_role("radio", name="Percentage off").check()
    assert percent.is_visible()
    assert not amount.is_visible()


@pytest.mark.parametrize("path", ["/paylinks/products", "/paylinks/coupons"])
def test_table_actions_sit_in_one_row_and_the_dividers_reach_the_edge(
    page: Any, example_server: LiveServer, example_seed: dict[str, Any], path: str
) -> None:
    login(page, example_server, ALICE)
    page.goto(example_server.url + path)
    table = page.locator("table.pl-table").bounding_box()
    rows = page.locator("table.pl-table tbody tr").all()
    assert rows
    for row in rows:
        buttons = [b.bounding_box() for b in row.locator(".pl-button").all()]
        assert len(buttons) >= 2
        assert len({round(box["y"]) for box in buttons}) == 1, "buttons stack"
        cell = row.locator("td").last.bounding_box()
        # The last cell (whose bottom border is the row divider) reaches the
        # table's right edge and is as tall as the row.
        assert abs(cell["x"] + cell["width"] - (table["x"] + table["width"])) <= 2
        assert abs(cell["height"] - row.bounding_box()["height"]) <= 1


def test_the_builder_preview_sticks_at_the_top_and_keeps_its_brand_under_the_csp(
    page: Any, example_server: LiveServer, example_seed: dict[str, Any]
) -> None:
    link = example_seed["acme"]["links"][0]
    login(page, example_server, ALICE)
    page.goto(f"{example_server.url}/paylinks/links/{link}/edit")
    _preview_ready(page)
    preview = page.locator(".pl-builder__preview")
    form = page.locator("[data-link-form]")
    assert abs(preview.bounding_box()["y"] - form.bounding_box()["y"]) <= 1
    # Scrolled down, the preview is still on screen, whole.
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    box = page.locator("[data-preview-frame]").bounding_box()
    assert box["y"] >= 0
    assert box["y"] + box["height"] <= page.viewport_size["height"]
    # The brand colour reaches the preview: its inline style ran under the CSP.
    page.get_by_text("Advanced options").click()
    page.get_by_role("textbox", name="Brand colour", exact=True).fill("#0A7D5A")
    frame = page.frame_locator("[data-preview-frame]").locator("html")
    page.wait_for_function(  # a function, not a string: the CSP forbids eval
        "() => document.querySelector('[data-preview-frame]')"
        ".srcdoc.includes('#0A7D5A')"
    )
    brand = frame.evaluate("el => getComputedStyle(el).getPropertyValue('--brand')")
    assert brand.strip().upper() == "#0A7D5A"


def test_the_test_mode_band_is_inside_a_landmark(
    page: Any, example_server: LiveServer, example_seed: dict[str, Any]
) -> None:
    slug = example_seed["acme"]["slugs"][0]
    page.goto(f"{example_server.url}/pay/{slug}")
    band = page.get_by_role("complementary", name="About this page")
    assert "Test mode" in band.inner_text()
    # axe's "region" rule: all content sits in a landmark.
    assert [v["id"] for v in axe_violations(page) if v["id"] == "region"] == []
