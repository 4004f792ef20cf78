"""Reading the shopper's return answers (item, reason, condition) and deciding eligibility."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from rasa_sdk import Tracker

from actions.services import Services
from bot.domain.returns import ReturnCase, ReturnDecision, ReturnItem
from bot.domain.views import OrderLineView, OrderView

# Words shoppers use → the store's return reasons / item conditions. Order matters: the first
# matching pattern wins, so specific phrases come before general ones.
_REASON_PATTERNS: list[tuple[str, str]] = [
    (r"wrong (item|size sent|colou?r|product)|not what i ordered|sent me the wrong", "wrong_item"),
    (r"too (small|tight|short)|runs small|smaller", "too_small"),
    (r"too (big|large|loose|long)|runs (big|large)|bigger", "too_large"),
    (r"\b(damaged|broken|torn|ripped|crushed|dented|stain)", "damaged"),
    (r"defect|faulty|doesn'?t work|stopped working|fell apart|zip(per)? broke", "defective"),
    (r"not as (described|pictured)|looks different|different from the (photo|picture)",
     "not_as_described"),
    (r"changed my mind|don'?t (want|need|like)|no longer|not needed", "changed_mind"),
    (r"\b(size|fit)\b", "too_small"),
    (r"other|something else", "other"),
]  # fmt: skip
_CONDITION_PATTERNS: list[tuple[str, str]] = [
    (r"unopened|sealed|never opened|still in (the )?(box|bag|packag)", "unopened"),
    (r"damaged|broken|torn", "damaged"),
    (r"not (been )?(used|worn)|unused|unworn|tried (it )?on|tags? (still )?on|brand new|like new",
     "unused"),
    (r"\b(used|worn|washed)\b", "used"),
]  # fmt: skip
REASONS = frozenset(value for _, value in _REASON_PATTERNS)
CONDITIONS = frozenset(value for _, value in _CONDITION_PATTERNS)
REASON_WORDS = {
    "too_small": "too small", "too_large": "too big", "damaged": "arrived damaged",
    "defective": "faulty", "wrong_item": "wrong item sent", "changed_mind": "changed my mind",
    "not_as_described": "not as described", "other": "other",
}  # fmt: skip
CONDITION_WORDS = {
    "unopened": "unopened", "unused": "opened, not used", "used": "worn or used",
    "damaged": "damaged",
}  # fmt: skip


def _match(text: str, patterns: list[tuple[str, str]], known: frozenset[str]) -> str | None:
    cleaned = text.strip().lower()
    if cleaned in known:
        return cleaned
    for pattern, value in patterns:
        if re.search(pattern, cleaned):
            return value
    return None


def parse_reason(text: str | None) -> str | None:
    return _match(text, _REASON_PATTERNS, REASONS) if text else None


def parse_condition(text: str | None) -> str | None:
    return _match(text, _CONDITION_PATTERNS, CONDITIONS) if text else None


def find_line(order: OrderView, value: str | None) -> OrderLineView | None:
    """A button sends the line id; typed text matches the product name ("the boots")."""
    if not value:
        return None
    text = value.strip().lower()
    for line in order.lines:
        if text == str(line.id) or text == line.sku.lower():
            return line
    words = {w for w in re.findall(r"[a-z]+", text) if len(w) > 2} - {"the", "one", "and"}
    scored = [
        (len(words & set(re.findall(r"[a-z]+", line.name.lower()))), line) for line in order.lines
    ]
    scored = [(score, line) for score, line in scored if score > 0]
    if not scored:
        return None
    best = max(score for score, _ in scored)
    winners = [line for score, line in scored if score == best]
    return winners[0] if len(winners) == 1 else None


def delivered_on(order: OrderView) -> date | None:
    days = [s.delivered_at.date() for s in order.shipments if s.delivered_at is not None]
    return max(days) if days else None


@dataclass(frozen=True)
class ReturnAnswers:
    line: OrderLineView
    reason: str
    condition: str


def answers(tracker: Tracker, order: OrderView) -> ReturnAnswers | None:
    line = find_line(order, tracker.get_slot("return_item"))
    reason, condition = tracker.get_slot("return_reason"), tracker.get_slot("return_condition")
    if line is None or not reason or not condition:
        return None
    return ReturnAnswers(line, reason, condition)


def decide(services: Services, order: OrderView, given: ReturnAnswers) -> ReturnDecision:
    already = any(
        rl.order_line_id == given.line.id
        for r in order.returns
        if r.status != "rejected"
        for rl in r.lines
    )
    item = ReturnItem(
        sku=given.line.sku,
        name=given.line.name,
        category=given.line.category,
        returnable=given.line.returnable,
        final_sale=given.line.final_sale,
        already_requested=already,
    )
    case = ReturnCase(
        delivered_on=delivered_on(order),
        today=services.today(),
        is_vip=order.customer.is_vip,
        reason=given.reason,
        condition=given.condition,
    )
    return services.return_policy.is_eligible(item, case)


def return_summary(
    services: Services, tracker: Tracker, order: OrderView
) -> tuple[str, dict[str, Any]]:
    """The response confirming the return (domain/selfservice.yml) and the values it shows."""
    given = answers(tracker, order)
    if given is None:
        return "utter_ask_confirm_return_unanswered", {"order_number": order.number}
    policy = services.store_policy
    refund = given.line.unit_price * given.line.quantity
    return "utter_ask_confirm_return", {
        "order_number": order.number,
        "quantity": given.line.quantity,
        "item": given.line.name,
        "reason": REASON_WORDS.get(given.reason, given.reason),
        "condition": CONDITION_WORDS.get(given.condition, given.condition),
        "refund_amount": f"{refund:.2f} {order.currency}",
        "refund_days": f"{policy.refund_business_days_min}-{policy.refund_business_days_max}",
    }


def attachments_of(tracker: Tracker) -> list[dict[str, Any]]:
    """Files the channel attached to the latest message (metadata["attachments"])."""
    metadata = tracker.latest_message.get("metadata") or {}
    found = metadata.get("attachments") or []
    return [a for a in found if isinstance(a, dict) and a.get("url")]
