"""Immutable snapshots of store data handed to the rest of relaydesk.

They carry no ORM state or session, so actions can keep, compare and serialise them freely.
Collections are tuples (frozen all the way down); datetimes are timezone-aware UTC; amounts are
`Decimal`s in the order's currency; statuses are the `StrEnum`s of `bot.domain.vocabulary`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from bot.domain.addresses import one_line
from bot.domain.vocabulary import (
    FulfilmentStatus,
    ItemCondition,
    OrderStatus,
    RefundMethod,
    RefundStatus,
    ReturnReason,
    ReturnStatus,
    ShipmentStatus,
)


@dataclass(frozen=True, slots=True)
class CustomerView:
    id: int
    email: str
    phone: str | None
    first_name: str
    last_name: str
    is_vip: bool
    lifetime_value: Decimal
    created_at: datetime

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True, slots=True)
class AddressView:
    name: str
    line1: str
    line2: str | None
    city: str
    region: str | None
    postal_code: str
    #: ISO 3166-1 alpha-2.
    country: str

    def one_line(self) -> str:
        """'1 Main St, Apt 2, Springfield, IL 62701, US' — for confirmations in chat."""
        return one_line(self)


@dataclass(frozen=True, slots=True)
class OrderLineView:
    id: int
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    category: str
    #: Product-level return policy, copied here so return eligibility needs no second lookup.
    returnable: bool
    final_sale: bool

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity

    @property
    def can_be_returned(self) -> bool:
        return self.returnable and not self.final_sale


@dataclass(frozen=True, slots=True)
class TrackingEventView:
    occurred_at: datetime
    status: ShipmentStatus
    description: str
    location: str | None


@dataclass(frozen=True, slots=True)
class ShipmentView:
    id: int
    carrier: str
    service: str
    tracking_number: str
    tracking_url: str
    status: ShipmentStatus
    shipped_at: datetime | None
    estimated_delivery: date | None
    delivered_at: datetime | None
    #: Oldest first.
    events: tuple[TrackingEventView, ...]

    @property
    def latest_event(self) -> TrackingEventView | None:
        return self.events[-1] if self.events else None


@dataclass(frozen=True, slots=True)
class ReturnLineView:
    order_line_id: int
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class ReturnRequestView:
    id: int
    rma_number: str
    status: ReturnStatus
    reason: ReturnReason
    condition: ItemCondition
    created_at: datetime
    lines: tuple[ReturnLineView, ...]


@dataclass(frozen=True, slots=True)
class RefundView:
    id: int
    reference: str
    amount: Decimal
    currency: str
    method: RefundMethod
    status: RefundStatus
    requested_at: datetime
    completed_at: datetime | None
    #: The return this refund settles, if any.
    rma_number: str | None


@dataclass(frozen=True, slots=True)
class OrderView:
    id: int
    number: str
    status: OrderStatus
    fulfilment_status: FulfilmentStatus
    currency: str
    subtotal: Decimal
    shipping_total: Decimal
    tax_total: Decimal
    total: Decimal
    payment_method: str
    placed_at: datetime
    paid_at: datetime | None
    cancelled_at: datetime | None
    customer: CustomerView
    shipping_address: AddressView
    lines: tuple[OrderLineView, ...]
    shipments: tuple[ShipmentView, ...]
    returns: tuple[ReturnRequestView, ...]
    refunds: tuple[RefundView, ...]

    @property
    def refunded_total(self) -> Decimal:
        """Sum of completed refunds."""
        return sum(
            (refund.amount for refund in self.refunds if refund.status == RefundStatus.COMPLETED),
            Decimal("0.00"),
        )
