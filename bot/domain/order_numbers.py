"""Recognising order numbers the way shoppers type them."""

from __future__ import annotations

import re

# "10023", "#10023", "ORD-10023", "ord 10023", "order no. 10023", "00004587345". Bare order
# numbers are 5 to 20 digits (anything shorter is more likely a quantity, a date or a house
# number); after a cue ("#", "order", "ORD-") 4 digits are enough: Shopify numbers a new shop's
# orders from #1001, and the same tiers are in data/nlu/regex.yml.
_ORDER_NUMBER = re.compile(
    r"(?:(?<![\w#-])|(?<=#))(?:(?:ord(?:er)?\s*(?:no\.?|number|num|nr)?\s*[-:#]?\s*|#\s*)(\d{4,20})"
    r"|(\d{5,20}))(?!\d)",
    re.IGNORECASE,
)
#: What the order_id entity holds: the regex extractor has already applied the cues above.
_ENTITY_VALUE = re.compile(r"\d{3,20}")


def normalise_order_number(text: str | None) -> str | None:
    """Return the digits of the first order number in `text`, or None if there is none.

    Leading zeros are kept: stores print them and shoppers copy them.
    """
    if not text:
        return None
    match = _ORDER_NUMBER.search(text.strip())
    if match is None:
        return None
    return match.group(1) or match.group(2)


def order_number_from_entity(value: object) -> str | None:
    """The order number in an `order_id` entity value: bare digits as data/nlu/regex.yml
    extracts them after its cues (so "#1001" arrives as "1001"); anything else is read like
    typed text."""
    if isinstance(value, str) and _ENTITY_VALUE.fullmatch(value.strip()):
        return value.strip()
    return normalise_order_number(str(value) if value else None)
