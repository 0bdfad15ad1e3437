"""Every dashboard response is hardened: nosniff, frame protection, no-store, CSP.

The routes come from ``app.url_map``, so a dashboard page added later is
checked too (and fails here until the test knows how to fill its URL).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_paylinks import config as config_module
from flask_paylinks.core.errors import ConfigError

from ..factories import (
    make_coupon,
    make_link,
    make_payment,
    make_product,
    make_send,
)
from .conftest import OWNER_A

#: The blueprint the dashboard's endpoints are registered under.
DASHBOARD = "paylinks"


def _dashboard_get_urls(app: Flask) -> list[str]:
    """A URL of every dashboard GET route, filled with merchant A's rows."""
    product = make_product(OWNER_A, name="Private product")
    link = make_link(OWNER_A, [product], name="Private link")
    payment = make_payment(OWNER_A, link, customer_name="Jane Customer")
    coupon = make_coupon(OWNER_A)
    send = make_send(OWNER_A, link)
    ids = {
        "link_id": link.id,
        "product_id": product.id,
        "coupon_id": coupon.id,
        "send_id": send.id,
        "payment_id": payment.id,
    }
    # Text-to-Pay: a request's page shows a request; its form is for a contact.
    from ..hosts import crm_a

    contact = crm_a.Customer(account_id=1, full_name="Ada", mobile="+14155552671")
    crm_a.db.session.add(contact)
    crm_a.db.session.commit()
    request_link = make_link(
        OWNER_A,
        [make_product(OWNER_A, listed=False)],
        source="text_to_pay",
        single_use=True,
        contact_id=str(contact.id),
    )
    special = {
        "paylinks.request_detail": {"link_id": request_link.id},
        "paylinks.request_create": {"contact_id": str(contact.id)},
    }
    urls = []
    with app.test_request_context():
        from flask import url_for

        for rule in app.url_map.iter_rules():
            if rule.endpoint.split(".")[0] != DASHBOARD or "GET" not in (
                rule.methods or ()
            ):
                continue
            unknown = rule.arguments - ids.keys()
            assert not unknown, f"teach this test the URL argument(s) {unknown}"
            values = {a: ids[a] for a in rule.arguments}
            values.update(special.get(rule.endpoint, {}))
            urls.append(url_for(rule.endpoint, **values))
    assert len(urls) >= 10, urls
    return urls


def _assert_hardened(response: Any, url: str) -> None:
    headers = response.headers
    assert headers.get("X-Content-Type-Options") == "nosniff", url
    assert headers.get("X-Frame-Options") == "SAMEORIGIN", url
    assert "frame-ancestors 'self'" in headers.get("Content-Security-Policy", ""), url
    assert headers.get("Referrer-Policy") == "same-origin", url
    if not response.mimetype.startswith("image/"):
        # Pages, the CSV and the JSON hold customers' or the catalogue's data.
        assert headers.get("Cache-Control") == "no-store", (url, response.mimetype)


def test_every_dashboard_get_route_sends_the_headers(
    app: Flask, client_a: FlaskClient
) -> None:
    for url in _dashboard_get_urls(app):
        response = client_a.get(url)
        assert response.status_code == 200, url
        _assert_hardened(response, url)


def test_anonymous_redirects_and_404s_send_them_too(
    app: Flask, client_a: FlaskClient
) -> None:
    anonymous = app.test_client()
    response = anonymous.get("/paylinks/")
    assert response.status_code in (302, 401)
    _assert_hardened(response, "/paylinks/ anonymous")
    response = client_a.get("/paylinks/links/999999999")
    assert response.status_code == 404
    _assert_hardened(response, "/paylinks/links/999999999")


def test_the_csp_is_off_by_default_except_frame_ancestors(
    client_a: FlaskClient,
) -> None:
    policy = client_a.get("/paylinks/").headers["Content-Security-Policy"]
    assert policy == "frame-ancestors 'self'"


def _nonce_of(policy: str) -> str:
    match = re.search(r"script-src 'self' 'nonce-([^']+)'", policy)
    assert match, policy
    return match.group(1)


