"""Return eligibility: one `ReturnPolicy` decides, over plain data, for every channel and flow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

# Problems that are the store's fault: the shopper is never told "outside policy" for these;
# a person looks at the photo and decides on a replacement or refund.
STORE_FAULT_REASONS = frozenset({"damaged", "defective", "wrong_item", "not_as_described"})
# Reasons where the item must come back as new to be resold.
RESALE_REASONS = frozenset({"too_small", "too_large", "changed_mind", "other"})


class ReturnOutcome(StrEnum):
    ELIGIBLE = "eligible"
    NEEDS_PERSON = "needs_person"  # store's fault: photo, then a person decides
    INELIGIBLE = "ineligible"


class IneligibleReason(StrEnum):
    NOT_DELIVERED = "not_delivered"
    OUTSIDE_WINDOW = "outside_window"
    NON_RETURNABLE_CATEGORY = "non_returnable_category"
    FINAL_SALE = "final_sale"
    ALREADY_REQUESTED = "already_requested"
    USED = "used"


@dataclass(frozen=True)
class ReturnItem:
    sku: str
    name: str
    category: str
    returnable: bool
    final_sale: bool
    already_requested: bool = False


@dataclass(frozen=True)
class ReturnCase:
    delivered_on: date | None
    today: date
    is_vip: bool
    reason: str
    condition: str


@dataclass(frozen=True)
class ReturnDecision:
    outcome: ReturnOutcome
    reason: IneligibleReason | None = None
    #: Last day the item may be returned (when known), for honest messages.
    deadline: date | None = None

    @property
    def eligible(self) -> bool:
        return self.outcome is ReturnOutcome.ELIGIBLE


@dataclass(frozen=True)
class ReturnPolicy:
    window_days: int = 30
    vip_window_days: int = 60
    non_returnable_categories: frozenset[str] = frozenset()
    final_sale_returnable: bool = False

    def window_for(self, is_vip: bool) -> int:
        return max(self.window_days, self.vip_window_days) if is_vip else self.window_days

    def is_eligible(self, item: ReturnItem, case: ReturnCase) -> ReturnDecision:
        if item.already_requested:
            return ReturnDecision(ReturnOutcome.INELIGIBLE, IneligibleReason.ALREADY_REQUESTED)
        if case.delivered_on is None:
            return ReturnDecision(ReturnOutcome.INELIGIBLE, IneligibleReason.NOT_DELIVERED)
        deadline = date.fromordinal(case.delivered_on.toordinal() + self.window_for(case.is_vip))
        if case.reason in STORE_FAULT_REASONS:
            return ReturnDecision(ReturnOutcome.NEEDS_PERSON, deadline=deadline)
        if case.today > deadline:
            return ReturnDecision(
                ReturnOutcome.INELIGIBLE, IneligibleReason.OUTSIDE_WINDOW, deadline
            )
        if not item.returnable or item.category in self.non_returnable_categories:
            return ReturnDecision(
                ReturnOutcome.INELIGIBLE, IneligibleReason.NON_RETURNABLE_CATEGORY, deadline
            )
        if item.final_sale and not self.final_sale_returnable:
            return ReturnDecision(ReturnOutcome.INELIGIBLE, IneligibleReason.FINAL_SALE, deadline)
        if case.reason in RESALE_REASONS and case.condition in {"used", "damaged"}:
            return ReturnDecision(ReturnOutcome.INELIGIBLE, IneligibleReason.USED, deadline)
        return ReturnDecision(ReturnOutcome.ELIGIBLE, deadline=deadline)
