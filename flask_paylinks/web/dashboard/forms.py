"""The dashboard's forms (Flask-WTF, with CSRF).

A host replaces one by passing ``forms={"product": MyProductForm}`` to
:class:`~flask_paylinks.PayLinks`; a replacement should subclass the form here
so the views find the fields they read. The forms check the *shape* of what
was typed (a number, a date); the services check the rules (a price above
zero, a coupon of at most 100 %) and name the fields that break them, which
:class:`~flask_paylinks.web.dashboard.formflow.FormFlow` marks.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from babel.numbers import get_currency_name
from flask import current_app
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    Field,
    FieldList,
    Form,
    FormField,
    IntegerField,
    RadioField,
    SearchField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Optional, ValidationError
from wtforms.widgets import CheckboxInput, HiddenInput, ListWidget

from flask_paylinks.catalog.service import ProductData
from flask_paylinks.core.money import Money, is_currency, parse_decimal
from flask_paylinks.core.rules import INT32_MAX, INT64_MAX
from flask_paylinks.coupons.service import CouponData
from flask_paylinks.db.models import (
    ButtonStyle,
    Coupon,
    CouponDuration,
    Interval,
    PaymentLink,
    Product,
    ProductKind,
)
from flask_paylinks.links.presenters import SOURCE_LABELS
from flask_paylinks.links.service import (
    DEFAULT_SORT,
    STATUS_FILTERS,
    ItemData,
    LinkData,
)
from flask_paylinks.localtime import end_of_day, last_day, local_day, start_of_day
from flask_paylinks.payments.refunds import REASONS

try:
    from wtforms.fields.choices import SelectChoice
except ImportError:  # WTForms before 3.3 takes (value, label) tuples
    SelectChoice = None


def options(*pairs: tuple[Any, str]) -> list[Any]:
    """Choices of a select or radio field, in the form this WTForms wants."""
    if SelectChoice is None:
        return list(pairs)
    return [SelectChoice(value, label) for value, label in pairs]


#: Currencies offered first; the configured default is always among them.
COMMON_CURRENCIES = (
    "USD", "EUR", "GBP", "CAD", "AUD", "NZD", "CHF", "JPY", "SEK", "NOK", "DKK",
    "PLN", "CZK", "HUF", "RON", "MXN", "BRL", "INR", "SGD", "HKD", "ZAR", "AED",
)  # fmt: skip


class WholeNumberField(IntegerField):  # type: ignore[misc]
    """An integer field that says "Enter a whole number" when it gets text.

    Numbers beyond what the database column holds (a 32-bit ``INTEGER``
    unless *maximum* says otherwise) are refused here, before they reach SQL.
    """

    data: int | None

    def __init__(self, *args: Any, maximum: int = INT32_MAX, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.maximum = maximum

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        self.data = None
        text = valuelist[0].strip()
        if len(text) > 20 or not text.lstrip("+-").isdigit() or not text.isascii():
            raise ValueError("Enter a whole number, such as 3.")
        number = int(text)
        if not -self.maximum <= number <= self.maximum:
            raise ValueError(
                f"Enter a number between {-self.maximum:,} and {self.maximum:,}."
            )
        self.data = number


class IdField(WholeNumberField):
    """A hidden row id: anything that is not one names no row (``None``).

    The service then says what is wrong in words ("not in your catalogue");
    a number error on a field the merchant cannot see would not help.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", HiddenInput())
        super().__init__(*args, maximum=INT64_MAX, **kwargs)

    def process_formdata(self, valuelist: list[str]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None


#: The calendar days the dashboard takes: a day after the last one must still
#: be a date, and times in any timezone must still fit a ``datetime``.
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(9998, 12, 31)


class DayField(DateField):  # type: ignore[misc]
    """A date field (``<input type=date>``) with a plain-spoken error.

    Days outside :data:`FIRST_DAY` to :data:`LAST_DAY` are refused: the end of
    9999-12-31 is not a date Python or the database can hold.
    """

    data: date | None

    def process_formdata(self, valuelist: list[str]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError("Enter a real date, such as 2026-03-31.") from None
        if self.data is not None and not FIRST_DAY <= self.data <= LAST_DAY:
            self.data = None
            raise ValueError(
                f"Enter a date between {FIRST_DAY.isoformat()} and "
                f"{LAST_DAY.isoformat()}."
            )


def currency_choices() -> list[tuple[str, str]]:
    """``[("USD", "USD — US Dollar"), ...]`` with the configured default first."""
    default: str = current_app.config["PAYLINKS_DEFAULT_CURRENCY"]
    codes = [default, *(code for code in COMMON_CURRENCIES if code != default)]
    return [
        (code, f"{code} — {get_currency_name(code, locale='en')}") for code in codes
    ]


def _offer_currencies(field: SelectField) -> None:
    """Every currency as a choice; the configured default until one is chosen."""
    field.choices = currency_choices()
    if not field.data:
        field.data = current_app.config["PAYLINKS_DEFAULT_CURRENCY"]
    _ensure_choice(field, field.data)


def _ensure_choice(field: SelectField, value: str | None) -> None:
    """Offer *value* too when it is a real currency missing from the list."""
    if value and is_currency(value) and value not in {c[0] for c in field.choices}:
        field.choices = [*field.choices, *options((value, value))]


def read_amount(text: str | None, currency: str | None) -> int | None:
    """The minor units in *text*; ``None`` when it is empty or *currency* unknown.

    :class:`ValueError` (its message for the merchant) when *text* is not an
    amount of *currency*.
    """
    text = (text or "").strip().replace(",", "")
    if not text or not currency or not is_currency(currency):
        return None
    try:
        return Money.from_decimal(text, currency).amount
    except ValueError as error:
        message = str(error)
        if "decimal place" not in message:
            message = "Enter an amount such as 49.00"
        raise ValueError(message) from None


def _amount_or_none(text: str | None, currency: str | None) -> int | None:
    try:
        return read_amount(text, currency)
    except ValueError:
        return None


def _check_amount(text: str | None, currency: str | None) -> None:
    """A form validator's half of :func:`read_amount`."""
    try:
        read_amount(text, currency)
    except ValueError as error:
        raise ValidationError(str(error)) from None


def walk_fields(form: Form) -> Iterator[Field]:
    """Every field of *form*, descending into field lists and sub-forms."""
    for field in form:
        if isinstance(field, FormField):
            yield from walk_fields(field.form)
        elif isinstance(field, FieldList):
            for entry in field.entries:
                if isinstance(entry, FormField):
                    yield from walk_fields(entry.form)
                else:
                    yield entry
            yield field
        else:
            yield field


def mark_errors(form: Form, errors: dict[str, str]) -> None:
    """Put service errors at the fields they name (once per field)."""
    fields = {field.name: field for field in walk_fields(form)}
    for name, message in errors.items():
        field = fields.get(name)
        if field is None:
            form.form_errors.append(message)
        elif not field.errors:
            field.errors = [message]


# -- products ------------------------------------------------------------------


class ProductForm(FlaskForm):  # type: ignore[misc]
    """A product: one-time or recurring, with a price in one currency."""

    name = StringField("Name", description="Customers see this at checkout.")
    description = TextAreaField(
        "Description", description="Optional; shown under the name at checkout."
    )
    kind = RadioField(
        "Pricing",
        choices=options(
            (ProductKind.ONE_TIME.value, "One-time"),
            (ProductKind.RECURRING.value, "Recurring"),
        ),
        default=ProductKind.ONE_TIME.value,
    )
    price = StringField("Price", description="For example 49.00")
    currency = SelectField("Currency")
    interval_count = WholeNumberField(
        "Charge every", default=1, validators=[Optional()]
    )
    interval = SelectField(
        "Period",
        choices=options(*((i.value, f"{i.value}(s)") for i in Interval)),
        default=Interval.MONTH.value,
    )
    image_file = FileField(
        "Upload an image", description="PNG, JPEG, GIF or WebP, up to the size limit."
    )
    image_url = StringField("Or an image URL", description="An https:// address.")
    remove_image = BooleanField("Remove the current image")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _offer_currencies(self.currency)

    def validate_price(self, field: StringField) -> None:
        """A price that is not an amount of the chosen currency."""
        _check_amount(field.data, self.currency.data)

    def to_data(self) -> ProductData:
        """What the service needs, from what was typed."""
        recurring = self.kind.data == ProductKind.RECURRING
        return ProductData(
            name=self.name.data or "",
            unit_amount=_amount_or_none(self.price.data, self.currency.data),
            currency=self.currency.data or "",
            kind=self.kind.data or ProductKind.ONE_TIME,
            interval=self.interval.data if recurring else None,
            interval_count=self.interval_count.data if recurring else None,
            description=self.description.data or "",
            image_url=(self.image_url.data or "").strip() or None,
            remove_image=bool(self.remove_image.data),
        )

    def fill_from(self, product: Product) -> None:
        """Show a saved product (on GET); an uploaded image is not a typed URL."""
        image = product.image_url or ""
        self.process(
            data={
                "name": product.name,
                "description": product.description,
                "kind": product.kind,
                "price": f"{product.price.to_decimal():f}",
                "currency": product.currency,
                "interval": product.interval or Interval.MONTH.value,
                "interval_count": product.interval_count or 1,
                "image_url": "" if image.startswith("/") else image,
            }
        )
        _ensure_choice(self.currency, product.currency)


# -- coupons -------------------------------------------------------------------


class CouponForm(FlaskForm):  # type: ignore[misc]
    """A coupon: a percentage or an amount off, limited in time, use or products."""

    code = StringField(
        "Code",
        description="What customers type at checkout. Capital letters do not matter.",
    )
    discount_type = RadioField(
        "Discount",
        choices=options(("percent", "Percentage off"), ("amount", "Fixed amount off")),
        default="percent",
    )
    percent_off = StringField("Percentage off", description="For example 25 or 12.5")
    amount_off = StringField("Amount off", description="For example 5.00")
    currency = SelectField("Currency of the amount")
    valid_from = DayField(
        "Valid from", validators=[Optional()], description="Optional; UTC."
    )
    valid_until = DayField(
        "Valid until",
        validators=[Optional()],
        description="Optional; the coupon works through the end of this day (UTC).",
    )
    max_redemptions = WholeNumberField(
        "Maximum redemptions",
        validators=[Optional()],
        description="Leave empty for no limit.",
    )
    applies_to = RadioField(
        "Applies to",
        choices=options(
            ("all", "All products"), ("some", "Only the products I choose")
        ),
        default="all",
    )
    products = SelectMultipleField(
        "Products",
        coerce=int,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=False,
    )
    duration = RadioField(
        "On subscriptions, the discount applies",
        choices=options(
            (CouponDuration.ONCE.value, "Once, to the first payment"),
            (CouponDuration.FOREVER.value, "To every payment"),
            (CouponDuration.REPEATING.value, "For a number of months"),
        ),
        default=CouponDuration.ONCE.value,
    )
    duration_in_months = WholeNumberField("Number of months", validators=[Optional()])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _offer_currencies(self.currency)

    def validate_percent_off(self, field: StringField) -> None:
        """A percentage off that is not a number with two decimals at most."""
        if self.discount_type.data != "amount":
            _percent_bp(field.data)

    def validate_amount_off(self, field: StringField) -> None:
        """An amount off that is missing or not an amount of its currency."""
        if self.discount_type.data != "amount":
            return
        _check_amount(field.data, self.currency.data)
        if _amount_or_none(field.data, self.currency.data) is None:
            raise ValidationError("Enter an amount such as 5.00")

    def fill_from(self, coupon: Coupon) -> None:
        """Show a saved coupon (on GET)."""
        self.code.data = coupon.code
        if coupon.percent_off_bp is not None:
            self.discount_type.data = "percent"
            percent = (Decimal(coupon.percent_off_bp) / 100).normalize()
            self.percent_off.data = f"{percent:f}"
        else:
            assert coupon.amount_off is not None
            assert coupon.currency is not None
            self.discount_type.data = "amount"
            self.amount_off.data = (
                f"{Money(coupon.amount_off, coupon.currency).to_decimal():f}"
            )
            self.currency.data = coupon.currency
            _ensure_choice(self.currency, coupon.currency)
        # Days in the merchant's timezone; valid_until is the first moment
        # the coupon stops working, so the form shows the day before it.
        self.valid_from.data = (
            local_day(coupon.valid_from) if coupon.valid_from else None
        )
        self.valid_until.data = (
            last_day(coupon.valid_until) if coupon.valid_until else None
        )
        self.max_redemptions.data = coupon.max_redemptions
        self.applies_to.data = "all" if coupon.applies_to_all else "some"
        self.products.data = sorted(coupon.product_ids)
        self.duration.data = coupon.duration
        self.duration_in_months.data = coupon.duration_in_months

    def to_data(self) -> CouponData:
        """What the service needs, from what was typed (after :meth:`validate`)."""
        percent_bp: int | None = None
        amount: int | None = None
        currency: str | None = None
        if self.discount_type.data == "amount":
            currency = self.currency.data
            amount = _amount_or_none(self.amount_off.data, currency)
        else:
            try:
                percent_bp = _percent_bp(self.percent_off.data)
            except ValidationError:
                percent_bp = None
        return CouponData(
            code=self.code.data or "",
            percent_off_bp=percent_bp,
            amount_off=amount,
            currency=currency,
            valid_from=start_of_day(self.valid_from.data),
            valid_until=end_of_day(self.valid_until.data),
            max_redemptions=self.max_redemptions.data,
            applies_to_all=self.applies_to.data != "some",
            product_ids=tuple(self.products.data or ()),
            duration=self.duration.data or CouponDuration.ONCE,
            duration_in_months=self.duration_in_months.data,
        )


def _percent_bp(text: str | None) -> int:
    """The basis points of a typed percentage; :class:`ValidationError` if none."""
    text = (text or "").strip().rstrip("%").strip()
    try:
        percent: Decimal | None = parse_decimal(text)
    except ValueError:
        percent = None
    if percent is None:
        raise ValidationError("Enter a percentage such as 25 or 12.5")
    basis_points = percent * 100
    if basis_points != basis_points.to_integral_value():
        raise ValidationError("Use two decimal places at most, e.g. 12.75")
    return int(basis_points)


# -- links ---------------------------------------------------------------------


class LinkItemForm(Form):  # type: ignore[misc]
    """One product on a link and its quantity rule."""

    product_id = IdField(validators=[Optional()])
    quantity = WholeNumberField("Quantity", default=1, validators=[Optional()])
    adjustable = BooleanField("Allow customers to choose quantity")
    min_quantity = WholeNumberField("Minimum", validators=[Optional()])
    max_quantity = WholeNumberField("Maximum", validators=[Optional()])


class LinkForm(FlaskForm):  # type: ignore[misc]
    """A payment link: its products, options and branding."""

    name = StringField(
        "Name",
        description="Only you see this name; customers never do.",
    )
    items = FieldList(FormField(LinkItemForm), min_entries=0)
    require_phone = BooleanField("Require customers to give a phone number")
    collect_address = BooleanField("Collect customers' addresses")
    allow_coupons = BooleanField("Allow coupon codes")
    after_payment = RadioField(
        "After payment",
        choices=options(
            ("confirmation", "Show a confirmation page"),
            ("redirect", "Redirect customers to your website"),
        ),
        default="confirmation",
    )
    redirect_url = StringField(
        "Redirect URL", description="A full https:// address on your website."
    )
    redirect_target = RadioField(
        "Open it in",
        choices=options(("same", "The same tab"), ("new", "A new tab")),
        default="same",
    )
    brand_color = StringField(
        "Brand colour (hex)",
        description="# followed by six hex digits, e.g. #4F46E5. Empty: the default.",
    )
    logo_file = FileField(
        "Upload a logo", description="PNG, JPEG, GIF or WebP, up to the size limit."
    )
    logo_url = StringField("Or a logo URL", description="An https:// address.")
    remove_logo = BooleanField("Remove the current logo")
    button_style = RadioField(
        "Button style",
        choices=options(*((style.value, style.value.title()) for style in ButtonStyle)),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.button_style.data:
            self.button_style.data = current_app.config["PAYLINKS_BUTTON_STYLE"]
        self._number_items()

    def _number_items(self) -> None:
        """Name the items by their position (``items-0``, ``items-1``...).

        A browser may send ``items-0`` and ``items-3`` after a row was
        removed; the service names an item's fields by its position, so the
        form does too and the service's errors land on the right fields.
        """
        for position, entry in enumerate(self.items.entries):
            name = f"{self.items.name}-{position}"
            if entry.name == name:
                continue
            entry.name = entry.id = name
            for sub in entry.form:
                sub.name = sub.id = f"{name}-{sub.short_name}"
                sub.label.field_id = sub.id
        self.items.last_index = len(self.items.entries) - 1

    def fill_from(self, link: PaymentLink) -> None:
        """Show a saved link (on GET)."""
        self.process(
            data={
                "name": link.name,
                "items": [
                    {
                        "product_id": item.product_id,
                        "quantity": item.quantity,
                        "adjustable": item.adjustable,
                        "min_quantity": item.min_quantity,
                        "max_quantity": item.max_quantity,
                    }
                    for item in link.items
                ],
                "require_phone": link.require_phone,
                "collect_address": link.collect_address,
                "allow_coupons": link.allow_coupons,
                "after_payment": "redirect" if link.redirect_url else "confirmation",
                "redirect_url": link.redirect_url or "",
                "redirect_target": "new" if link.redirect_new_tab else "same",
                "brand_color": link.brand_color or "",
                "logo_url": link.logo_url or "",
                "button_style": link.button_style
                or current_app.config["PAYLINKS_BUTTON_STYLE"],
            }
        )

    def start_with(self, product: Product) -> None:
        """An empty builder selling *product* (the catalogue's "create a link")."""
        self.items.append_entry({"product_id": product.id, "quantity": 1})
        self.name.data = product.name

    def product_ids(self) -> list[int]:
        """The products the items name, in order."""
        return [
            entry.form.product_id.data
            for entry in self.items.entries
            if entry.form.product_id.data is not None
        ]

    def to_data(self) -> LinkData:
        """What the service needs, from what was typed."""
        items = [
            ItemData(
                product_id=entry.form.product_id.data,
                quantity=entry.form.quantity.data,
                adjustable=bool(entry.form.adjustable.data),
                min_quantity=entry.form.min_quantity.data,
                max_quantity=entry.form.max_quantity.data,
            )
            for entry in self.items.entries
        ]
        redirect = self.after_payment.data == "redirect"
        return LinkData(
            name=self.name.data or "",
            items=items,
            require_phone=bool(self.require_phone.data),
            collect_address=bool(self.collect_address.data),
            allow_coupons=bool(self.allow_coupons.data),
            redirect_url=(self.redirect_url.data or "").strip() if redirect else None,
            redirect_new_tab=redirect and self.redirect_target.data == "new",
            brand_color=(self.brand_color.data or "").strip() or None,
            logo_url=(self.logo_url.data or "").strip() or None,
            remove_logo=bool(self.remove_logo.data),
            button_style=self.button_style.data or None,
        )


class LinkFilterForm(Form):  # type: ignore[misc]
    """The links table's search, filters and sort order (a GET form, no CSRF)."""

    q = SearchField("Search")
    status = SelectField(
        "Status",
        choices=options(
            ("", "Any status"), *((value, value.title()) for value in STATUS_FILTERS)
        ),
        default="",
    )
    source = SelectField(
        "Source",
        choices=options(
            ("", "Any source"),
            *((source.value, label) for source, label in SOURCE_LABELS.items()),
        ),
        default="",
    )
    created_from = DayField("Created from", validators=[Optional()])
    created_to = DayField("Created to", validators=[Optional()])
    sort = SelectField(
        "Sort by",
        choices=options(
            ("-created", "Newest first"),
            ("created", "Oldest first"),
            ("name", "Name A to Z"),
            ("-name", "Name Z to A"),
        ),
        default=DEFAULT_SORT,
    )

    def validate_created_to(self, field: DateField) -> None:
        """The range's end may not precede its start."""
        if (
            field.data
            and self.created_from.data
            and field.data < self.created_from.data
        ):
            raise ValidationError("The end date cannot be before the start date.")


class RefundForm(FlaskForm):  # type: ignore[misc]
    """A refund of (part of) one paid payment, with a reason.

    ``attempt`` is drawn anew for every rendered form and names the refund:
    the same form sent twice (a double click) makes one refund.
    """

    amount = StringField(
        "Amount to refund",
        description="Up to what is left; a smaller amount is a partial refund.",
    )
    # The service names a missing or unknown reason ("Choose a reason.").
    reason = RadioField(
        "Reason", choices=options(*REASONS.items()), validate_choice=False
    )
    note = TextAreaField(
        "Note",
        description="For your records; the customer does not see it.",
        validators=[Optional()],
    )
    attempt = StringField(widget=HiddenInput())

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        if not self.attempt.data:
            self.attempt.data = secrets.token_urlsafe(24)

    def validate_amount(self, field: StringField) -> None:
        """An amount that is missing or not an amount of the payment's currency."""
        _check_amount(field.data, self.currency)
        if _amount_or_none(field.data, self.currency) is None:
            raise ValidationError("Enter the amount to refund, such as 10.00")

    def minor_amount(self) -> int | None:
        """The amount typed, in minor units of the payment's currency."""
        return _amount_or_none(self.amount.data, self.currency)