def test_the_nonce_csp_when_turned_on(app: Flask, client_a: FlaskClient) -> None:
    app.config["PAYLINKS_DASHBOARD_CSP"] = True
    for url in _dashboard_get_urls(app):
        response = client_a.get(url)
        policy = response.headers["Content-Security-Policy"]
        nonce = _nonce_of(policy)
        assert f"style-src 'self' 'nonce-{nonce}'" in policy
        assert "default-src 'self'" in policy
        assert "object-src 'none'" in policy
        assert "frame-ancestors 'self'" in policy
        assert "unsafe-inline" not in policy
    # Each response its own nonce.
    first = _nonce_of(client_a.get("/paylinks/").headers["Content-Security-Policy"])
    second = _nonce_of(client_a.get("/paylinks/").headers["Content-Security-Policy"])
    assert first != second


def test_the_nonce_reaches_the_host_layout(app: Flask, client_a: FlaskClient) -> None:
    """A host layout tags its inline script with ``paylinks_csp_nonce()``."""
    app.config["PAYLINKS_DASHBOARD_CSP"] = True
    from jinja2 import ChoiceLoader, DictLoader

    app.jinja_env.loader = ChoiceLoader(
        [
            DictLoader(
                {
                    "host_layout.html": "<!doctype html><title>Host</title>"
                    '<script nonce="{{ paylinks_csp_nonce() }}">var host = 1;</script>'
                    "<main>{% block content %}{% endblock %}</main>"
                }
            ),
            app.jinja_env.loader,  # type: ignore[list-item]
        ]
    )
    app.config["PAYLINKS_BASE_TEMPLATE"] = "host_layout.html"
    response = client_a.get("/paylinks/")
    nonce = _nonce_of(response.headers["Content-Security-Policy"])
    assert f'<script nonce="{nonce}">var host = 1;</script>' in response.get_data(
        as_text=True
    )


def test_a_host_adds_sources_and_embeds_the_dashboard(
    app: Flask, client_a: FlaskClient
) -> None:
    app.config["PAYLINKS_DASHBOARD_CSP"] = {"font-src": ["https://fonts.example"]}
    app.config["PAYLINKS_DASHBOARD_FRAME_ANCESTORS"] = (
        "'self' https://portal.example.com"
    )
    response = client_a.get("/paylinks/")
    policy = response.headers["Content-Security-Policy"]
    assert "font-src https://fonts.example" in policy
    assert "frame-ancestors 'self' https://portal.example.com" in policy
    # X-Frame-Options cannot name another origin: frame-ancestors decides.
    assert "X-Frame-Options" not in response.headers


def test_frame_ancestors_none_denies_every_frame(
    app: Flask, client_a: FlaskClient
) -> None:
    app.config["PAYLINKS_DASHBOARD_FRAME_ANCESTORS"] = ["'none'"]
    response = client_a.get("/paylinks/")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none'"


def _validate(**overrides: Any) -> None:
    config: dict[str, Any] = {}
    config_module.apply_defaults(config)
    config.update(overrides)
    config_module.validate(config, debug=False, testing=True)


@pytest.mark.parametrize(
    "value",
    [
        "'self'; script-src *",
        "'self', https://a.example",
        "'self'\nX-Evil: 1",
        "",
        "'none' 'self'",
        42,
    ],
)
def test_a_frame_ancestors_setting_that_could_break_the_policy_is_refused(
    value: Any,
) -> None:
    with pytest.raises(ConfigError, match="PAYLINKS_DASHBOARD_FRAME_ANCESTORS"):
        _validate(PAYLINKS_DASHBOARD_FRAME_ANCESTORS=value)


@pytest.mark.parametrize(
    "value",
    [
        "yes",
        {"script-src": "https://cdn.example"},
        {"script-src": ["https://cdn.example; object-src *"]},
        {"frame-ancestors": ["*"]},
        {"Bad Name": ["'self'"]},
        {"img-src": 5},
    ],
)
def test_a_dashboard_csp_setting_that_could_break_the_policy_is_refused(
    value: Any,
) -> None:
    with pytest.raises(ConfigError, match="PAYLINKS_DASHBOARD_CSP"):
        _validate(PAYLINKS_DASHBOARD_CSP=value)


def test_good_settings_pass() -> None:
    _validate(
        PAYLINKS_DASHBOARD_CSP={"font-src": ["https://fonts.example", "data:"]},
        PAYLINKS_DASHBOARD_FRAME_ANCESTORS="'self' https://*.example.com:8443",
    )
