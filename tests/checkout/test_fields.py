"""The checkout's inputs, drawn without WTForms' widgets, are WTForms' inputs."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, render_template_string
from markupsafe import Markup, escape
from werkzeug.datastructures import MultiDict

from flask_paylinks.gateways.sandbox import CardForm
from flask_paylinks.web.checkout.forms import CheckoutForm
from flask_paylinks.web.rendering.fields import escaped, field_tag, input_tag

TYPED = MultiDict(
    {
        "name": 'Ada "The Countess" <Lovelace> & Co',
        "email": "not-an-email",
        "phone": "12",
        "line1": "",
        "coupon": "O'HARA",
        "attempt": "a&b",
        "card-number": "1",
    }
)


def checkout_form(app: Flask, formdata: Any = None) -> CheckoutForm:
    app.config["WTF_CSRF_ENABLED"] = True
    form = CheckoutForm(formdata=formdata)
    form.configure(
        require_phone=True, collect_address=True, locale="en_US", region="US"
    )
    return form


def wtforms_drawn(field: Any, described: str, invalid: bool) -> str:
    return str(
        field(
            aria_invalid="true" if invalid else False,
            aria_describedby=described or False,
        )
    )


@pytest.mark.parametrize("typed", [False, True])
def test_every_input_is_what_wtforms_draws(app: Flask, typed: bool) -> None:
    form = checkout_form(app, TYPED if typed else None)
    card = CardForm(TYPED if typed else None, prefix="card-")
    if typed:
        form.validate()
        card.validate()
    fields = [f for f in form if f.type != "SelectField"] + list(card)
    assert {f.name for f in fields} >= {"name", "csrf_token", "card-number"}
    for field in fields:
        for described, invalid in (("", False), (f"{field.id}-error", True)):
            expected = wtforms_drawn(field, described, invalid)
            drawn = str(input_tag(field, described=described, invalid=invalid))
            assert drawn == expected, field.name
    if typed:
        typed_name = 'value="Ada &#34;The Countess&#34; &lt;Lovelace&gt; &amp; Co"'
        assert typed_name in str(input_tag(form.name))
        assert 'aria-invalid="true"' in str(field_tag(form.email))


def test_a_value_and_an_id_given_replace_the_fields_own(app: Flask) -> None:
    form = checkout_form(app, TYPED)
    assert str(input_tag(form.terms, value="d1g&st")) == str(form.terms(value="d1g&st"))
    assert str(input_tag(form.coupon, id="coupon-code")) == str(
        form.coupon(id="coupon-code")
    )


def test_the_field_block_matches_the_template_macro(app: Flask) -> None:
    form = checkout_form(app, TYPED)
    form.validate()
    macro = (
        '{%- from "paylinks/checkout/_macros.html" import field -%}'
        "{{ field(f, hint=hint, attrs={'data_x': '1'}) }}"
    )
    for name, hint in (("email", "We email your receipt here."), ("line2", None)):
        field = form[name]
        # With attrs the macro draws through WTForms: the reference markup.
        reference = render_template_string(macro, f=field, hint=hint)
        reference = reference.replace(' data-x="1"', "")
        assert str(field_tag(field, hint)) == reference
    assert 'class="pl-field pl-invalid"' in str(field_tag(form.email))
    assert 'class="pl-field"' in str(field_tag(form.line2))


@pytest.mark.parametrize(
    "value",
    ["plain", "", "O'HARA", 'a "b"', "<i>&amp;</i>", 64, 0, Markup("<b>kept</b>")],
)
def test_the_quick_escape_is_markupsafes(value: Any) -> None:
    assert escaped(value) == str(escape(value))
