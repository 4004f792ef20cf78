"""The order-event diff (bot/domain/order_events.py): one table of before/after states."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from bot.domain.order_events import OrderEvent, OrderEventKind, order_events
from bot.domain.views import OrderView, RefundView, ReturnRequestView
from tests.unit.test_order_status import ADDRESS, ORDER, at, refund, shipment

K = OrderEventKind


def returned(rma: str, status: str) -> ReturnRequestView:
    return ReturnRequestView(
        id=1, rma_number=rma, status=status, reason="too_small", condition="unused",
        created_at=at(19), lines=(),
    )  # fmt: skip


def settled(reference: str, status: str) -> RefundView:
    return replace(refund(status), reference=reference, amount=Decimal("10.00"))


SHIPPED = replace(ORDER, status="shipped", shipments=(shipment("in_transit"),))

CASES: list[tuple[str, OrderView | None, OrderView, list[OrderEvent]]] = [
    ("first sight", None, ORDER, [OrderEvent(K.ORDER_SEEN, "", None, "paid")]),
    ("nothing changed", ORDER, ORDER, []),
    (
        "shipped",
        ORDER,
        SHIPPED,
        [
            OrderEvent(K.ORDER_STATUS_CHANGED, "", "paid", "shipped"),
            OrderEvent(K.SHIPMENT_CREATED, "1Z999", None, "in_transit"),
        ],
    ),
    (
        "delayed parcel",
        SHIPPED,
        replace(SHIPPED, shipments=(shipment("delayed"),)),
        [OrderEvent(K.SHIPMENT_STATUS_CHANGED, "1Z999", "in_transit", "delayed")],
    ),
    (
        "parcel withdrawn",
        SHIPPED,
        replace(SHIPPED, shipments=()),
        [OrderEvent(K.SHIPMENT_REMOVED, "1Z999", "in_transit", "removed")],
    ),
    (
        "tracking event only",
        SHIPPED,
        replace(SHIPPED, shipments=(shipment("in_transit", events=()),)),
        [],
    ),
    (
        "refund issued then settled",
        replace(ORDER, refunds=(settled("RF-1", "pending"),)),
        replace(ORDER, refunds=(settled("RF-1", "completed"), settled("RF-2", "pending"))),
        [
            OrderEvent(K.REFUND_STATUS_CHANGED, "RF-1", "pending", "completed"),
            OrderEvent(K.REFUND_CREATED, "RF-2", None, "pending"),
        ],
    ),
    (
        "return opened and decided",
        replace(ORDER, returns=(returned("RMA-1", "requested"),)),
        replace(ORDER, returns=(returned("RMA-1", "approved"), returned("RMA-2", "requested"))),
        [
            OrderEvent(K.RETURN_STATUS_CHANGED, "RMA-1", "requested", "approved"),
            OrderEvent(K.RETURN_OPENED, "RMA-2", None, "requested"),
        ],
    ),
    (
        "address changed",
        ORDER,
        replace(ORDER, shipping_address=replace(ADDRESS, line1="2 Elm St")),
        [OrderEvent(K.ADDRESS_CHANGED, "", None, "changed")],
    ),
    (
        "cancelled",
        ORDER,
        replace(ORDER, status="cancelled", cancelled_at=at(19)),
        [OrderEvent(K.ORDER_STATUS_CHANGED, "", "paid", "cancelled")],
    ),
]


@pytest.mark.parametrize(
    ("before", "after", "expected"), [case[1:] for case in CASES], ids=[c[0] for c in CASES]
)
def test_order_events(
    before: OrderView | None, after: OrderView, expected: list[OrderEvent]
) -> None:
    assert order_events(before, after) == expected
