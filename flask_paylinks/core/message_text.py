"""The message template language of sends and Text-to-Pay, and SMS segment counts.

A template is plain text with merge fields in braces: ``Hi {first_name}, pay
here: {link}``. ``{{`` and ``}}`` stand for a literal brace. Rendering never
uses :meth:`str.format`, so a brace in a contact's name is just a brace.

SMS lengths follow GSM 03.38: a message that only uses the GSM-7 alphabet
takes 160 characters in one segment and 153 per segment once split (each of
``^{}\\[~]|€`` and form feed costs two, an escape and the character); any
other character makes the whole message UCS-2, 70 UTF-16 code units in one
segment and 67 per segment once split (an emoji is two code units).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

#: The merge fields a template may use; ``{link}`` is required.
MERGE_FIELDS: tuple[str, ...] = (
    "link",
    "first_name",
    "last_name",
    "name",
    "merchant",
    "link_name",
)

#: Worst-case stand-ins for everything but the link when measuring a template.
_WORST_CASE_NAME = "x" * 20

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")

# The GSM 03.38 default alphabet (without the escape character itself) and its
# extension table, whose characters take two septets.
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = frozenset("^{}\\[~]|€\f")

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True, slots=True)
class SmsSegments:
    """How an SMS is carried: its encoding, length in that encoding, and segments.

    ``characters`` counts septets for GSM-7 (an extension character counts 2)
    and UTF-16 code units for UCS-2 (an emoji counts 2).
    """

    encoding: Encoding
    characters: int
    segments: int


def sms_segments(text: str) -> SmsSegments:
    """The encoding, length and segment count of *text* sent as one SMS."""
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENSION for ch in text):
        costs = [2 if ch in _GSM_EXTENSION else 1 for ch in text]
        return SmsSegments("GSM-7", sum(costs), _count_segments(costs, 160, 153))
    costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return SmsSegments("UCS-2", sum(costs), _count_segments(costs, 70, 67))


def _count_segments(costs: list[int], single: int, part: int) -> int:
    total = sum(costs)
    if total == 0:
        return 0
    if total <= single:
        return 1
    # An escaped character or a surrogate pair is never split across two
    # segments, so a part may hold one unit less than *part*.
    segments, used = 1, 0
    for cost in costs:
        if used + cost > part:
            segments += 1
            used = 0
        used += cost
    return segments


def _field_name(raw: str) -> str:
    return raw.strip().lower()


def template_problems(
    text: str,
    *,
    require_link: bool = True,
    max_segments: int | None = 10,
    link_length: int = 40,
) -> list[str]:
    """What is wrong with the template *text*, said for a person; ``[]``: nothing.

    The SMS length is measured on the text rendered with worst-case values: a
    link of *link_length* characters and names of about 20 characters.
    """
    if not text.strip():
        return ["Write a message."]
    problems: list[str] = []
    unknown: list[str] = []
    unbalanced = False
    used: set[str] = set()
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        if token in ("{", "}"):
            unbalanced = True
            continue
        name = _field_name(match.group(1))
        if name in MERGE_FIELDS:
            used.add(name)
        elif token not in unknown:
            unknown.append(token)
    allowed = ", ".join(f"{{{name}}}" for name in MERGE_FIELDS)
    for token in unknown:
        problems.append(f"Unknown merge field {token}. Use {allowed}.")
    if unbalanced:
        problems.append(
            "A brace is not closed or not opened: merge fields look like {link}; "
            "write {{ or }} for a brace itself."
        )
    if require_link and "link" not in used:
        problems.append("Put {link} in the message: it is where the payment link goes.")
    if max_segments is not None and not unknown and not unbalanced:
        worst = render(text, _worst_case_values(link_length))
        measured = sms_segments(worst)
        if measured.segments > max_segments:
            problems.append(
                f"The message is too long for SMS: it can take up to "
                f"{measured.segments} segments ({measured.characters} "
                f"{measured.encoding} characters), and the most is {max_segments}. "
                "Shorten it."
            )
    return problems


def _worst_case_values(link_length: int) -> dict[str, str]:
    return {
        "link": "x" * link_length,
        "first_name": _WORST_CASE_NAME,
        "last_name": _WORST_CASE_NAME,
        "name": f"{_WORST_CASE_NAME} {_WORST_CASE_NAME}",
        "merchant": _WORST_CASE_NAME,
        "link_name": _WORST_CASE_NAME,
    }


def render(text: str, values: Mapping[str, str]) -> str:
    """*text* with each merge field replaced by its value in *values*.

    A field missing from *values* renders empty; ``{{`` and ``}}`` render one
    brace; a stray brace is kept as typed. Values are inserted as they are,
    never parsed again.
    """
    parts: list[str] = []
    position = 0
    for match in _TOKEN.finditer(text):
        parts.append(text[position : match.start()])
        token = match.group(0)
        if token in ("{{", "}}"):
            parts.append(token[0])
        elif token in ("{", "}"):
            parts.append(token)
        else:
            name = _field_name(match.group(1))
            parts.append(values.get(name, "") if name in MERGE_FIELDS else token)
        position = match.end()
    parts.append(text[position:])
    return "".join(parts)
