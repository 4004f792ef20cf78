"""Pure text helpers shared by the channel renderers: length limits, splitting, links, and
buttons shown as a numbered list (plus matching the shopper's "2" back to a button)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from channels.core.messages import Button, PayloadError

# A Markdown link as the web chat understands it: [label](https://...).
MARKDOWN_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^\s)]+)\)")
# Where a sentence may end: terminal punctuation (optionally closed by a quote or bracket)
# followed by whitespace, or any line break.
_SENTENCE_END = re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*\s+|\n+")
_WHITESPACE = re.compile(r"\s+")
# "2", "2.", "#2", "(2)", "option 2", "no. 2", the keycap emoji "2️⃣".
_CHOICE_NUMBER = re.compile(
    r"^\s*(?:option|choice|number|no\.?|nr\.?|#)?\s*\(?(\d{1,2})\s*(?:\ufe0f?\u20e3)?\s*[.):]?\s*$",
    re.IGNORECASE,
)


def utf16_len(text: str) -> int:
    """Length as Twilio, Meta and Telegram count it: UTF-16 code units (an emoji is 2)."""
    return len(text.encode("utf-16-le")) // 2


def _fits(text: str, limit: int) -> bool:
    return utf16_len(text) <= limit


def _longest_prefix_within(text: str, limit: int) -> int:
    """Number of characters of `text` whose UTF-16 length is at most `limit`."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def split_text(text: str, limit: int) -> list[str]:
    """`text` in pieces of at most `limit` UTF-16 units, cut at sentence boundaries.

    A piece ends at the last sentence end or line break that fits; only a single sentence
    longer than the limit is cut between words, and only a single word longer than the limit
    is cut inside it. Whitespace at the cuts is dropped; nothing else is lost or reordered.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    pieces: list[str] = []
    rest = text.strip()
    while rest:
        if _fits(rest, limit):
            pieces.append(rest)
            break
        window_end = _longest_prefix_within(rest, limit)
        window = rest[: window_end + 1]  # one more char, so a boundary right at the limit counts
        cut = 0
        for match in _SENTENCE_END.finditer(window):
            line_start = rest.rfind("\n", 0, match.start()) + 1
            if rest[line_start : match.start()].strip().isdigit():
                continue  # "2. Returns": the number of a list item, not a sentence end
            candidate = rest[: match.end()].rstrip()
            if candidate and _fits(candidate, limit):
                cut = match.end()
        if cut == 0:
            spaces = [m.start() for m in _WHITESPACE.finditer(window) if m.start() > 0]
            cut = spaces[-1] if spaces else max(window_end, 1)
        piece = rest[:cut].rstrip()
        pieces.append(piece)
        rest = rest[cut:].lstrip()
    return pieces


def plain_links(text: str) -> str:
    """[label](url) → "label (url)" for channels that show text verbatim."""
    return MARKDOWN_LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", text)


def numbered_list(text: str | None, buttons: Sequence[Button]) -> str:
    """The message with its buttons as options a shopper can answer by number or by title."""
    lines = [f"{index}. {button.title}" for index, button in enumerate(buttons, start=1)]
    parts = [text.strip()] if text and text.strip() else []
    parts.append("\n".join(lines))
    parts.append(f"Reply with a number (1-{len(buttons)}).")
    return "\n\n".join(parts)


def _comparable(text: str) -> str:
    """Case, accents, punctuation and spacing removed: "Returns & refunds!" ≈ "returns refunds"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = (c for c in decomposed if c.isalnum() or c.isspace())
    return " ".join("".join(kept).split())


def match_choice(reply: str | None, buttons: Sequence[Button]) -> Button | None:
    """The button a shopper's reply picks from a numbered list, if it picks one.

    Accepts the option's number in the usual spellings, or its title. Anything else is not a
    choice (None) and goes to the assistant as typed.
    """
    if not reply or not buttons:
        return None
    number = _CHOICE_NUMBER.match(reply)
    if number:
        index = int(number.group(1))
        return buttons[index - 1] if 1 <= index <= len(buttons) else None
    wanted = _comparable(reply)
    if not wanted:
        return None
    matches = [button for button in buttons if _comparable(button.title) == wanted]
    return matches[0] if len(matches) == 1 else None


# ---------------------------------------------------------------------- webhook values

#: Longest provider id the store keeps (`channel_inbound.provider_message_id`, `external_id`).
MAX_ID_LENGTH = 255


def is_valid_unicode(text: str) -> bool:
    """False for a lone UTF-16 surrogate ("\\ud800" in JSON): no UTF-8 encoder, driver or
    PostgreSQL json column takes it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def identifier(value: object, what: str, *, limit: int = MAX_ID_LENGTH) -> str:
    """A provider id from a webhook, as the store keys it: a non-empty string (or an integer,
    not a bool) of at most `limit` printable characters. NUL and other control characters,
    which PostgreSQL refuses in a VARCHAR, or lone surrogates are a `PayloadError`."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PayloadError(f"{what} is not a string or number")
    text = str(value)
    if not text or len(text) > limit:
        raise PayloadError(f"{what} is empty or longer than {limit} characters")
    if not text.isprintable() or not is_valid_unicode(text):
        raise PayloadError(f"{what} contains control characters or invalid Unicode")
    return text


def optional_text(value: object, what: str) -> str | None:
    """A free-text field: absent (None) or a string of valid Unicode, else a `PayloadError`."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{what} is not a string")
    if not is_valid_unicode(value):
        raise PayloadError(f"{what} is not valid Unicode (a lone surrogate)")
    return value


def display_name(value: str | None, limit: int = 200) -> str | None:
    """A shopper's profile name as it may be stored and shown: control characters (NUL
    included) and lone surrogates dropped, at most `limit` characters; None if nothing is
    left."""
    if not value:
        return None
    cleaned = "".join(c for c in value if unicodedata.category(c) not in ("Cc", "Cs"))
    return cleaned.strip()[:limit] or None
