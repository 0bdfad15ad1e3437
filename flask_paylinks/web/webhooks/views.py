"""The Vonage callback routes: thin views over :mod:`flask_paylinks.sends.callbacks`."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import current_app, request
from flask.typing import ResponseReturnValue

from flask_paylinks.messaging.sms import verify_signature
from flask_paylinks.sends import callbacks
from flask_paylinks.web.webhooks import blueprint

log = logging.getLogger(__name__)

#: Vonage posts form fields or JSON, or sends a GET; any of them, never more.
MAX_PARAMS = 64
MAX_VALUE_CHARS = 2000


def _params() -> dict[str, str] | None:
    """The callback's parameters as Vonage sent them, or ``None`` if unfit."""
    params: dict[str, str] = {}
    sources: list[Mapping[str, object]] = [
        request.args.to_dict(),
        request.form.to_dict(),
    ]
    if request.is_json:
        body = request.get_json(silent=True)
        if isinstance(body, dict):
            sources.append(body)
    for source in sources:
        for key, value in source.items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            if isinstance(value, str | int | float):
                params[str(key)] = str(value)
    if len(params) > MAX_PARAMS or any(
        len(value) > MAX_VALUE_CHARS or "\x00" in value or "\x00" in key
        for key, value in params.items()
    ):
        return None
    return params


def _checked() -> dict[str, str] | ResponseReturnValue:
    params = _params()
    if params is None:
        return "Bad callback\n", 400, {"Content-Type": "text/plain"}
    secret = current_app.config.get("PAYLINKS_VONAGE_SIGNATURE_SECRET")
    if secret:
        method = current_app.config["PAYLINKS_VONAGE_SIGNATURE_METHOD"]
        if not verify_signature(params, secret, method):
            log.warning("a Vonage callback to %s had no good signature", request.path)
            return "Bad signature\n", 401, {"Content-Type": "text/plain"}
    return params


@blueprint.route("/vonage/status", methods=["GET", "POST"])
def vonage_status() -> ResponseReturnValue:
    """A delivery receipt: move the recipient to delivered or failed."""
    checked = _checked()
    if not isinstance(checked, dict):
        return checked
    callbacks.apply_delivery_receipt(checked)
    return "OK\n", 200, {"Content-Type": "text/plain"}


@blueprint.route("/vonage/inbound", methods=["GET", "POST"])
def vonage_inbound() -> ResponseReturnValue:
    """An inbound SMS: STOP opts the number out, START opts it back in."""
    checked = _checked()
    if not isinstance(checked, dict):
        return checked
    callbacks.apply_inbound_sms(checked)
    return "OK\n", 200, {"Content-Type": "text/plain"}
