"""A link's payments as the merchant reads them: pages, totals and CSV.

Payments are made by the checkout; this module only reads them, through
:func:`~flask_paylinks.db.scoping.owned`, newest first.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, tzinfo

from sqlalchemy import func, select

from flask_paylinks.catalog.presenters import interval_label
from flask_paylinks.core.money import Money
from flask_paylinks.db.models import Payment, PaymentLink, PaymentState
from flask_paylinks.db.pagination import KeysetOrder, Page, keyset_page, keyset_select
from flask_paylinks.db.scoping import owned
from flask_paylinks.db.session import session
from flask_paylinks.localtime import local
from flask_paylinks.merchants import merchant_profile

NEWEST_FIRST = KeysetOrder(
    "p-", (Payment.created_at, Payment.id), "di", descending=True
)
CSV_COLUMNS = (
    "Date (UTC)",
    "Reference",
    "Status",
    "Amount",
    "Currency",
    "Discount",
    "Coupon",
    "Recurring amount",
    "Every",
    "Customer name",
    "Email",
    "Phone",
    "Contact ID",
)
#: A spreadsheet runs a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class StateTotal:
    """How many payments of a link are in one state, and their sum per currency."""

    state: str
    count: int
    amounts: tuple[Money, ...]


def link_payments(
    owner: str,
    link: PaymentLink,
    *,
    after: str | None = None,
    before: str | None = None,
    per_page: int = 25,
    count: bool = True,
) -> Page[Payment]:
    """One page of a link's payments, newest first.

    With ``count=False`` the total is not counted (it is 0): the link's page
    gets its numbers from :func:`state_totals` instead of counting twice.
    """
    base = owned(Payment, owner).where(Payment.link_id == link.id)
    total = 0
    if count:
        total = (
            session().scalar(
                select(func.count())
                .select_from(Payment)
                .where(Payment.owner_id == owner, Payment.link_id == link.id)
            )
            or 0
        )
    stmt, start = keyset_select(
        base, NEWEST_FIRST, after=after, before=before, per_page=per_page
    )
    rows = list(session().scalars(stmt))
    return keyset_page(
        rows,
        NEWEST_FIRST,
        start=start,
        per_page=per_page,
        total=total,
        key_of=lambda payment: (payment.created_at, payment.id),
    )


def state_totals(owner: str, link: PaymentLink) -> list[StateTotal]:
    """Counts and sums of a link's payments by state (succeeded first)."""
    rows = session().execute(
        select(
            Payment.state,
            Payment.currency,
            func.count(),
            func.coalesce(func.sum(Payment.amount_total), 0),
        )
        .where(Payment.owner_id == owner, Payment.link_id == link.id)
        .group_by(Payment.state, Payment.currency)
    )
    by_state: dict[str, tuple[int, list[Money]]] = {}
    for state, currency, count, amount in rows:
        number, amounts = by_state.get(state, (0, []))
        by_state[state] = (number + count, [*amounts, Money(int(amount), currency)])
    order = [state.value for state in PaymentState]
    order = ["succeeded", *(s for s in order if s != "succeeded")]
    return [
        StateTotal(state, *_freeze(by_state[state]))
        for state in order
        if state in by_state
    ]


def _freeze(value: tuple[int, list[Money]]) -> tuple[int, tuple[Money, ...]]:
    return value[0], tuple(value[1])


E164 = re.compile(r"^\+[1-9][0-9]{5,14}$")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) and not E164.match(text):
        return f"'{text}"
    return text


def payments_csv(owner: str, link: PaymentLink, *, batch: int = 1000) -> Iterator[str]:
    """The link's payments as CSV text, streamed a batch of rows at a time.

    Dates are in the merchant's timezone, which the first column's heading
    names. Cells that a spreadsheet would run as a formula are prefixed with
    ``'``.
    """
    zone = merchant_profile(owner).zone
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow((f"Date ({zone.key})", *CSV_COLUMNS[1:]))
    yield flush()
    stmt = (
        owned(Payment, owner)
        .where(Payment.link_id == link.id)
        .order_by(Payment.created_at.desc(), Payment.id.desc())
        .execution_options(yield_per=batch)
    )
    for count, payment in enumerate(session().scalars(stmt), start=1):
        writer.writerow([_cell(value) for value in csv_row(payment, tz=zone)])
        if count % batch == 0:
            yield flush()
    yield flush()


def csv_row(payment: Payment, *, tz: tzinfo = UTC) -> list[object]:
    """One payment as the cells of :data:`CSV_COLUMNS`, its date in *tz*."""
    money: Callable[[int | None], str] = lambda amount: (  # noqa: E731
        "" if amount is None else f"{Money(amount, payment.currency).to_decimal():f}"
    )
    every = interval_label(payment.recurring_interval, payment.recurring_interval_count)
    return [
        local(payment.created_at, tz).strftime("%Y-%m-%d %H:%M:%S"),
        payment.reference,
        payment.state,
        money(payment.amount_total),
        payment.currency,
        money(payment.amount_discount) if payment.amount_discount else "",
        payment.coupon_code or "",
        money(payment.amount_recurring),
        every,
        payment.customer_name,
        payment.customer_email,
        payment.customer_phone or "",
        payment.contact_id or "",
    ]
