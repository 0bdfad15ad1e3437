"""The public checkout: branded pages customers pay on, no login."""

from __future__ import annotations

from flask import Blueprint, current_app

from flask_paylinks.web.checkout.security import add_security_headers, csp_nonce

blueprint = Blueprint("paylinks_checkout", __name__)
blueprint.after_request(add_security_headers)


def html_lang() -> str:
    """The ``lang`` of the checkout pages, from ``PAYLINKS_LOCALE`` (``en-US``)."""
    locale: str = current_app.config["PAYLINKS_LOCALE"]
    return locale.replace("_", "-")


blueprint.add_app_template_global(csp_nonce, "paylinks_csp_nonce")
blueprint.add_app_template_global(html_lang, "paylinks_html_lang")

from flask_paylinks.payments.presenters import next_charge  # noqa: E402
from flask_paylinks.web.rendering.fields import field_tag, input_tag  # noqa: E402

blueprint.add_app_template_global(next_charge, "paylinks_next_charge")
blueprint.add_app_template_global(input_tag, "paylinks_input")
blueprint.add_app_template_global(field_tag, "paylinks_field")

# Importing the view modules registers their routes.
from flask_paylinks.web.checkout import payment_step, views  # noqa: E402, F401
