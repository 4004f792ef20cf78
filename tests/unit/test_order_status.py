"""OrderStatusDescriber: every order state reads right, with no database involved."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from bot.domain.order_status import OrderStatusDescriber, friendly_date
from bot.domain.views import (
    AddressView,
    CustomerView,
    OrderView,
    RefundView,
    ShipmentView,
    TrackingEventView,
)

TODAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 9, tzinfo=UTC)


def at(day: int) -> datetime:
    return datetime(2026, 11, day, 10, tzinfo=UTC)


CUSTOMER = CustomerView(
    id=1, email="ava@example.com", phone=None, first_name="Ava", last_name="Martin",
    is_vip=False, lifetime_value=Decimal("120.00"), created_at=at(1),
)  # fmt: skip
ADDRESS = AddressView("Ava Martin", "1 Main St", None, "Springfield", "IL", "62701", "US")
ORDER = OrderView(
    id=1, number="10023", status="paid", fulfilment_status="unfulfilled", currency="USD",
    subtotal=Decimal("50"), shipping_total=Decimal("5"), tax_total=Decimal("0"),
    total=Decimal("55"), payment_method="card", placed_at=at(18), paid_at=at(18),
    cancelled_at=None, customer=CUSTOMER, shipping_address=ADDRESS, lines=(), shipments=(),
    returns=(), refunds=(),
)  # fmt: skip


def shipment(status: str, **changes: object) -> ShipmentView:
    base = ShipmentView(
        id=1, carrier="UPS", service="Ground", tracking_number="1Z999",
        tracking_url="https://ups.example/track/1Z999", status=status, shipped_at=at(18),
        estimated_delivery=date(2026, 11, 22), delivered_at=None,
        events=(TrackingEventView(at(18), "in_transit", "Departed facility", "Oakland, CA"),),
    )  # fmt: skip
    return replace(base, **changes)


def refund(status: str) -> RefundView:
    return RefundView(
        id=1, reference="RF-1", amount=Decimal("55.00"), currency="USD",
        method="original_payment", status=status, requested_at=at(19), completed_at=None,
        rma_number=None,
    )  # fmt: skip


WEATHER = (TrackingEventView(at(19), "delayed", "Delayed by severe weather", "Denver, CO"),)

CASES = [
    # (order, expected fragments, offer_human)
    (ORDER, ["#10023", "is paid and being prepared", "hasn't shipped yet", "tracking link"], False),
    (
        replace(ORDER, status="shipped", shipments=(shipment("in_transit"),)),
        ["on its way with UPS", "1Z999", "https://ups.example/track/1Z999", "in 2 days",
         "Departed facility (Oakland, CA)"],
        False,
    ),
    (
        replace(ORDER, status="out_for_delivery", shipments=(shipment("out_for_delivery"),)),
        ["out for delivery today with UPS"],
        False,
    ),
    (
        replace(ORDER, status="delivered",
                shipments=(shipment("delivered", delivered_at=at(19)),)),
        ["delivered yesterday", "can't find it"],
        False,
    ),
    (
        replace(ORDER, status="shipped",
                shipments=(shipment("delayed", events=WEATHER, estimated_delivery=None),)),
        ["sorry", "delayed", "severe weather", "not given a new delivery date", "person"],
        True,
    ),
    (
        replace(ORDER, status="shipped", shipments=(shipment("lost"),)),
        ["sorry", "problem in transit", "replacement"],
        True,
    ),
    (
        replace(ORDER, status="shipped", shipments=(shipment("label_created", events=()),)),
        ["label has been created", "hasn't scanned it yet"],
        False,
    ),
    (
        replace(ORDER, status="cancelled", cancelled_at=at(19), refunds=(refund("pending"),)),
        ["was cancelled", "yesterday", "55.00 USD", "original payment", "5-10 business days"],
        False,
    ),
    (
        replace(ORDER, status="refunded", refunds=(refund("completed"),)),
        ["was refunded", "has been completed"],
        False,
    ),
    (
        replace(ORDER, status="shipped", fulfilment_status="partially_fulfilled",
                shipments=(shipment("in_transit"),)),
        ["ship separately"],
        False,
    ),
]  # fmt: skip


@pytest.mark.parametrize(("order", "fragments", "offer_human"), CASES)
def test_describe(order: OrderView, fragments: list[str], offer_human: bool) -> None:
    message = OrderStatusDescriber().describe(order, TODAY)
    for fragment in fragments:
        assert fragment in message.text
    assert message.offer_human is offer_human


def test_status_never_mentions_personal_details() -> None:
    text = OrderStatusDescriber().describe(ORDER, TODAY).text
    assert "Ava" not in text and "Main St" not in text and "ava@" not in text


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 11, 20), "today (Friday, November 20)"),
        (date(2026, 11, 21), "tomorrow (Saturday, November 21)"),
        (date(2026, 11, 19), "yesterday (Thursday, November 19)"),
        (date(2026, 11, 23), "Monday, November 23 (in 3 days)"),
        (date(2026, 12, 31), "Thursday, December 31"),
        (date(2026, 11, 1), "Sunday, November 1"),
    ],
)
def test_friendly_date(day: date, expected: str) -> None:
    assert friendly_date(day, TODAY) == expected
