"""The catalogue service: products, archiving, images."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from flask_paylinks.catalog.service import (
    ImageUpload,
    ProductData,
    archive_product,
    create_product,
    get_product,
    links_using,
    list_products,
    update_product,
)
from flask_paylinks.core.errors import InvalidInput, NotFound
from flask_paylinks.db.models import Asset, Payment, PaymentLink, Product
from flask_paylinks.db.session import session

from ..dashboard.conftest import OWNER_A, OWNER_B
from ..factories import make_link, make_payment, make_product


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, "PNG")
    return buffer.getvalue()


def _count(model: type[Any]) -> int:
    return session().scalar(select(func.count()).select_from(model)) or 0


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


def test_an_uploaded_image_is_written_only_with_a_product_that_keeps_the_rules(
    ctx: Any,
) -> None:
    def upload() -> ImageUpload:
        return ImageUpload(
            io.BytesIO(_png()), lambda asset: f"/pay/assets/{asset.token}"
        )

    with pytest.raises(InvalidInput) as error:
        create_product(
            OWNER_A,
            ProductData(name="", unit_amount=100, currency="USD"),
            image=upload(),
        )
    assert error.value.errors == {"name": "Enter a name."}
    session().rollback()
    assert (_count(Asset), _count(Product)) == (0, 0)
    product = create_product(
        OWNER_A,
        ProductData(name="Mug", unit_amount=100, currency="USD"),
        image=upload(),
    )
    asset = session().scalars(select(Asset)).one()
    assert product.image_url == f"/pay/assets/{asset.token}"
    # Saved again without a new image or URL, the uploaded image stays...
    update_product(
        OWNER_A, product.id, ProductData(name="Mug", unit_amount=200, currency="USD")
    )
    assert product.image_url == f"/pay/assets/{asset.token}"
    # ...until it is removed.
    update_product(
        OWNER_A,
        product.id,
        ProductData(name="Mug", unit_amount=200, currency="USD", remove_image=True),
    )
    assert product.image_url is None


def test_an_uploaded_image_path_is_kept(ctx: Any) -> None:
    product = create_product(
        OWNER_A,
        ProductData(
            name="x",
            unit_amount=100,
            currency="USD",
            image_url="/pay/assets/" + "A" * 32,
        ),
    )
    assert product.image_url == "/pay/assets/" + "A" * 32


def test_a_price_that_could_not_be_read_is_refused(ctx: Any) -> None:
    with pytest.raises(InvalidInput) as error:
        create_product(OWNER_A, ProductData(name="x", unit_amount=None, currency="USD"))
    assert error.value.errors == {"price": "Enter a price such as 49.00"}


def test_another_owners_or_a_text_to_pay_product_is_not_found(ctx: Any) -> None:
    theirs = make_product(OWNER_B)
    one_off = make_product(OWNER_A, listed=False)
    for product_id in (theirs.id, one_off.id, 0, "x"):
        with pytest.raises(NotFound):
            get_product(OWNER_A, product_id)
    with pytest.raises(NotFound):
        archive_product(OWNER_A, theirs.id)
    with pytest.raises(NotFound):
        update_product(
            OWNER_A, theirs.id, ProductData(name="x", unit_amount=1, currency="USD")
        )


def test_search_takes_like_wildcards_literally(ctx: Any) -> None:
    make_product(OWNER_A, name="100% cotton")
    make_product(OWNER_A, name="1000 cotton")
    make_product(OWNER_A, name="snake_case")
    make_product(OWNER_A, name="snakecase")
    assert [p.name for p in list_products(OWNER_A, search="0%").items] == [
        "100% cotton"
    ]
    assert [p.name for p in list_products(OWNER_A, search="e_c").items] == [
        "snake_case"
    ]
