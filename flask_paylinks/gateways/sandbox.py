"""The sandbox gateway: a first-class test-mode gateway that moves no money.

It is what the demo and the tests run on. Its card form accepts Stripe's
public test card numbers and answers as Stripe would for them; every outcome
is reported as a :class:`~.base.PaymentUpdate`, the same value a real
gateway's webhook produces, and applied by the same service code.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from wtforms import Form, StringField
from wtforms.validators import InputRequired, ValidationError

from flask_paylinks.gateways.base import (
    BrowserStep,
    CspSources,
    Outcome,
    PaymentRequest,
    PaymentUpdate,
    RefundRequest,
    RefundResult,
    StartedPayment,
)


@dataclass(frozen=True, slots=True)
class TestCard:
    """How the sandbox answers for one test card number."""

    outcome: Outcome
    failure_code: str | None = None
    failure_message: str | None = None


DECLINED = TestCard(Outcome.FAILED, "card_declined", "Your card was declined.")

#: Stripe's documented test numbers, and what each does.
TEST_CARDS: dict[str, TestCard] = {
    "4242424242424242": TestCard(Outcome.SUCCEEDED),
    "4000056655665556": TestCard(Outcome.SUCCEEDED),
    "5555555555554444": TestCard(Outcome.SUCCEEDED),
    "2223003122003222": TestCard(Outcome.SUCCEEDED),
    "378282246310005": TestCard(Outcome.SUCCEEDED),
    "4000000000000002": DECLINED,
    "4000000000009995": TestCard(
        Outcome.FAILED, "insufficient_funds", "Your card has insufficient funds."
    ),
    "4000000000009987": TestCard(
        Outcome.FAILED, "lost_card", "Your card was declined."
    ),
    "4000000000000069": TestCard(
        Outcome.FAILED, "expired_card", "Your card has expired."
    ),
    "4000000000000127": TestCard(
        Outcome.FAILED, "incorrect_cvc", "Your card's security code is incorrect."
    ),
    "4000000000000119": TestCard(
        Outcome.FAILED,
        "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
    ),
}


def luhn_ok(number: str) -> bool:
    """Whether *number* passes the Luhn check every card number passes."""
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


_EXPIRY = re.compile(r"^\s*(\d{1,2})\s*/?\s*(\d{2}|\d{4})\s*$")


def card_digits(value: str) -> str:
    """The digits of a card number as typed (spaces and dashes dropped)."""
    return "".join(ch for ch in value if ch.isdigit())


class CardForm(Form):  # type: ignore[misc]
    """The sandbox's card fields, named ``card-number``, ``card-expiry``, ``card-cvc``.

    It checks what a card form checks before anything is charged (a number
    that passes the Luhn check, an expiry in the future, a 3 or 4 digit
    code); which test number succeeds or fails is :meth:`SandboxGateway.charge`'s.
    """

    number = StringField(
        "Card number",
        validators=[InputRequired("Enter your card number.")],
        render_kw={
            "autocomplete": "cc-number",
            "inputmode": "numeric",
            "maxlength": 23,
            "placeholder": "1234 1234 1234 1234",
        },
    )
    expiry = StringField(
        "Expiry (MM / YY)",
        validators=[InputRequired("Enter the expiry date.")],
        render_kw={
            "autocomplete": "cc-exp",
            "inputmode": "numeric",
            "maxlength": 7,
            "placeholder": "MM / YY",
        },
    )
    cvc = StringField(
        "Security code",
        validators=[InputRequired("Enter the security code.")],
        render_kw={
            "autocomplete": "cc-csc",
            "inputmode": "numeric",
            "maxlength": 4,
            "placeholder": "CVC",
        },
    )

    def validate_number(self, field: StringField) -> None:
        """Digits that pass the Luhn check."""
        raw = field.data or ""
        if len(raw) > 30 or not luhn_ok(card_digits(raw)):
            raise ValidationError("Your card number is incorrect.")

    def validate_expiry(self, field: StringField) -> None:
        """A month and year that have not passed."""
        match = _EXPIRY.match(field.data or "")
        if match is None or not 1 <= int(match.group(1)) <= 12:
            raise ValidationError("Enter the expiry date as MM / YY.")
        month, year = int(match.group(1)), int(match.group(2))
        year = year + 2000 if year < 100 else year
        today = datetime.now(UTC)
        if (year, month) < (today.year, today.month):
            raise ValidationError("Your card has expired.")

    def validate_cvc(self, field: StringField) -> None:
        """Three or four digits."""
        value = (field.data or "").strip()
        if not (value.isascii() and value.isdigit() and 3 <= len(value) <= 4):
            raise ValidationError("Enter the 3 or 4 digit security code.")

    def declined(self, message: str) -> None:
        """Empty the number and the code, and show *message* at the number."""
        self.number.data = ""
        self.cvc.data = ""
        self.number.errors = [message]


class SandboxGateway:
    """Test mode: payments succeed or fail by the test card number given."""

    name = "sandbox"
    test_mode = True
    #: Seconds after which a pending sandbox payment can no longer be paid: its
    #: card is taken in the same request that starts it, so one still pending
    #: after that was left by a crash. The sweeper then marks it abandoned.
    abandon_after = 120

    def start_payment(self, request: PaymentRequest) -> StartedPayment:
        """A payment id derived from the idempotency key: the same key, the same id."""
        digest = hashlib.sha256(request.idempotency_key.encode()).hexdigest()[:24]
        return StartedPayment(gateway_payment_id=f"sbx_pi_{digest}")

    def charge(self, gateway_payment_id: str, card_number: str) -> PaymentUpdate:
        """Answer for *card_number* as Stripe would, as one event per payment.

        A card number that fails the Luhn check or is not one of the test
        numbers is declined, the way Stripe's test mode treats real cards.
        """
        number = card_digits(card_number)
        card = TEST_CARDS.get(number, DECLINED)
        if not luhn_ok(number):
            card = TestCard(
                Outcome.FAILED, "incorrect_number", "Your card number is incorrect."
            )
        succeeded = card.outcome is Outcome.SUCCEEDED
        return PaymentUpdate(
            event_id=f"sbx_evt_{gateway_payment_id}",
            type="payment_intent." + ("succeeded" if succeeded else "payment_failed"),
            gateway_payment_id=gateway_payment_id,
            outcome=card.outcome,
            failure_code=card.failure_code,
            failure_message=card.failure_message,
            payload={"card_last4": number[-4:], "test_card": number in TEST_CARDS},
        )

    def refund(self, request: RefundRequest) -> RefundResult:
        """A test refund: it succeeds at once, its id derived from the key."""
        digest = hashlib.sha256(request.idempotency_key.encode()).hexdigest()[:24]
        return RefundResult(gateway_refund_id=f"sbx_re_{digest}")

    def charges_problem(self, owner: str) -> str | None:
        """The sandbox takes (test) charges for every owner."""
        return None

    def payment_fields(self, formdata: Any = None) -> CardForm:
        """The card fields, named ``card-number``, ``card-expiry``, ``card-cvc``."""
        return CardForm(formdata, prefix="card-")

    def confirm(
        self, started: StartedPayment, fields: Mapping[str, Any]
    ) -> PaymentUpdate:
        """Charge the test card typed in :meth:`payment_fields`."""
        return self.charge(started.gateway_payment_id, str(fields.get("number") or ""))

    def browser_step(
        self, started: StartedPayment, *, brand_color: str, return_url: str
    ) -> BrowserStep | None:
        """None: the sandbox's card fields are on our own page."""
        return None

    def content_security_policy(self) -> CspSources:
        """No origin besides ours."""
        return {}

    def look_up(self, gateway_payment_id: str, owner_id: str) -> PaymentUpdate | None:
        """Always ``None``: the sandbox keeps no payments of its own.

        Its card is charged in the request that starts the payment, and that
        answer is applied at once; a sandbox payment still pending was left by
        a crash before the card was charged, and the sweeper abandons it after
        :attr:`abandon_after` seconds.
        """
        return None

    def find_started(self, reference: str, owner_id: str) -> str | None:
        """Always ``None``: a sandbox payment is nowhere but in our own table."""
        return None
