"""Finding the numbers a sentence states: "30 days", "5-10 business days", "$75", "1pm".

Only quantities with a unit are found; a bare number ("at least 8 characters", "order
10023") is never a policy claim. Number words are understood ("thirty days", "two weeks").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class Unit(StrEnum):
    DAYS = "days"  # calendar days (weeks and months are converted)
    BUSINESS_DAYS = "business days"
    HOURS = "hours"
    MONEY = "money"
    CLOCK = "time of day"  # minutes after midnight


NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fourteen": 14,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty-five": 45,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "ninety": 90,
}
_WORDS = "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
_NUM = rf"(?:\d+(?:\.\d+)?|{_WORDS})"
_DURATION = re.compile(
    rf"\b(?:between\s+)?(?P<low>{_NUM})"
    rf"(?:\s*(?:-|\u2013|\u2014|to|and|or)\s*(?P<high>{_NUM}))?"
    r"[\s-]+(?P<qualifier>(?:business|working|week|calendar)[\s-]+)?"
    r"(?P<unit>days?|weeks?|months?|hours?|hrs?)\b"
)
_MONEY = re.compile(
    r"(?:\$|\busd\s?)(?P<low>\d[\d,]*(?:\.\d{1,2})?)"
    r"(?:\s*(?:-|\u2013|to)\s*\$?(?P<high>\d[\d,]*(?:\.\d{1,2})?))?"
    r"|\b(?P<low2>\d[\d,]*(?:\.\d{1,2})?)\s*(?:usd|dollars)\b"
)
_CLOCK = re.compile(
    r"\b(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<ampm>[ap]\.m\.|[ap]m\b)"
    r"|\b(?P<h24>[01]?\d|2[0-3]):(?P<m24>[0-5]\d)\b"
    r"|\b(?P<word>noon|midday|midnight)\b"
)
_UNIT_DAYS = {"day": 1, "week": 7, "month": 30}
# "a"/"an" is a number only after words that introduce a duration ("within a day", "takes
# an hour"), not in frequencies ("a few times a month", "once a week").
_ARTICLE_AS_NUMBER = re.compile(
    r"(?:within|in|for|after|than|to|about|under|over|only|just|take|takes|taking|least)\s+$"
)


@dataclass(frozen=True)
class Quantity:
    unit: Unit
    low: Decimal
    high: Decimal  # equal to low for a single value
    text: str  # as written, e.g. "3-5 business days"
    start: int
    end: int
    in_digits: bool  # "30 days" rather than "thirty days" / "a day"


def _value(token: str) -> Decimal:
    return Decimal(NUMBER_WORDS[token]) if token in NUMBER_WORDS else Decimal(token)


def _durations(text: str) -> Iterator[Quantity]:
    for found in _DURATION.finditer(text):
        low_text, high_text = found.group("low"), found.group("high")
        if high_text in ("a", "an"):  # "5 or a ..." is not a range
            continue
        if low_text in ("a", "an") and not _ARTICLE_AS_NUMBER.search(text[: found.start()]):
            continue
        unit_word = found.group("unit").rstrip("s")
        if unit_word in ("hour", "hr"):
            unit, factor = Unit.HOURS, 1
        elif found.group("qualifier") and unit_word == "day":
            qualifier = found.group("qualifier").strip(" -")
            unit = Unit.DAYS if qualifier == "calendar" else Unit.BUSINESS_DAYS
            factor = 1
        else:
            unit, factor = Unit.DAYS, _UNIT_DAYS[unit_word]
        low = _value(low_text) * factor
        high = _value(high_text) * factor if high_text else low
        yield Quantity(
            unit,
            low,
            high,
            found.group(0).strip(),
            found.start(),
            found.end(),
            low_text[0].isdigit(),
        )


def _money(text: str) -> Iterator[Quantity]:
    for found in _MONEY.finditer(text):
        low_text = found.group("low") or found.group("low2")
        high_text = found.group("high")
        low = Decimal(low_text.replace(",", ""))
        high = Decimal(high_text.replace(",", "")) if high_text else low
        yield Quantity(
            Unit.MONEY, low, high, found.group(0).strip(), found.start(), found.end(), True
        )


def _clocks(text: str) -> Iterator[Quantity]:
    for found in _CLOCK.finditer(text):
        if found.group("word"):
            minutes = 0 if found.group("word") == "midnight" else 12 * 60
            in_digits = False
        elif found.group("h24") is not None:
            minutes = int(found.group("h24")) * 60 + int(found.group("m24"))
            in_digits = True
        else:
            hours = int(found.group("h")) % 12
            if found.group("ampm").startswith("p"):
                hours += 12
            minutes = hours * 60 + int(found.group("m") or 0)
            in_digits = True
        value = Decimal(minutes)
        yield Quantity(
            Unit.CLOCK, value, value, found.group(0).strip(), found.start(), found.end(), in_digits
        )


def find_quantities(text: str) -> list[Quantity]:
    """Quantities in lower-cased text, in order; overlapping matches keep the first found."""
    found: list[Quantity] = []
    for quantity in [*_money(text), *_clocks(text), *_durations(text)]:
        if not any(q.start < quantity.end and quantity.start < q.end for q in found):
            found.append(quantity)
    return sorted(found, key=lambda q: q.start)


def describe(unit: Unit, low: Decimal, high: Decimal) -> str:
    """How a value reads in a message: "5-10 business days", "$75.00", "1pm"."""

    def one(value: Decimal) -> str:
        if unit is Unit.MONEY:
            return f"${value:.2f}"
        if unit is Unit.CLOCK:
            hours, minutes = divmod(int(value), 60)
            suffix = "am" if hours < 12 else "pm"
            shown = hours % 12 or 12
            return f"{shown}{suffix}" if minutes == 0 else f"{shown}:{minutes:02d}{suffix}"
        return str(int(value)) if value == value.to_integral_value() else str(value)

    number = one(low) if low == high else f"{one(low)}-{one(high)}"
    if unit in (Unit.MONEY, Unit.CLOCK):
        return number
    words = unit.value[:-1] if low == high == 1 else unit.value  # "1 business day"
    return f"{number} {words}"
