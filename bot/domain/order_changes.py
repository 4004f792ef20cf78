"""Whether an order can still be cancelled or have its shipping address changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.views import OrderView

# Order states in which nothing has left (or is leaving) the warehouse yet.
_OPEN_STATES = frozenset({"processing", "paid"})


class ChangeRefusal(StrEnum):
    ALREADY_CANCELLED = "already_cancelled"
    ALREADY_SHIPPED = "already_shipped"
    PAST_CUTOFF = "past_cutoff"
    CLOSED = "closed"  # returned / refunded


@dataclass(frozen=True)
class ChangeDecision:
    allowed: bool
    refusal: ChangeRefusal | None = None
    #: For address changes: until when the change is possible.
    cutoff: datetime | None = None


def _refusal_for_state(order: OrderView) -> ChangeRefusal | None:
    if order.status == "cancelled":
        return ChangeRefusal.ALREADY_CANCELLED
    if order.status in {"returned", "refunded"}:
        return ChangeRefusal.CLOSED
    if (
        order.status not in _OPEN_STATES
        or order.fulfilment_status != "unfulfilled"
        or order.shipments
    ):
        return ChangeRefusal.ALREADY_SHIPPED
    return None


@dataclass(frozen=True)
class CancellationPolicy:
    """An order can be cancelled while nothing of it is packed or shipped."""

    def decide(self, order: OrderView) -> ChangeDecision:
        refusal = _refusal_for_state(order)
        return ChangeDecision(allowed=refusal is None, refusal=refusal)


@dataclass(frozen=True)
class AddressChangePolicy:
    """The address can change until the warehouse starts packing (the fulfilment cutoff)."""

    cutoff_hours_after_payment: int = 12

    def decide(self, order: OrderView, now: datetime) -> ChangeDecision:
        refusal = _refusal_for_state(order)
        if refusal is not None:
            return ChangeDecision(allowed=False, refusal=refusal)
        if order.paid_at is None:  # not paid yet: the warehouse has not seen it
            return ChangeDecision(allowed=True)
        cutoff = order.paid_at + timedelta(hours=self.cutoff_hours_after_payment)
        if now >= cutoff:
            return ChangeDecision(allowed=False, refusal=ChangeRefusal.PAST_CUTOFF, cutoff=cutoff)
        return ChangeDecision(allowed=True, cutoff=cutoff)
