"""The ``flask paylinks`` commands."""

from __future__ import annotations

import json

from flask import Flask

from flask_paylinks.db.session import session

from .factories import make_link
from .services import run_burst_worker


def test_links_lists_full_public_urls_and_status(host_a: Flask) -> None:
    with host_a.app_context():
        first = make_link("1", name="Yoga class")
        make_link("1", name="Old offer", status="inactive")
        make_link("2", name="Other merchant")
        session().commit()
        slug = first.slug
    runner = host_a.test_cli_runner()

    result = runner.invoke(args=["paylinks", "links", "--owner", "1", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["name"], r["status"]) for r in rows] == [
        ("Yoga class", "active"),
        ("Old offer", "inactive"),
    ]
    assert rows[0]["url"] == f"http://localhost:5000/pay/{slug}"

    result = runner.invoke(args=["paylinks", "links"])
    assert "Other merchant" in result.output
    assert f"http://localhost:5000/pay/{slug}" in result.output


def test_links_uses_the_configured_public_url(host_a: Flask) -> None:
    host_a.config["PAYLINKS_PUBLIC_URL"] = "https://crm.example.com"
    with host_a.app_context():
        link = make_link("1")
        session().commit()
        slug = link.slug
    result = host_a.test_cli_runner().invoke(args=["paylinks", "links", "--json"])
    assert json.loads(result.output)[0]["url"] == f"https://crm.example.com/pay/{slug}"


def test_links_says_when_there_are_none(host_a: Flask) -> None:
    result = host_a.test_cli_runner().invoke(args=["paylinks", "links", "--owner", "9"])
    assert result.output.strip() == "No payment links."


def test_worker_without_redis_says_jobs_run_inline(host_a: Flask) -> None:
    result = host_a.test_cli_runner().invoke(args=["paylinks", "worker"])
    assert result.exit_code != 0
    assert "PAYLINKS_REDIS_URL is not set" in result.output
    assert "inline" in result.output


def test_worker_runs_against_a_real_redis(database_url: str, redis_url: str) -> None:
    """``flask paylinks worker --burst`` connects to Redis, drains the queue, exits."""
    factory = (
        f"tests.hosts.crm_a:create_app({database_url!r}, "
        f"PAYLINKS_REDIS_URL={redis_url!r})"
    )
    done = run_burst_worker(factory, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Listening on paylinks" in done.stdout, done.stdout
