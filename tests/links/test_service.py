"""The services behind the dashboard: links, the table query, catalogue, coupons."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from flask_paylinks import signals
from flask_paylinks.catalog.service import (
    ProductData,
    archive_product,
    links_using,
    update_product,
)
from flask_paylinks.core.errors import InvalidInput
from flask_paylinks.coupons.service import (
    CouponData,
    create_coupon,
    discount_label,
    duration_label,
    find_by_code,
)
from flask_paylinks.db.models import LinkItem, Payment, PaymentLink, utcnow
from flask_paylinks.db.session import session
from flask_paylinks.links.service import (
    ItemData,
    LinkData,
    LinkFilters,
    create_link,
    delete_link,
    draft_link,
    link_table,
    price_summary,
    public_url,
    set_link_active,
    update_link,
)

from .conftest import OWNER_A, OWNER_B, days_ago, make_link, make_payment, make_product


@pytest.fixture
def ctx(app: Any) -> Any:
    with app.test_request_context():
        yield app


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
    assert set_link_active(OWNER_A, link.id, True) is None


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
    assert draft.items[0].quantity == 999
    assert draft.brand_color is None
    assert draft.redirect_url is None
    assert draft.id is None
    session().flush()
    assert draft not in session()
    assert session().scalar(select(func.count()).select_from(PaymentLink)) == before
    assert session().scalar(select(func.count()).select_from(LinkItem)) == 0


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


# -- catalogue -----------------------------------------------------------------


def test_archiving_a_product_keeps_links_and_payments(ctx: Any) -> None:
    course = make_product(OWNER_A, name="Course")
    first = make_link(OWNER_A, [course], name="First")
    second = make_link(OWNER_A, [course, make_product(OWNER_A)], name="Second")
    make_link(OWNER_A, name="Unrelated")
    payment = make_payment(OWNER_A, first, snapshot={"items": [{"name": "Course"}]})
    assert {link.name for link in links_using(OWNER_A, course.id)} == {
        "First",
        "Second",
    }
    archive_product(OWNER_A, course.id)
    session().expire_all()
    assert (
        next(i.product_id for i in session().get(PaymentLink, second.id).items)
        == course.id
    )  # type: ignore[union-attr]
    assert session().get(Payment, payment.id).snapshot == {
        "items": [{"name": "Course"}]
    }  # type: ignore[union-attr]
    assert links_using(OWNER_B, course.id) == []


def test_a_used_product_cannot_change_currency(ctx: Any) -> None:
    course = make_product(OWNER_A)
    make_link(OWNER_A, [course])
    with pytest.raises(InvalidInput) as error:
        update_product(
            OWNER_A,
            course.id,
            ProductData(name="Course", unit_amount=1000, currency="EUR"),
        )
    assert "1 link uses this product" in error.value.errors["currency"]


# -- coupons -------------------------------------------------------------------


def test_coupon_codes_are_unique_per_owner_in_any_case(ctx: Any) -> None:
    create_coupon(OWNER_A, CouponData(code="Summer", percent_off_bp=1250))
    with pytest.raises(InvalidInput) as error:
        create_coupon(OWNER_A, CouponData(code="SUMMER", percent_off_bp=500))
    assert "code" in error.value.errors
    create_coupon(OWNER_B, CouponData(code="summer", amount_off=500, currency="USD"))
    found = find_by_code(OWNER_A, " summer ")
    assert found is not None
    assert found.code == "Summer"
    assert discount_label(found) == "12.5% off"
    theirs = find_by_code(OWNER_B, "SUMMER")
    assert theirs is not None
    assert discount_label(theirs) == "$5.00 off"
    assert duration_label(theirs) == "Once"


def test_coupon_limited_to_products_of_its_owner(ctx: Any) -> None:
    mine = make_product(OWNER_A)
    theirs = make_product(OWNER_B)
    with pytest.raises(InvalidInput) as error:
        create_coupon(
            OWNER_A,
            CouponData(
                code="ONLYMINE",
                percent_off_bp=1000,
                applies_to_all=False,
                product_ids=[mine.id, theirs.id],
            ),
        )
    assert error.value.errors == {"products": "Choose products from your catalogue."}
    coupon = create_coupon(
        OWNER_A,
        CouponData(
            code="ONLYMINE",
            percent_off_bp=1000,
            applies_to_all=False,
            product_ids=[mine.id],
            duration="repeating",
            duration_in_months=3,
        ),
    )
    assert coupon.product_ids == {mine.id}
    assert duration_label(coupon) == "For 3 months"
