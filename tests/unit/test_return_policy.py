"""ReturnPolicy.is_eligible, rule by rule."""

from __future__ import annotations

from datetime import date

import pytest

from bot.domain.returns import (
    IneligibleReason,
    ReturnCase,
    ReturnItem,
    ReturnOutcome,
    ReturnPolicy,
)

POLICY = ReturnPolicy(
    window_days=30, vip_window_days=60, non_returnable_categories=frozenset({"intimates"})
)
TODAY = date(2026, 11, 20)
JACKET = ReturnItem("J", "Jacket", "outerwear", returnable=True, final_sale=False)
BRIEFS = ReturnItem("B", "Briefs", "intimates", returnable=False, final_sale=False)
BEANIE = ReturnItem("H", "Beanie", "accessories", returnable=True, final_sale=True)
DONE = ReturnItem("J", "Jacket", "outerwear", returnable=True, final_sale=False,
                  already_requested=True)  # fmt: skip

E, P, N = ReturnOutcome.ELIGIBLE, ReturnOutcome.NEEDS_PERSON, ReturnOutcome.INELIGIBLE


def case(days_ago: int | None, reason: str = "too_small", condition: str = "unused",
         vip: bool = False) -> ReturnCase:  # fmt: skip
    delivered = None if days_ago is None else date.fromordinal(TODAY.toordinal() - days_ago)
    return ReturnCase(delivered, TODAY, vip, reason, condition)


@pytest.mark.parametrize(
    ("item", "return_case", "outcome", "reason"),
    [
        (JACKET, case(5), E, None),
        (JACKET, case(30), E, None),  # the last day still counts
        (JACKET, case(31), N, IneligibleReason.OUTSIDE_WINDOW),
        (JACKET, case(45, vip=True), E, None),  # VIP window
        (JACKET, case(61, vip=True), N, IneligibleReason.OUTSIDE_WINDOW),
        (JACKET, case(None), N, IneligibleReason.NOT_DELIVERED),
        (BRIEFS, case(3), N, IneligibleReason.NON_RETURNABLE_CATEGORY),
        (BEANIE, case(3), N, IneligibleReason.FINAL_SALE),
        (JACKET, case(3, condition="used"), N, IneligibleReason.USED),
        (JACKET, case(3, reason="changed_mind", condition="unopened"), E, None),
        (DONE, case(3), N, IneligibleReason.ALREADY_REQUESTED),
        # The store's fault: always a person, even for final sale or after the window.
        (JACKET, case(3, reason="damaged", condition="damaged"), P, None),
        (BEANIE, case(3, reason="defective"), P, None),
        (BRIEFS, case(3, reason="wrong_item"), P, None),
        (JACKET, case(90, reason="damaged"), P, None),
    ],
)
def test_is_eligible(
    item: ReturnItem,
    return_case: ReturnCase,
    outcome: ReturnOutcome,
    reason: IneligibleReason | None,
) -> None:
    decision = POLICY.is_eligible(item, return_case)
    assert (decision.outcome, decision.reason) == (outcome, reason)


def test_deadline_is_reported() -> None:
    assert POLICY.is_eligible(JACKET, case(10)).deadline == date(2026, 12, 10)
