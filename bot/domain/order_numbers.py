"""Recognising order numbers the way shoppers type them."""

from __future__ import annotations

import re

# "10023", "#10023", "ORD-10023", "ord 10023", "order no. 10023", "00004587345". Order numbers
# are 5 to 20 digits; anything shorter is more likely a quantity, a date or a house number.
_ORDER_NUMBER = re.compile(
    r"(?:(?<![\w#-])|(?<=#))(?:ord(?:er)?\s*(?:no\.?|number|num|nr)?\s*[-:#]?\s*|#\s*)?(\d{5,20})(?!\d)",
    re.IGNORECASE,
)


def normalise_order_number(text: str | None) -> str | None:
    """Return the digits of the first order number in `text`, or None if there is none.

    Leading zeros are kept: stores print them and shoppers copy them.
    """
    if not text:
        return None
    match = _ORDER_NUMBER.search(text.strip())
    return match.group(1) if match else None
