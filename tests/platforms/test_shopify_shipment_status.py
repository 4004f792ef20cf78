"""Shopify's fulfilment and tracking statuses on relaydesk's ShipmentStatus
(bot/platforms/shopify/shipment_status.py). Every FulfillmentEventStatus value in
../shared/fixtures/shopify/enums.json must be in the table: a value Shopify adds fails here."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from bot.domain import order_status
from bot.domain.vocabulary import ShipmentStatus
from bot.platforms.shopify.shipment_status import (
    DEFAULT_STATUS,
    FULFILMENT_STATUSES,
    TRACKING_STATUSES,
    shipment_status_for,
    tracking_status,
)
from handoff.domain import escalation

ENUMS = (
    Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "shopify" / "enums.json"
)


def _enum_values(name: str) -> list[str]:
    enums: dict[str, Any] = json.loads(ENUMS.read_text(encoding="utf-8"))
    values = enums[name]["values"]
    return sorted(values)  # a list, or a dict of value → description


#: Values the version notes name but the latest value list does not (unstable, older pages).
EXTRA_DOCUMENTED = ["PICKED_UP"]


@pytest.mark.parametrize("value", [*_enum_values("FulfillmentEventStatus"), *EXTRA_DOCUMENTED])
def test_every_graphql_value_is_mapped_in_both_spellings(value: str) -> None:
    assert value.lower() in TRACKING_STATUSES, f"Shopify's {value} is not in TRACKING_STATUSES"
    assert (
        tracking_status(value) == tracking_status(value.lower()) == TRACKING_STATUSES[value.lower()]
    )


@pytest.mark.parametrize(
    ("fulfilment", "tracking", "expected"),
    [
        # The carrier's status decides while the fulfilment stands.
        ("success", "label_printed", ShipmentStatus.LABEL_CREATED),
        ("success", "label_purchased", ShipmentStatus.LABEL_CREATED),
        ("success", "confirmed", ShipmentStatus.LABEL_CREATED),
        ("success", "carrier_picked_up", ShipmentStatus.IN_TRANSIT),
        ("success", "in_transit", ShipmentStatus.IN_TRANSIT),
        ("success", "ready_for_pickup", ShipmentStatus.IN_TRANSIT),
        ("success", "out_for_delivery", ShipmentStatus.OUT_FOR_DELIVERY),
        ("success", "delivered", ShipmentStatus.DELIVERED),
        ("success", "picked_up", ShipmentStatus.DELIVERED),
        ("success", "fulfillment_not_required", ShipmentStatus.DELIVERED),
        ("success", "delayed", ShipmentStatus.DELAYED),
        ("success", "attempted_delivery", ShipmentStatus.EXCEPTION),
        ("success", "failure", ShipmentStatus.EXCEPTION),
        ("open", "IN_TRANSIT", ShipmentStatus.IN_TRANSIT),
        ("pending", "DELAYED", ShipmentStatus.DELAYED),
        (" Success ", " Delivered ", ShipmentStatus.DELIVERED),
        # No tracking status (the fulfillments/update sample): the fulfilment's own.
        ("pending", None, ShipmentStatus.LABEL_CREATED),
        ("open", None, ShipmentStatus.LABEL_CREATED),
        ("success", None, ShipmentStatus.IN_TRANSIT),
        ("success", "", ShipmentStatus.IN_TRANSIT),
        (None, None, DEFAULT_STATUS),
        # A cancelled or failed fulfilment overrides the last scan.
        ("cancelled", "in_transit", None),
        ("cancelled", None, None),
        ("error", "delivered", ShipmentStatus.EXCEPTION),
        ("failure", None, ShipmentStatus.EXCEPTION),
        ("ERROR", None, ShipmentStatus.EXCEPTION),
    ],
)
def test_shipment_status_for(
    fulfilment: str | None, tracking: str | None, expected: ShipmentStatus | None
) -> None:
    assert shipment_status_for(fulfilment, tracking) == expected


def test_every_fulfilment_status_is_mapped() -> None:
    assert set(FULFILMENT_STATUSES) == {
        "pending",
        "open",
        "success",
        "cancelled",
        "error",
        "failure",
    }


@pytest.mark.parametrize("value", ["delayed", "failure", "attempted_delivery"])
def test_delays_and_failures_land_on_the_states_answers_and_escalation_treat_as_problems(
    value: str,
) -> None:
    status = shipment_status_for("success", value)
    assert status in order_status.PROBLEM_SHIPMENT_STATES
    assert status in escalation.PROBLEM_SHIPMENT_STATES


def test_only_problem_values_land_on_problem_states() -> None:
    problems = {
        value
        for value, status in TRACKING_STATUSES.items()
        if status in order_status.PROBLEM_SHIPMENT_STATES
    }
    assert problems == {"delayed", "failure", "attempted_delivery"}


@pytest.mark.parametrize(
    ("fulfilment", "tracking", "expected"),
    [
        ("success", "returning_to_sender", ShipmentStatus.IN_TRANSIT),
        ("pending", "BUYER_ACTION_REQUIRED", ShipmentStatus.LABEL_CREATED),
        ("on_hold", None, DEFAULT_STATUS),
    ],
)
def test_unknown_values_fall_back_safely_with_a_warning(
    fulfilment: str,
    tracking: str | None,
    expected: ShipmentStatus,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.platforms.shopify.shipment_status"):
        assert shipment_status_for(fulfilment, tracking) == expected
    assert any("unknown Shopify" in record.getMessage() for record in caplog.records)
    assert expected not in order_status.PROBLEM_SHIPMENT_STATES | {ShipmentStatus.DELIVERED}


def test_known_values_log_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        for value in TRACKING_STATUSES:
            shipment_status_for("success", value)
    assert not caplog.records
