"""The message template language and SMS segment counts (pure, fast)."""

from __future__ import annotations

import pytest

from flask_paylinks.core.message_text import (
    MERGE_FIELDS,
    SmsSegments,
    render,
    sms_segments,
    template_problems,
)

# -- segments -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SmsSegments("GSM-7", 0, 0)),
        ("a" * 160, SmsSegments("GSM-7", 160, 1)),
        ("a" * 161, SmsSegments("GSM-7", 161, 2)),
        ("a" * 306, SmsSegments("GSM-7", 306, 2)),
        ("a" * 307, SmsSegments("GSM-7", 307, 3)),
        ("é" * 160, SmsSegments("GSM-7", 160, 1)),  # é is in the GSM alphabet
        ("ł" * 70, SmsSegments("UCS-2", 70, 1)),
        ("ł" * 71, SmsSegments("UCS-2", 71, 2)),
        ("ł" * 134, SmsSegments("UCS-2", 134, 2)),
        ("ł" * 135, SmsSegments("UCS-2", 135, 3)),
    ],
)
def test_gsm7_and_ucs2_boundaries(text: str, expected: SmsSegments) -> None:
    assert sms_segments(text) == expected


def test_extension_characters_count_twice() -> None:
    assert sms_segments("€" * 80) == SmsSegments("GSM-7", 160, 1)
    assert sms_segments("[]{}^~|\\") == SmsSegments("GSM-7", 16, 1)
    assert sms_segments("€" * 80 + "a") == SmsSegments("GSM-7", 161, 2)


def test_an_escaped_character_is_not_split_across_segments() -> None:
    # 152 plain characters then an extension character: 154 septets do not fit
    # 153, and the escape pair moves whole into the second segment.
    text = "a" * 152 + "€" + "a" * 152
    measured = sms_segments(text)
    assert measured.characters == 306
    assert measured.segments == 3


def test_one_non_gsm_character_makes_the_whole_message_ucs2() -> None:
    assert sms_segments("a" * 100 + "ł") == SmsSegments("UCS-2", 101, 2)


def test_an_emoji_is_two_code_units() -> None:
    assert sms_segments("😀" * 35) == SmsSegments("UCS-2", 70, 1)
    assert sms_segments("😀" * 35 + "a") == SmsSegments("UCS-2", 71, 2)


# -- problems --------------------------------------------------------------------


def test_a_good_template_has_no_problems() -> None:
    assert template_problems("Hi {first_name}, pay {merchant} here: {link}") == []


def test_every_merge_field_is_known() -> None:
    text = " ".join(f"{{{name}}}" for name in MERGE_FIELDS)
    assert template_problems(text) == []


def test_empty_text() -> None:
    assert template_problems("   ") == ["Write a message."]


def test_missing_link() -> None:
    problems = template_problems("Hi {first_name}, please pay")
    assert len(problems) == 1
    assert "{link}" in problems[0]


def test_missing_link_allowed_when_not_required() -> None:
    assert template_problems("Thanks {name}!", require_link=False) == []


def test_unknown_merge_field_names_it_and_the_known_ones() -> None:
    problems = template_problems("Hi {foo}: {link}")
    assert problems == [
        "Unknown merge field {foo}. Use {link}, {first_name}, {last_name}, "
        "{name}, {merchant}, {link_name}."
    ]


@pytest.mark.parametrize("text", ["Pay {link", "Pay link} {link}", "Pay {link}}"])
def test_unbalanced_braces(text: str) -> None:
    problems = template_problems(text)
    assert any("brace" in p for p in problems), problems


def test_doubled_braces_are_literal_braces() -> None:
    assert template_problems("{{VIP}} {link}") == []
    assert render("{{VIP}} {link}", {"link": "https://x"}) == "{VIP} https://x"


def test_ten_segments_is_the_limit_measured_with_the_link() -> None:
    # With a 40-character link: 10 segments hold 1530 septets.
    fits = "a" * (1530 - 40 - 1) + " {link}"
    too_long = "a" * (1530 - 40) + " {link}"
    assert template_problems(fits) == []
    problems = template_problems(too_long)
    assert len(problems) == 1
    assert "11 segments" in problems[0]
    assert "the most is 10" in problems[0]


def test_names_are_measured_at_their_worst() -> None:
    # 1530 - 40 (link) - 1 space - 20 (a long first name) - 1 space = 1468.
    assert template_problems("a" * 1468 + " {first_name} {link}") == []
    assert template_problems("a" * 1469 + " {first_name} {link}") != []


def test_no_segment_limit() -> None:
    assert template_problems("a" * 5000 + " {link}", max_segments=None) == []


# -- rendering --------------------------------------------------------------------


def test_render_fills_fields_and_is_safe_with_braces_in_values() -> None:
    text = "Hi {first_name}, pay {merchant}: {link}"
    values = {"first_name": "{link}", "merchant": "A{0}B", "link": "https://p/1"}
    assert render(text, values) == "Hi {link}, pay A{0}B: https://p/1"


def test_render_leaves_missing_fields_empty_and_unknown_ones_as_typed() -> None:
    assert render("Hi {first_name}{foo} {link}", {"link": "L"}) == "Hi {foo} L"


def test_render_is_lenient_about_case_and_spaces() -> None:
    assert render("{ Link }", {"link": "L"}) == "L"
    assert template_problems("{ Link }") == []
