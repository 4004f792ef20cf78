"""channels.core.inbound_text: what every entry point does to a shopper's text first."""

from __future__ import annotations

import json

import pytest

from channels.core.inbound_text import (
    BLANK_REPLY,
    TEXT_LIMIT,
    TOO_LONG_REPLY,
    clean_text,
    is_blank,
    is_too_long,
    screen_text,
)


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("where is my order 10023", "where is my order 10023"),
        ("", ""),
        (None, ""),
        ("   ", "   "),
        # Lone surrogates (a broken client, a cut emoji) become U+FFFD.
        ("\ud800", "\ufffd"),
        ("\udfff", "\ufffd"),
        ("order \ud83d", "order \ufffd"),
        ("\ude00\ud83d", "\ufffd\ufffd"),  # low before high: not a pair
        # A pair split into two code points is the character it encodes.
        ("thanks \ud83d\ude00", "thanks \U0001f600"),
        ("thanks \U0001f600", "thanks \U0001f600"),
        # NUL, other C0 controls, DEL and C1 controls are removed; tab and LF stay.
        ("10\x0023", "1023"),
        ("a\x07b\x1bc\x7fd\x85e\x9ff", "abcd\nef"),  # \x85 (NEL) is a line break
        ("col1\tcol2\nline2", "col1\tcol2\nline2"),
        # Carriage returns and Unicode line separators become LF.
        ("line1\r\nline2\rline3", "line1\nline2\nline3"),
        ("a\u2028b\u2029c", "a\nb\nc"),
        # NFC: a decomposed accent is composed; compatibility characters are kept.
        ("cafe\u0301", "caf\u00e9"),
        ("size M\u00b2 \ufb01t", "size M\u00b2 \ufb01t"),
        # Everything else is kept as typed, including surrounding whitespace.
        ("  Привет, 注文 10023?  ", "  Привет, 注文 10023?  "),
    ],
)
def test_clean_text(raw: str | None, cleaned: str) -> None:
    assert clean_text(raw) == cleaned


@pytest.mark.parametrize(
    "raw",
    ["\ud800", "a\x00\ud800b" * 3, "\ud83d\ude00" * 5, "x" * 10 + "\udc00", "\r\n\x00"],
)
def test_clean_text_is_always_utf8_encodable_and_json_safe(raw: str) -> None:
    cleaned = clean_text(raw)
    cleaned.encode("utf-8")  # raises on a surrogate
    assert json.loads(json.dumps(cleaned, ensure_ascii=False)) == cleaned
    assert clean_text(cleaned) == cleaned  # idempotent


@pytest.mark.parametrize(
    ("raw", "blank"),
    [
        ("", True),
        (None, True),
        ("   ", True),
        ("\t\n\r\n", True),
        ("\u00a0\u3000", True),  # no-break space, ideographic space
        ("\u200b\u200d\ufeff\u2060", True),  # zero-width space/joiner, BOM, word joiner
        ("\ud800", True),  # a lone surrogate: nothing readable
        ("\ufffd  \ufffd", True),
        ("\x00\x01\x1f", True),
        ("hi", False),
        (" ? ", False),
        ("10023", False),
        ("\U0001f44d", False),  # a thumbs-up is an answer
        ("\u0661", False),  # Arabic-Indic digit one
        ("ok\ud800", False),
    ],
)
def test_is_blank(raw: str | None, blank: bool) -> None:
    assert is_blank(raw) is blank


@pytest.mark.parametrize(
    ("length", "too_long"),
    [
        (0, False),
        (1, False),
        (TEXT_LIMIT - 1, False),
        (TEXT_LIMIT, False),
        (TEXT_LIMIT + 1, True),
        (1_000_000, True),
    ],
)
def test_is_too_long(length: int, too_long: bool) -> None:
    assert is_too_long("x" * length) is too_long


def test_limit_counts_characters_not_bytes() -> None:
    assert not is_too_long("é" * TEXT_LIMIT)  # 8 KB of UTF-8, 4,096 characters
    assert not is_too_long("\U0001f600" * TEXT_LIMIT)
    assert is_too_long(None) is False


def test_too_long_reply_says_what_to_do() -> None:
    assert "4,096" in TOO_LONG_REPLY
    assert "shorter" in TOO_LONG_REPLY
    assert len(TOO_LONG_REPLY) < 300


@pytest.mark.parametrize(
    ("raw", "text", "reply"),
    [
        ("where is my order", "where is my order", None),
        ("  10023  ", "  10023  ", None),
        ("", "", BLANK_REPLY),
        (None, "", BLANK_REPLY),
        ("   ", "   ", BLANK_REPLY),
        ("\ud800", "\ufffd", BLANK_REPLY),
        ("\x00", "", BLANK_REPLY),
        ("order \ud800", "order \ufffd", None),
        ("x" * TEXT_LIMIT, "x" * TEXT_LIMIT, None),
        ("x" * (TEXT_LIMIT + 1), "x" * (TEXT_LIMIT + 1), TOO_LONG_REPLY),
        # The limit applies to what would reach the assistant: removed controls don't count.
        ("x" * TEXT_LIMIT + "\x00" * 10, "x" * TEXT_LIMIT, None),
        (" " * (TEXT_LIMIT + 1), " " * (TEXT_LIMIT + 1), TOO_LONG_REPLY),
    ],
)
def test_screen_text(raw: str | None, text: str, reply: str | None) -> None:
    assert screen_text(raw) == (text, reply)


def test_blank_reply_asks_again() -> None:
    assert "didn't get any text" in BLANK_REPLY
    assert BLANK_REPLY.rstrip().endswith((".", "?"))
