"""Cancellation and address-change decisions, and reading a typed address."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.domain.addresses import ParsedAddress, parse_address
from bot.domain.order_changes import AddressChangePolicy, CancellationPolicy, ChangeRefusal
from tests.unit.test_order_status import ORDER, shipment

PAID = replace(ORDER, paid_at=datetime(2026, 11, 20, 8, tzinfo=UTC))


@pytest.mark.parametrize(
    ("order", "allowed", "refusal"),
    [
        (PAID, True, None),
        (replace(PAID, status="processing", paid_at=None), True, None),
        (replace(PAID, status="shipped", fulfilment_status="fulfilled",
                 shipments=(shipment("in_transit"),)), False, ChangeRefusal.ALREADY_SHIPPED),
        (replace(PAID, fulfilment_status="partially_fulfilled"), False,
         ChangeRefusal.ALREADY_SHIPPED),
        (replace(PAID, status="cancelled"), False, ChangeRefusal.ALREADY_CANCELLED),
        (replace(PAID, status="refunded"), False, ChangeRefusal.CLOSED),
    ],
)  # fmt: skip
def test_cancellation(order: object, allowed: bool, refusal: ChangeRefusal | None) -> None:
    decision = CancellationPolicy().decide(order)  # type: ignore[arg-type]
    assert (decision.allowed, decision.refusal) == (allowed, refusal)


@pytest.mark.parametrize(
    ("hour", "allowed"), [(9, True), (19, True), (20, False), (23, False)]
)  # paid at 08:00, cutoff 12 h later
def test_address_change_cutoff(hour: int, allowed: bool) -> None:
    now = datetime(2026, 11, 20, hour, tzinfo=UTC)
    decision = AddressChangePolicy(cutoff_hours_after_payment=12).decide(PAID, now)
    assert decision.allowed is allowed
    assert decision.cutoff == datetime(2026, 11, 20, 20, tzinfo=UTC)
    if not allowed:
        assert decision.refusal is ChangeRefusal.PAST_CUTOFF


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("221 Pine St, Apt 4, Portland, OR 97205",
         ParsedAddress("221 Pine St", "Apt 4", "Portland", "OR", "97205", "US")),
        ("221 Pine St, Portland, or 97205-1234, USA",
         ParsedAddress("221 Pine St", None, "Portland", "OR", "97205-1234", "US")),
        ("1 King St W\nToronto\nON M5H 1A1\nCA",
         ParsedAddress("1 King St W", None, "Toronto", "ON", "M5H 1A1", "CA")),
        ("Pine Street, Portland, OR 97205", None),  # no house number
        ("221 Pine St Portland OR", None),  # no postal code, no commas
        ("just send it to my office", None),
        ("", None),
    ],
)  # fmt: skip
def test_parse_address(text: str, expected: ParsedAddress | None) -> None:
    assert parse_address(text) == expected
