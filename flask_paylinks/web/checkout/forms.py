"""The checkout form: who pays, and where; the order itself is priced apart.

Quantities and the plan are read by
:func:`flask_paylinks.core.pricing.choices_from_form`
because they depend on the link; this form holds the customer's details, the
coupon code as typed, and the hidden fields that tie a submit to one page
view. A host replaces it with ``PayLinks(forms={"checkout": MyForm})``; a
replacement should subclass :class:`CheckoutForm`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import phonenumbers
from babel import Locale
from flask import current_app
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import EmailField, Field, HiddenField, SelectField, StringField, TelField
from wtforms.validators import Email, InputRequired, Length, ValidationError

from flask_paylinks.contacts import Address

#: Address parts that must be filled when the link collects an address.
REQUIRED_ADDRESS_PARTS = ("line1", "city", "postal_code", "country")


def normalise_phone(value: str, region: str) -> str | None:
    """*value* as an E.164 number, read in *region* when it has no ``+``; or None."""
    text = value.strip()
    if not text or len(text) > 32:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


@lru_cache(maxsize=16)
def country_choices(locale: str) -> tuple[tuple[str, str], ...]:
    """Countries a phone number can belong to, named in *locale*, sorted by name."""
    names = Locale.parse(locale).territories
    codes = phonenumbers.SUPPORTED_REGIONS
    return tuple(
        sorted(
            ((code, names[code]) for code in codes if code in names),
            key=lambda pair: pair[1],
        )
    )


@lru_cache(maxsize=64)
def country_options(locale: str, selected: str | None) -> Markup:
    """The ``<option>`` elements of the country select, built once per choice.

    WTForms renders ~250 options field by field on every page; this is the
    same markup from a cache.
    """
    option = Markup('<option value="{}"{}>{}</option>')
    parts = [Markup('<option value="">Choose a country</option>')]
    for code, name in country_choices(locale):
        parts.append(option.format(code, " selected" if code == selected else "", name))
    return Markup("").join(parts)


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class CheckoutForm(FlaskForm):  # type: ignore[misc]
    """The customer's details on the checkout page."""

    class Meta:
        locales = False

    name = StringField(
        "Full name",
        validators=[InputRequired("Enter your name."), Length(max=200)],
        filters=[_strip],
        render_kw={"autocomplete": "name"},
    )
    email = EmailField(
        "Email",
        validators=[
            InputRequired("Enter your email address."),
            Length(max=320),
            Email("Enter an email address like name@example.com."),
        ],
        filters=[_strip],
        render_kw={"autocomplete": "email", "inputmode": "email"},
    )
    phone = TelField(
        "Phone",
        validators=[Length(max=32)],
        filters=[_strip],
        render_kw={"autocomplete": "tel", "inputmode": "tel"},
    )
    line1 = StringField(
        "Street address",
        validators=[Length(max=200)],
        filters=[_strip],
        render_kw={"autocomplete": "address-line1"},
    )
    line2 = StringField(
        "Apartment, suite, etc. (optional)",
        validators=[Length(max=200)],
        filters=[_strip],
        render_kw={"autocomplete": "address-line2"},
    )
    city = StringField(
        "City",
        validators=[Length(max=100)],
        filters=[_strip],
        render_kw={"autocomplete": "address-level2"},
    )
    region = StringField(
        "State / region (optional)",
        validators=[Length(max=100)],
        filters=[_strip],
        render_kw={"autocomplete": "address-level1"},
    )
    postal_code = StringField(
        "Postal code",
        validators=[Length(max=20)],
        filters=[_strip],
        render_kw={"autocomplete": "postal-code"},
    )
    country = SelectField(
        "Country",
        choices=[],
        validate_choice=False,
        render_kw={"autocomplete": "country"},
    )
    coupon = StringField(
        "Discount code",
        filters=[_strip],
        render_kw={
            "autocomplete": "off",
            "maxlength": 64,
            "autocapitalize": "characters",
        },
    )
    attempt = HiddenField()
    #: The digest of the terms the page showed (pricing.terms_digest).
    terms = HiddenField()
    recipient = HiddenField()

    #: Set by :meth:`configure` from the link.
    require_phone: bool = False
    collect_address: bool = False
    #: The phone as E.164 once :meth:`validate` has passed.
    phone_e164: str | None = None

    def configure(
        self, *, require_phone: bool, collect_address: bool, locale: str, region: str
    ) -> None:
        """Apply the link's options: phone required, address collected."""
        self.require_phone = require_phone
        self.collect_address = collect_address
        self.phone.label.text = "Phone" if require_phone else "Phone (optional)"
        self.phone.flags.required = require_phone
        self._region = region
        if collect_address:
            self.country.choices = [("", "Choose a country"), *country_choices(locale)]
            if not self.country.raw_data and not self.country.data:
                self.country.data = region  # preselected, never forced on a submit
            for part in REQUIRED_ADDRESS_PARTS:
                self[part].flags.required = True
        self.name.flags.required = True
        self.email.flags.required = True

    def validate_phone(self, field: Field) -> None:
        """Required where the link says so; a real number when given."""
        if not field.data:
            if self.require_phone:
                raise ValidationError("Enter your phone number.")
            self.phone_e164 = None
            return
        e164 = normalise_phone(field.data, getattr(self, "_region", "US"))
        if e164 is None:
            raise ValidationError(
                "Enter a valid phone number, with the country code if it is "
                "not from here (e.g. +44 20 7946 0958)."
            )
        self.phone_e164 = e164

    def _require(self, field: Field, message: str) -> None:
        if self.collect_address and not field.data:
            raise ValidationError(message)

    def validate_line1(self, field: Field) -> None:
        """Street and number, when the link collects an address."""
        self._require(field, "Enter your street address.")

    def validate_city(self, field: Field) -> None:
        """The city, when the link collects an address."""
        self._require(field, "Enter your city.")

    def validate_postal_code(self, field: Field) -> None:
        """The postal code, when the link collects an address."""
        self._require(field, "Enter your postal code.")

    def validate_country(self, field: Field) -> None:
        """One of the listed countries, when the link collects an address."""
        if not self.collect_address:
            return
        known = {
            code for code, _ in country_choices(current_app.config["PAYLINKS_LOCALE"])
        }
        if field.data not in known:
            raise ValidationError("Choose your country.")

    def address(self) -> Address | None:
        """The address typed, or ``None`` where the link does not collect one."""
        if not self.collect_address:
            return None
        return Address(
            line1=self.line1.data or "",
            line2=self.line2.data or "",
            city=self.city.data or "",
            region=self.region.data or "",
            postal_code=self.postal_code.data or "",
            country=self.country.data or "",
        )

    @property
    def address_fields(self) -> list[Field]:
        """The address inputs in the order they are shown."""
        return [
            self.line1,
            self.line2,
            self.city,
            self.region,
            self.postal_code,
            self.country,
        ]
