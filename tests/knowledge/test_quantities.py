"""Which quantities a sentence states, in which unit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.knowledge.quantities import Unit, describe, find_quantities

D, B, H, M, C = Unit.DAYS, Unit.BUSINESS_DAYS, Unit.HOURS, Unit.MONEY, Unit.CLOCK


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("returns within 45 days", [(D, "45", "45")]),
        ("a 30-day window", [(D, "30", "30")]),
        ("thirty days", [(D, "30", "30")]),
        ("two weeks", [(D, "14", "14")]),
        ("within a month", [(D, "30", "30")]),
        ("3-5 business days", [(B, "3", "5")]),
        ("5\u201310 working days", [(B, "5", "10")]),
        ("between 5 and 10 business days", [(B, "5", "10")]),
        ("from 7 to 14 business days", [(B, "7", "14")]),
        ("within one business day", [(B, "1", "1")]),
        ("12 hours after payment", [(H, "12", "12")]),
        ("takes an hour", [(H, "1", "1")]),
        ("free over $75 or $5.95", [(M, "75", "75"), (M, "5.95", "5.95")]),
        ("75 dollars", [(M, "75", "75")]),
        ("before 1pm", [(C, "780", "780")]),
        ("9am to 6:30 p.m.", [(C, "540", "540"), (C, "1110", "1110")]),
        ("13:00", [(C, "780", "780")]),
        ("noon", [(C, "720", "720")]),
        # not quantities with a unit
        ("at least 8 characters", []),
        ("order 10023", []),
        ("a few times a month", []),  # a frequency, not a duration
        ("once a week", []),
    ],
)
def test_find_quantities(text: str, expected: list[tuple[Unit, str, str]]) -> None:
    found = [(q.unit, str(q.low), str(q.high)) for q in find_quantities(text)]
    assert found == [(u, str(Decimal(lo)), str(Decimal(hi))) for u, lo, hi in expected]


@pytest.mark.parametrize(
    ("unit", "low", "high", "expected"),
    [
        (B, 5, 10, "5-10 business days"), (B, 1, 1, "1 business day"), (D, 30, 30, "30 days"),
        (M, 75, 75, "$75.00"), (C, 780, 780, "1pm"), (C, 570, 570, "9:30am"),
    ],
)  # fmt: skip
def test_describe(unit: Unit, low: int, high: int, expected: str) -> None:
    assert describe(unit, Decimal(low), Decimal(high)) == expected
