"""Pure text helpers: splitting at sentence boundaries, numbered lists, choice matching."""

from __future__ import annotations

import pytest

from channels.core.messages import Button
from channels.core.text import (
    match_choice,
    numbered_list,
    plain_links,
    split_text,
    utf16_len,
)

MENU = (
    Button("Track my order", "/track_order"),
    Button("Returns & refunds", "/check_refund_policy"),
    Button("Talk to a person", "/contact_human_agent"),
)


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("Short.", 1600, ["Short."]),
        ("One. Two. Three.", 10, ["One. Two.", "Three."]),
        ("Is it here? Yes! Great.", 12, ["Is it here?", "Yes! Great."]),
        ("First line\nSecond line", 15, ["First line", "Second line"]),
        # A list stays one item per line when cut.
        ("Pick:\n1. Track\n2. Return\n3. Person", 20, ["Pick:\n1. Track", "2. Return\n3. Person"]),
        # A sentence longer than the limit is cut between words, never inside one.
        ("a sentence without any full stop", 12, ["a sentence", "without any", "full stop"]),
        # Only a word longer than the limit is cut inside.
        ("abcdefghij", 4, ["abcd", "efgh", "ij"]),
        # Decimals and prices are not sentence ends.
        ("It costs $7.95 today. Free from $99.", 25, ["It costs $7.95 today.", "Free from $99."]),
        ('Closing quote." Next one.', 16, ['Closing quote."', "Next one."]),
        ("", 10, []),
        ("   ", 10, []),
    ],
)
def test_split_text(text: str, limit: int, expected: list[str]) -> None:
    assert split_text(text, limit) == expected


def test_split_counts_utf16_units_like_the_providers() -> None:
    assert utf16_len("😀") == 2 and utf16_len("é") == 1
    pieces = split_text("😀😀😀 😀😀", 6)
    assert pieces == ["😀😀😀", "😀😀"]
    assert all(utf16_len(p) <= 6 for p in pieces)


def test_split_loses_nothing_on_a_long_reply() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(200))
    pieces = split_text(text, 1600)
    assert len(pieces) > 1
    assert all(utf16_len(p) <= 1600 and p.endswith(".") for p in pieces)
    assert " ".join(pieces) == text


def test_split_refuses_a_silly_limit() -> None:
    with pytest.raises(ValueError):
        split_text("x", 0)


def test_numbered_list() -> None:
    assert numbered_list("What can I do?", MENU[:2]) == (
        "What can I do?\n\n1. Track my order\n2. Returns & refunds\n\nReply with a number (1-2)."
    )
    assert numbered_list(None, MENU[:1]).startswith("1. Track my order")


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("2", "/check_refund_policy"),
        (" 2 ", "/check_refund_policy"),
        ("2.", "/check_refund_policy"),
        ("#3", "/contact_human_agent"),
        ("(1)", "/track_order"),
        ("option 3", "/contact_human_agent"),
        ("3\ufe0f\u20e3", "/contact_human_agent"),  # the keycap emoji 3️⃣
        ("track my order", "/track_order"),  # the title, in any case
        ("Returns and refunds", None),  # not the title
        ("returns refunds", "/check_refund_policy"),  # punctuation does not matter
        ("4", None),  # out of range
        ("0", None),
        ("10023", None),  # an order number is not a choice
        ("2 please, and where is 10023", None),
        ("", None),
        (None, None),
    ],
)
def test_match_choice(reply: str | None, expected: str | None) -> None:
    chosen = match_choice(reply, MENU)
    assert (chosen.payload if chosen else None) == expected


def test_match_choice_without_choices() -> None:
    assert match_choice("1", ()) is None


def test_plain_links() -> None:
    assert plain_links("See [our policy](https://shop.example/returns).") == (
        "See our policy (https://shop.example/returns)."
    )
    assert plain_links("[not a link](javascript:alert(1))") == "[not a link](javascript:alert(1))"
