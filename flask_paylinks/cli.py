"""The ``flask paylinks`` command group."""

from __future__ import annotations

import json
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from flask_paylinks.db import migrate
from flask_paylinks.state import paylinks_state

paylinks_cli = AppGroup("paylinks", help="Payment links: database, links, worker.")
db_cli = AppGroup("db", help="Create, upgrade or remove the extension's tables.")
paylinks_cli.add_command(db_cli)


def _engine() -> Any:
    return paylinks_state().db.engine


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Upgrade the paylinks_* tables to REVISION (default: the newest)."""
    migrate.upgrade(_engine(), revision)
    click.echo(f"paylinks tables are at {migrate.current_revision(_engine())}.")


@db_cli.command("downgrade")
@click.argument("revision", default="-1")
def db_downgrade(revision: str) -> None:
    """Step the paylinks_* tables down to REVISION (default: one step; 'base': none)."""
    migrate.downgrade(_engine(), revision)
    now = migrate.current_revision(_engine())
    click.echo(
        "paylinks tables removed." if now is None else f"paylinks tables are at {now}."
    )


@db_cli.command("current")
def db_current() -> None:
    """Show the revision the paylinks_* tables are at."""
    now = migrate.current_revision(_engine())
    head = migrate.head_revision()
    if now is None:
        click.echo("paylinks tables are not created; run 'flask paylinks db upgrade'.")
    else:
        click.echo(f"{now}{' (head)' if now == head else f' (head is {head})'}")


def public_base_url(app: Flask) -> str:
    """Where customers reach the app, for URLs built outside a request."""
    from flask_paylinks.sends.compose import public_base_url as from_config

    return from_config(app.config)


@paylinks_cli.command("links")
@click.option("--owner", help="Only this owner's links.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, one object a link.")
def list_links(owner: str | None, as_json: bool) -> None:
    """List payment links with their public URL and status."""
    from flask_paylinks.db.models import PaymentLink
    from flask_paylinks.db.session import session
    from flask_paylinks.web.urls import public_url

    stmt = select(PaymentLink).where(PaymentLink.deleted_at.is_(None))
    if owner is not None:
        stmt = stmt.where(PaymentLink.owner_id == owner)
    stmt = stmt.order_by(PaymentLink.owner_id, PaymentLink.created_at, PaymentLink.id)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    rows = []
    with app.test_request_context(base_url=public_base_url(app)):
        for link in session().scalars(stmt):
            rows.append(
                {
                    "id": link.id,
                    "owner": link.owner_id,
                    "name": link.name,
                    "status": "active" if link.is_active else "inactive",
                    "url": public_url(link),
                    "created": link.created_at.isoformat(),
                }
            )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No payment links.")
        return
    for row in rows:
        click.echo(f"{row['id']:>6}  {row['status']:<8}  {row['url']}  {row['name']}")


@paylinks_cli.command("worker")
@click.option("--burst", is_flag=True, help="Stop once the queue is empty.")
def worker(burst: bool) -> None:
    """Run an RQ worker for the extension's jobs (needs PAYLINKS_REDIS_URL)."""
    from flask_paylinks.jobs.queue import run_worker

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if paylinks_state(app).jobs.is_inline:
        raise click.ClickException(
            "PAYLINKS_REDIS_URL is not set, so jobs run inline in the web process "
            "and no worker is needed. Set it to a Redis URL to queue jobs."
        )
    run_worker(app, burst=burst)


@paylinks_cli.command("reconcile")
@click.option(
    "--older-than",
    "minutes",
    type=click.IntRange(min=1),
    default=None,
    metavar="MINUTES",
    help="Ask the gateway about payments pending this long "
    "(default PAYLINKS_RECONCILE_AFTER_MINUTES).",
)
def reconcile(minutes: int | None) -> None:
    """Settle what webhooks left open, then run the sweeper once.

    First the reconciler: every payment pending longer than MINUTES is looked
    up at the gateway and what the gateway says is applied, as its webhook
    would have been; refunds left pending by a crash are asked again (one
    refund per key). Then the sweeper: follow-ups due and not done are handed
    out again, and payments left pending past PAYLINKS_PENDING_TIMEOUT are
    marked abandoned. The worker does both by itself.
    """
    from datetime import timedelta

    from flask_paylinks.jobs.outbox import sweep
    from flask_paylinks.payments.reconcile import reconcile as run_reconciler

    older = timedelta(minutes=minutes) if minutes is not None else None
    done = run_reconciler(older_than=older)
    click.echo(
        f"Looked up {_count(done.looked_up, 'pending payment')}: "
        f"{done.succeeded} succeeded, {done.failed} failed, "
        f"{done.still_pending} still pending at the gateway, "
        f"{done.parked} parked for review."
    )
    if done.found:
        click.echo(
            f"Found the gateway's payment of {_count(done.found, 'payment')} "
            "whose id was never stored."
        )
    if done.refunds_succeeded or done.refunds_failed:
        click.echo(
            f"Pending refunds settled: {done.refunds_succeeded} succeeded, "
            f"{done.refunds_failed} failed."
        )
    if done.errors:
        click.echo(
            f"{_count(done.errors, 'payment or refund', 'payments or refunds')} "
            "could not be settled now (see the log); the next run tries again.",
            err=True,
        )
    result = sweep()
    click.echo(
        f"{result.dispatched} follow-up{'' if result.dispatched == 1 else 's'} "
        f"handed out again; {result.abandoned} pending payment"
        f"{'' if result.abandoned == 1 else 's'} abandoned."
    )
    if result.parked:
        click.echo(
            f"{result.parked} follow-up{'' if result.parked == 1 else 's'} parked "
            "after repeated failures: see the log and paylinks_outbox.last_error.",
            err=True,
        )


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


