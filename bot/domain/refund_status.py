"""Refund status in plain words: state, amount, method, and when the money arrives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.domain.business_days import add_business_days
from bot.domain.order_status import friendly_date
from bot.domain.views import OrderView, RefundView

_METHOD_WORDS = {"original_payment": "your original payment method", "store_credit": "store credit"}
_OPEN_RETURN_STATES = frozenset({"requested", "approved", "received"})


@dataclass(frozen=True)
class RefundTimeline:
    inspection_business_days: int = 2
    business_days_min: int = 5
    business_days_max: int = 10
    store_credit_business_days: int = 1


@dataclass(frozen=True)
class RefundStatusMessage:
    text: str
    offer_human: bool
    offer_return: bool = False


def _money(refund: RefundView) -> str:
    return f"{refund.amount:.2f} {refund.currency}"


class RefundStatusDescriber:
    def __init__(self, timeline: RefundTimeline) -> None:
        self._timeline = timeline

    def describe(self, order: OrderView, today: date) -> RefundStatusMessage:
        if order.refunds:
            sentences = [self._refund_sentence(order, r, today) for r in order.refunds]
            failed = any(r.status == "failed" for r in order.refunds)
            return RefundStatusMessage(" ".join(sentences), offer_human=failed)
        open_returns = [r for r in order.returns if r.status in _OPEN_RETURN_STATES]
        if open_returns:
            rma = open_returns[-1]
            t = self._timeline
            text = (
                f"There's no refund on order #{order.number} yet: your return {rma.rma_number} "
                f"is {rma.status}. Once the parcel reaches our warehouse we inspect it within "
                f"{t.inspection_business_days} business days, then refund to your original "
                f"payment method, which takes {t.business_days_min}-{t.business_days_max} "
                "business days to show on your statement."
            )
            return RefundStatusMessage(text, offer_human=False)
        text = (
            f"There's no refund or return on order #{order.number}. If you'd like your money "
            "back for an item, I can start a return for you."
        )
        return RefundStatusMessage(text, offer_human=False, offer_return=True)

    def _refund_sentence(self, order: OrderView, refund: RefundView, today: date) -> str:
        t = self._timeline
        method = _METHOD_WORDS.get(str(refund.method), str(refund.method).replace("_", " "))
        head = f"A refund of {_money(refund)} on order #{order.number} to {method}"
        if refund.status == "completed":
            when = refund.completed_at.date() if refund.completed_at else None
            done = f" on {friendly_date(when, today)}" if when else ""
            return (
                f"{head} was completed{done}. Banks can take a few days more to show it; "
                "if it isn't there after 5 business days, ask me for a person."
            )
        if refund.status == "failed":
            return (
                f"{head} could not be completed (the payment provider declined it). A member "
                "of our team needs to re-issue it; I can connect you now."
            )
        started = refund.requested_at.date()
        if str(refund.method) == "store_credit":
            latest = add_business_days(started, t.store_credit_business_days)
        else:
            latest = add_business_days(started, t.business_days_max)
        state = "is being processed" if refund.status == "processing" else "has been requested"
        return (
            f"{head} {state} (since {friendly_date(started, today)}). Refunds take "
            f"{t.business_days_min}-{t.business_days_max} business days to arrive, so expect it "
            f"by {friendly_date(latest, today)} at the latest."
            if str(refund.method) != "store_credit"
            else f"{head} {state}; store credit appears in your account by "
            f"{friendly_date(latest, today)}."
        )
