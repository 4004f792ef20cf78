"""Reading the shopper's 1-5 satisfaction rating after a handoff. Pure.

Shoppers answer "4", "4/5", "five", "⭐⭐⭐⭐" or "skip"; anything else means they moved on to a
new question, which the bot then answers instead of insisting on a rating.
"""

from __future__ import annotations

import re

SKIPPED = "skipped"
_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_NUMBER = re.compile(
    r"^\s*(?:i(?:'d)?\s+(?:give|rate)\s+(?:it|you|that)?\s*)?(?:a\s+)?"
    r"(?P<n>[1-5]|one|two|three|four|five)\s*(?:/\s*5|out of (?:5|five)|stars?)?\s*[.!]*\s*$",
    re.IGNORECASE,
)
_STARS = re.compile(r"^\s*(?:⭐|★|\*){1,5}\s*$")
_SKIP = re.compile(
    r"^\s*(?:skip|no|nope|no thanks|no,? thank you|pass|later|not now|n/a)\s*[.!]*\s*$", re.I
)


def parse_rating(text: str | None) -> int | str | None:
    """1-5, `SKIPPED`, or None when the text is not an answer to the rating question."""
    if not text:
        return None
    match = _NUMBER.match(text)
    if match:
        value = match["n"].lower()
        return _WORDS.get(value) or int(value)
    if _STARS.match(text):
        return len(re.findall(r"⭐|★|\*", text))
    if _SKIP.match(text):
        return SKIPPED
    return None
