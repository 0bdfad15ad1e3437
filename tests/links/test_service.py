"""The payment link services: saving, the preview's draft, the table query."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from flask_paylinks import signals
from flask_paylinks.catalog.service import archive_product
from flask_paylinks.core.errors import InvalidInput, NotFound
from flask_paylinks.db.models import Asset, LinkItem, Payment, PaymentLink, utcnow
from flask_paylinks.db.session import session
from flask_paylinks.links.presenters import price_summary
from flask_paylinks.links.service import (
    ItemData,
    LinkData,
    LinkFilters,
    create_link,
    delete_link,
    draft_link,
    get_link,
    link_table,
    set_link_active,
    update_link,
)
from flask_paylinks.web.urls import public_url

from ..dashboard.conftest import OWNER_A, OWNER_B
from ..factories import days_ago, make_link, make_payment, make_product

# -- price summary -------------------------------------------------------------


def test_price_summary_adds_one_time_items_and_names_the_plan(ctx: Any) -> None:
    course = make_product(OWNER_A, unit_amount=4900)
    plan = make_product(OWNER_A, unit_amount=1900, kind="recurring")
    link = make_link(OWNER_A, [course, plan])
    assert price_summary(link) == "$49.00 + $19.00 / month"
    doubled = make_link(OWNER_A, [course], items=[{"quantity": 2}])
    assert price_summary(doubled) == "$98.00"


def test_price_summary_says_from_when_the_customer_picks_quantities(ctx: Any) -> None:
    ticket = make_product(OWNER_A, unit_amount=1000)
    link = make_link(
        OWNER_A,
        [ticket],
        items=[{"adjustable": True, "min_quantity": 1, "max_quantity": 10}],
    )
    assert price_summary(link) == "from $10.00"
    fixed_range = make_link(
        OWNER_A,
        [ticket],
        items=[
            {"adjustable": True, "min_quantity": 3, "max_quantity": 3, "quantity": 3}
        ],
    )
    assert price_summary(fixed_range) == "$30.00"


def test_price_summary_of_several_plans_and_other_periods(ctx: Any) -> None:
    monthly = make_product(OWNER_A, unit_amount=1900, kind="recurring")
    quarterly = make_product(
        OWNER_A, unit_amount=5000, kind="recurring", interval="month", interval_count=3
    )
    yearly = make_product(OWNER_A, unit_amount=19000, kind="recurring", interval="year")
    link = make_link(OWNER_A, [monthly, quarterly, yearly])
    assert price_summary(link) == (
        "$19.00 / month or $50.00 / 3 months or $190.00 / year"
    )
    yen = make_product(OWNER_A, unit_amount=500, currency="JPY")
    assert price_summary(make_link(OWNER_A, [yen])) == "¥500"


# -- creating and changing links -----------------------------------------------


def test_create_link_keeps_items_in_order_and_fires_the_signal(ctx: Any) -> None:
    course = make_product(OWNER_A, unit_amount=4900)
    seats = make_product(OWNER_A, unit_amount=1000)
    heard: list[PaymentLink] = []
    with signals.link_created.connected_to(
        lambda sender, link: heard.append(link), ctx
    ):
        link = create_link(
            OWNER_A,
            LinkData(
                name="  Launch  ",
                items=[
                    ItemData(course.id, quantity=1),
                    ItemData(seats.id, adjustable=True, min_quantity=2, max_quantity=8),
                ],
                brand_color="#aabbcc",
                redirect_url="https://example.com/thanks",
                redirect_new_tab=True,
            ),
        )
    assert heard == [link]
    session().expire_all()
    saved = session().get(PaymentLink, link.id)
    assert saved is not None
    assert saved.name == "Launch"
    assert saved.brand_color == "#AABBCC"
    assert saved.currency == "USD"
    assert saved.source == "dashboard"
    assert len(saved.slug) >= 22
    assert [(i.product_id, i.quantity, i.adjustable) for i in saved.items] == [
        (course.id, 1, False),
        (seats.id, 2, True),
    ]
    assert (saved.items[1].min_quantity, saved.items[1].max_quantity) == (2, 8)
    assert public_url(saved).endswith(f"/pay/{saved.slug}")


def test_update_keeps_slug_and_payments_and_fires_the_signal(ctx: Any) -> None:
    course = make_product(OWNER_A, unit_amount=4900)
    other = make_product(OWNER_A, unit_amount=700)
    link = make_link(OWNER_A, [course])
    slug = link.slug
    payment = make_payment(OWNER_A, link, amount_total=4900)
    heard: list[Any] = []
    with signals.link_updated.connected_to(
        lambda sender, link: heard.append(link), ctx
    ):
        update_link(
            OWNER_A, link.id, LinkData(name="New name", items=[ItemData(other.id)])
        )
    assert heard == [link]
    session().expire_all()
    saved = session().get(PaymentLink, link.id)
    assert saved is not None
    assert saved.slug == slug
    assert [item.product_id for item in saved.items] == [other.id]
    kept = session().get(Payment, payment.id)
    assert kept is not None
    assert kept.link_id == link.id
    assert kept.amount_total == 4900


def test_deactivate_activate_and_delete_fire_their_signals(ctx: Any) -> None:
    link = make_link(OWNER_A)
    payment = make_payment(OWNER_A, link)
    events: list[str] = []
    with (
        signals.link_deactivated.connected_to(
            lambda sender, link: events.append("deactivated"), ctx
        ),
        signals.link_updated.connected_to(
            lambda sender, link: events.append("updated"), ctx
        ),
    ):
        set_link_active(OWNER_A, link.id, False)
        set_link_active(OWNER_A, link.id, False)  # already off: nothing happens
        set_link_active(OWNER_A, link.id, True)
        delete_link(OWNER_A, link.id)
    assert events == ["deactivated", "updated", "deactivated"]
    session().expire_all()
    assert session().get(PaymentLink, link.id).deleted_at is not None  # type: ignore[union-attr]
    assert session().get(Payment, payment.id).link_id == link.id  # type: ignore[union-attr]
    # A deleted link is gone for its owner.
    with pytest.raises(NotFound):
        set_link_active(OWNER_A, link.id, True)


def test_services_refuse_other_owners_products(ctx: Any) -> None:
    foreign = make_product(OWNER_B)
    with pytest.raises(InvalidInput) as error:
        create_link(OWNER_A, LinkData(name="x", items=[ItemData(foreign.id)]))
    assert "items-0-product_id" in error.value.errors


def test_archived_product_cannot_be_added_but_stays_where_it_is(ctx: Any) -> None:
    course = make_product(OWNER_A)
    link = make_link(OWNER_A, [course])
    archive_product(OWNER_A, course.id)
    with pytest.raises(InvalidInput) as error:
        create_link(OWNER_A, LinkData(name="x", items=[ItemData(course.id)]))
    assert "archived" in error.value.errors["items-0-product_id"]
    # The link that already sells it can still be saved.
    update_link(OWNER_A, link.id, LinkData(name="Renamed", items=[ItemData(course.id)]))


def test_draft_link_is_never_saved(ctx: Any) -> None:
    course = make_product(OWNER_A)
    euro = make_product(OWNER_A, currency="EUR")
    foreign = make_product(OWNER_B)
    before = session().scalar(select(func.count()).select_from(PaymentLink))
    draft = draft_link(
        OWNER_A,
        LinkData(
            name="",
            items=[
                ItemData(course.id, quantity=5000),
                ItemData(euro.id),
                ItemData(foreign.id),
                ItemData(None),
            ],
            brand_color="nonsense",
            redirect_url="javascript:alert(1)",
        ),
    )
    assert [item.product for item in draft.items] == [course]
    # A quantity over the cap breaks a rule: the preview shows the default.
    assert draft.items[0].quantity == 1
    assert draft.brand_color is None
    assert draft.redirect_url is None
    assert draft.id is None
    session().flush()
    assert draft not in session()
    assert session().scalar(select(func.count()).select_from(PaymentLink)) == before
    assert session().scalar(select(func.count()).select_from(LinkItem)) == 0


def test_draft_keeps_what_keeps_the_rules_and_drops_the_rest(ctx: Any) -> None:
    course = make_product(OWNER_A)
    draft = draft_link(
        OWNER_A,
        LinkData(
            name="Spring",
            items=[
                ItemData(course.id, adjustable=True, min_quantity=5, max_quantity=2),
            ],
            brand_color="#0a7d5a",
            redirect_url="https://example.com/thanks",
            logo_url="http://insecure.example/logo.png",
            button_style="wobbly",
        ),
    )
    assert draft.name == "Spring"
    assert draft.brand_color == "#0A7D5A"
    assert draft.redirect_url == "https://example.com/thanks"
    assert draft.logo_url is None
    assert draft.button_style is None
    # min > max: the minimum is the value at fault, so it falls back to 1.
    item = draft.items[0]
    assert (item.adjustable, item.min_quantity, item.max_quantity) == (True, 1, 2)


def test_a_refused_link_writes_nothing_not_even_its_logo(ctx: Any) -> None:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, "PNG")
    with pytest.raises(InvalidInput) as error:
        create_link(
            OWNER_A,
            LinkData(name="", items=[ItemData(make_product(OWNER_A).id)]),
            logo=io.BytesIO(buffer.getvalue()),
        )
    assert error.value.errors == {"name": "Enter a name."}
    session().rollback()
    assert session().scalar(select(func.count()).select_from(Asset)) == 0
    assert session().scalar(select(func.count()).select_from(PaymentLink)) == 0


def test_a_bad_logo_is_named_with_the_other_problems(ctx: Any) -> None:
    import io

    with pytest.raises(InvalidInput) as error:
        create_link(
            OWNER_A,
            LinkData(name="x", items=[]),
            logo=io.BytesIO(b"not an image"),
        )
    assert set(error.value.errors) == {"items", "logo_file"}


def test_a_redirect_needs_an_address(ctx: Any) -> None:
    course = make_product(OWNER_A)
    with pytest.raises(InvalidInput) as error:
        create_link(
            OWNER_A, LinkData(name="x", items=[ItemData(course.id)], redirect_url="")
        )
    assert error.value.errors == {
        "redirect_url": "Enter the address to send customers to."
    }


def test_another_owners_or_a_deleted_link_is_not_found(ctx: Any) -> None:
    theirs = make_link(OWNER_B)
    mine = make_link(OWNER_A)
    course = make_product(OWNER_A)
    with pytest.raises(NotFound):
        get_link(OWNER_A, theirs.id)
    with pytest.raises(NotFound):
        update_link(OWNER_A, theirs.id, LinkData(name="x", items=[ItemData(course.id)]))
    with pytest.raises(NotFound):
        delete_link(OWNER_A, theirs.id)
    delete_link(OWNER_A, mine.id)
    with pytest.raises(NotFound):
        get_link(OWNER_A, mine.id)
    with pytest.raises(NotFound):
        get_link(OWNER_A, "not a number")


# -- the table query -----------------------------------------------------------


def _names(owner: str, filters: LinkFilters, **kw: Any) -> list[str]:
    return [link.name for link in link_table(owner, filters, **kw).items]


def test_keyset_pages_walk_every_sort_both_ways(ctx: Any) -> None:
    product = make_product(OWNER_A)
    base = utcnow() - timedelta(days=1)
    names = [f"Link {n:02d}" for n in range(23)]
    for n, name in enumerate(names):
        # Pairs share a creation time, so the id breaks ties.
        make_link(
            OWNER_A,
            [product],
            name=name.lower() if n % 3 else name,
            created_at=base + timedelta(minutes=n // 2),
        )
    make_link(OWNER_B, [make_product(OWNER_B)], name="Link 99 of B")
    expected = {
        "-created": sorted(range(23), key=lambda n: (n // 2, n), reverse=True),
        "created": sorted(range(23), key=lambda n: (n // 2, n)),
        "name": list(range(23)),
        "-name": list(reversed(range(23))),
    }
    for sort, order in expected.items():
        filters = LinkFilters(sort=sort)
        seen: list[str] = []
        pages = []
        cursor = None
        while True:
            page = link_table(OWNER_A, filters, after=cursor, per_page=5)
            assert page.total == 23
            pages.append(page)
            seen += [link.name.upper() for link in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == [names[n].upper() for n in order], sort
        assert len(pages) == 5
        assert pages[0].prev_cursor is None
        # And back again from the last page.
        back = link_table(OWNER_A, filters, before=pages[-1].prev_cursor, per_page=5)
        assert [link.id for link in back.items] == [link.id for link in pages[-2].items]
        assert back.next_cursor is not None


def test_a_tampered_cursor_shows_the_first_page(ctx: Any) -> None:
    make_link(OWNER_A, name="Only")
    for cursor in ["garbage", "W10", "WyJjLSIsWyJzIiwieCJdLFsiaSIsMV1d"]:
        assert _names(OWNER_A, LinkFilters(), after=cursor) == ["Only"]


def test_search_matches_names_in_any_case_and_pasted_urls(ctx: Any) -> None:
    spring = make_link(OWNER_A, name="Spring Sale")
    make_link(OWNER_A, name="Autumn sale")
    make_link(OWNER_A, name="100% off_today")
    make_link(OWNER_B, name="Spring sale of B")
    assert _names(OWNER_A, LinkFilters(search="SPRING")) == ["Spring Sale"]
    assert sorted(_names(OWNER_A, LinkFilters(search="sale"))) == [
        "Autumn sale",
        "Spring Sale",
    ]
    # LIKE wildcards are taken literally.
    assert _names(OWNER_A, LinkFilters(search="%")) == ["100% off_today"]
    assert _names(OWNER_A, LinkFilters(search="f_t")) == ["100% off_today"]
    pasted = f"https://shop.example/pay/{spring.slug}"
    assert _names(OWNER_A, LinkFilters(search=pasted)) == ["Spring Sale"]


def test_status_source_and_date_filters(ctx: Any) -> None:
    make_link(OWNER_A, name="live", created_at=days_ago(10))
    make_link(OWNER_A, name="off", status="inactive", created_at=days_ago(5))
    make_link(
        OWNER_A,
        name="lapsed",
        source="text_to_pay",
        expires_at=days_ago(1),
        created_at=days_ago(3),
    )
    make_link(OWNER_A, name="api", source="api", created_at=days_ago(0))
    gone = make_link(OWNER_A, name="deleted")
    gone.deleted_at = utcnow()
    session().commit()

    def names(**kw: Any) -> list[str]:
        return sorted(_names(OWNER_A, LinkFilters(**kw)))

    assert names() == ["api", "lapsed", "live", "off"]
    assert names(status="active") == ["api", "live"]
    assert names(status="inactive") == ["off"]
    assert names(status="expired") == ["lapsed"]
    assert names(source="text_to_pay") == ["lapsed"]
    assert names(source="api", status="active") == ["api"]
    today = utcnow().date()
    assert names(created_from=today - timedelta(days=5)) == ["api", "lapsed", "off"]
    assert names(created_to=today - timedelta(days=5)) == ["live", "off"]
    assert names(
        created_from=today - timedelta(days=5), created_to=today - timedelta(days=3)
    ) == ["lapsed", "off"]
    assert names(created_from=date(2000, 1, 1), created_to=date(2000, 1, 2)) == []