stripe_cli = AppGroup(
    "stripe", help="Stripe: register the checkout's domain, list parked events."
)
paylinks_cli.add_command(stripe_cli)


@stripe_cli.command("register-domain")
@click.argument("domain")
@click.option(
    "--owner",
    "owners",
    multiple=True,
    help="Register on this owner's connected account (Connect); repeatable.",
)
@click.option(
    "--all-owners",
    is_flag=True,
    help="Register on every connected account recorded in this mode (Connect).",
)
def register_domain(domain: str, owners: tuple[str, ...], all_owners: bool) -> None:
    """Register DOMAIN with Stripe for Apple Pay and Google Pay on the checkout.

    DOMAIN is the host name customers see the checkout on, e.g.
    pay.example.com. Without options it is registered on the host's own
    account; in Connect mode, also register it on the merchants' connected
    accounts (--owner, --all-owners), where direct charges need it.
    """
    from flask_paylinks.gateways.base import GatewayError

    name = domain.strip().lower()
    gateway = paylinks_state().gateway
    register = getattr(gateway, "register_domain", None)
    if register is None:
        raise click.ClickException(
            "PAYLINKS_GATEWAY is not 'stripe': there is no Stripe account to "
            "register the domain with."
        )
    if not name or "/" in name or ":" in name or " " in name:
        raise click.ClickException(
            f"{domain!r} is not a domain name; give the host name alone, e.g. "
            "pay.example.com (no https://, no path)."
        )
    targets: list[str | None] = list(owners)
    if all_owners:
        connected: list[str] = getattr(gateway, "connected_owners", list)()
        targets += [o for o in connected if o not in targets]
        if not targets:
            raise click.ClickException(
                "No connected account is recorded in this mode: nothing to register."
            )
    if not targets:
        targets = [None]
    failed = 0
    for owner in targets:
        whose = "the host's account" if owner is None else f"owner {owner}"
        try:
            made = register(name, owner)
        except GatewayError as error:
            failed += 1
            click.echo(f"Stripe did not register {name} on {whose}: {error}", err=True)
            continue
        where = f" on {made.account} ({whose})" if made.account else ""
        click.echo(
            f"Registered {made.domain} ({made.id}){where}, "
            f"{'enabled' if made.enabled else 'not enabled'}."
        )
        click.echo(
            f"Apple Pay: {made.apple_pay}; Google Pay: {made.google_pay}; "
            f"Link: {made.link}."
        )
    if failed:
        raise click.ClickException(
            f"{_count(failed, 'registration')} of {len(targets)} failed."
        )


@stripe_cli.command("parked")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def parked_events(as_json: bool) -> None:
    """List Stripe events stored but not applied, with why, oldest first.

    An event is parked when it cannot be placed safely: an unknown
    PaymentIntent or subscription, an account that is no owner's, an amount
    that differs from what the customer agreed to. Nothing of it was applied.
    """
    from flask_paylinks.payments.webhooks import REVIEW_KEY, parked

    rows = parked()
    for row in rows:
        review = row.payload.get(REVIEW_KEY) or {}
        fields = {
            "received_at": row.received_at.isoformat(),
            "event_id": row.event_id,
            "type": row.type,
            "account": row.payload.get("account"),
            "reason": review.get("reason"),
            "detail": review.get("detail"),
        }
        if as_json:
            click.echo(json.dumps(fields))
        else:
            where = f" on {fields['account']}" if fields["account"] else ""
            click.echo(
                f"{fields['received_at']}  {row.event_id}  {row.type}{where}: "
                f"{fields['reason']} ({fields['detail']})"
            )
    if not as_json:
        click.echo(f"{_count(len(rows), 'parked event')}.")
