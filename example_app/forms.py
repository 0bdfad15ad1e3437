"""The CRM's forms: login, a contact's details, and an SMS to a contact."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import phonenumbers
from babel import Locale
from flask import current_app
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    Length,
    Optional,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

#: Most characters one SMS conversation entry may hold (about four segments).
SMS_MAX_LENGTH = 640
#: Territory codes Babel knows that are not countries.
_NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "ZZ", "QO", "XA", "XB"})


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


@lru_cache(maxsize=1)
def _countries() -> tuple[tuple[str, str], ...]:
    names = Locale.parse("en").territories
    return tuple(
        sorted(
            (
                (code, name)
                for code, name in names.items()
                if re.fullmatch(r"[A-Z]{2}", code) and code not in _NOT_COUNTRIES
            ),
            key=lambda pair: pair[1],
        )
    )


def country_choices() -> list[tuple[str, str]]:
    """Every ISO 3166 alpha-2 country, by English name, after a blank choice."""
    return [("", "—"), *_countries()]


def focus_first_error(form: FlaskForm) -> None:
    """Autofocus the first field with an error, so a re-shown form opens on it."""
    for field in form:
        if field.errors:
            field.render_kw = {**(field.render_kw or {}), "autofocus": True}
            return


class PhoneNumber:
    """Accept a mobile number people type, and leave it in E.164 in ``field.data``.

    Numbers without a ``+`` are read in the extension's
    ``PAYLINKS_PHONE_REGION`` (``US`` by default).
    """

    def __call__(self, form: FlaskForm, field: StringField) -> None:
        if not field.data:
            field.data = None
            return
        region = current_app.config.get("PAYLINKS_PHONE_REGION", "US")
        try:
            number = phonenumbers.parse(field.data, region)
        except phonenumbers.NumberParseException:
            raise ValidationError(
                "Enter a phone number, e.g. (212) 555-0123 or +44 20 7946 0958."
            ) from None
        if not phonenumbers.is_valid_number(number):
            raise ValidationError(
                "That is not a valid phone number; check the digits and the "
                "country code."
            )
        field.data = phonenumbers.format_number(
            number, phonenumbers.PhoneNumberFormat.E164
        )


class MultiCheckboxField(SelectMultipleField):
    """Several choices as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class LoginForm(FlaskForm):
    """Email and password."""

    email = EmailField(
        "Email", validators=[DataRequired(), Length(max=320)], filters=[_strip]
    )
    password = PasswordField("Password", validators=[DataRequired()])
    remember = BooleanField("Keep me signed in on this device")


class ContactForm(FlaskForm):
    """A customer's details, as the contact record page edits them."""

    full_name = StringField(
        "Full name", validators=[DataRequired(), Length(max=200)], filters=[_strip]
    )
    email = EmailField(
        "Email",
        validators=[Optional(), Email(), Length(max=320)],
        filters=[_strip],
    )
    mobile = StringField(
        "Mobile phone",
        validators=[Optional(), Length(max=40), PhoneNumber()],
        filters=[_strip],
        description="Any format; numbers without +country are read as US.",
    )
    street = StringField(
        "Street address", validators=[Length(max=200)], filters=[_strip]
    )
    street2 = StringField(
        "Apartment, suite, unit", validators=[Length(max=200)], filters=[_strip]
    )
    city = StringField("City", validators=[Length(max=100)], filters=[_strip])
    state = StringField(
        "State / region", validators=[Length(max=100)], filters=[_strip]
    )
    postal_code = StringField(
        "ZIP / postal code", validators=[Length(max=20)], filters=[_strip]
    )
    country = SelectField("Country", choices=country_choices, default="US")
    do_not_text = BooleanField("Do not text (SMS opt-out)")
    do_not_email = BooleanField("Do not email")
    tags = MultiCheckboxField("Tags", coerce=int)
    notes = TextAreaField("Notes", validators=[Length(max=5000)])


class MessageForm(FlaskForm):
    """One SMS to a customer."""

    body = TextAreaField(
        "Message",
        validators=[DataRequired(), Length(max=SMS_MAX_LENGTH)],
        filters=[_strip],
    )
