"""Validation of store exports: every problem is reported, each naming the record it is about."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

import pytest
from jsonschema import Draft7Validator

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
from bot.store.database import Database
from bot.store.errors import StoreExportError
from bot.store.export_validation import MONEY_PATTERN, export_schema, validate_export
from bot.store.seed import load_export

Export = dict[str, Any]


def order_at(export: Export, number: str) -> tuple[int, dict[str, Any]]:
    for index, order in enumerate(export["orders"]):
        if order["number"] == number:
            return index, order
    raise AssertionError(f"demo store has no order {number}")


def label(export: Export, number: str) -> str:
    index, _ = order_at(export, number)
    return f"orders[{index}] (number {number})"


# Each case breaks the demo export in one way and returns the one problem it expects.
def missing_carrier(export: Export) -> str:
    del order_at(export, "10023")[1]["shipments"][0]["carrier"]
    return f"{label(export, '10023')}: shipments[0]: 'carrier' is a required property"


def unknown_customer(export: Export) -> str:
    order_at(export, "10028")[1]["customer"] = "x@example.com"
    return f"{label(export, '10028')}: customer 'x@example.com' is not in customers"


def unknown_sku(export: Export) -> str:
    order_at(export, "10024")[1]["lines"][1]["sku"] = "NW-NOPE"
    return f"{label(export, '10024')}: lines[1]: sku 'NW-NOPE' is not in products"


def unknown_shipment_status(export: Export) -> str:
    order_at(export, "10040")[1]["shipments"][0]["status"] = "teleported"
    allowed = [status.value for status in ShipmentStatus]
    return f"{label(export, '10040')}: shipments[0].status: 'teleported' is not one of {allowed}"


def unexpected_field(export: Export) -> str:
    shipment = order_at(export, "10031")[1]["shipments"][0]
    shipment["carier"] = shipment["carrier"]
    return (
        f"{label(export, '10031')}: shipments[0]: "
        "Additional properties are not allowed ('carier' was unexpected)"
    )


def amount_without_cents(export: Export) -> str:
    order_at(export, "10024")[1]["shipping_total"] = 7.95
    return f"{label(export, '10024')}: shipping_total: 7.95 is not of type 'string'"


def amount_with_one_decimal(export: Export) -> str:
    order_at(export, "10024")[1]["tax_total"] = "8.0"
    return (
        f"{label(export, '10024')}: tax_total: '8.0' is not an amount with exactly two "
        'decimals as a string, e.g. "49.00"'
    )


def naive_datetime(export: Export) -> str:
    order_at(export, "10023")[1]["placed_at"] = "2026-11-16T18:36:00"
    return (
        f"{label(export, '10023')}: placed_at: '2026-11-16T18:36:00' is not an ISO 8601 "
        'date-time with a UTC offset, e.g. "2026-11-18T14:05:00Z"'
    )


def impossible_date(export: Export) -> str:
    order_at(export, "10023")[1]["shipments"][0]["estimated_delivery"] = "2026-11-31"
    return (
        f"{label(export, '10023')}: shipments[0].estimated_delivery: '2026-11-31' is not an "
        'ISO 8601 date, e.g. "2026-11-20"'
    )


def national_phone(export: Export) -> str:
    export["customers"][1]["phone"] = "(415) 555-0124"
    return (
        "customers[1] (email liam.chen@example.com): phone: '(415) 555-0124' is not a phone "
        'number in E.164 form, e.g. "+14155550123"'
    )


def order_number_with_letters(export: Export) -> str:
    index, order = order_at(export, "10024")
    order["number"] = "A10024"
    return (
        f"orders[{index}] (number A10024): number: 'A10024' is not an order number of digits "
        'only, e.g. "10023"'
    )


def plain_http_tracking_url(export: Export) -> str:
    shipment = order_at(export, "10023")[1]["shipments"][0]
    shipment["tracking_url"] = shipment["tracking_url"].replace("https://", "http://")
    return (
        f"{label(export, '10023')}: shipments[0].tracking_url: "
        f"{shipment['tracking_url']!r} is not an https:// URL"
    )


def duplicate_email_in_other_case(export: Export) -> str:
    copy = dict(export["customers"][0], email="AVA.MARTIN@example.com", phone=None)
    export["customers"].append(copy)
    index = len(export["customers"]) - 1
    return (
        f"customers[{index}] (email AVA.MARTIN@example.com): email 'AVA.MARTIN@example.com' "
        "duplicates customers[0] (email ava.martin@example.com)"
    )


def duplicate_sku(export: Export) -> str:
    export["products"].append(dict(export["products"][0]))
    index, sku = len(export["products"]) - 1, export["products"][0]["sku"]
    return f"products[{index}] (sku {sku}): sku {sku!r} duplicates products[0] (sku {sku})"


def duplicate_order_number(export: Export) -> str:
    order_at(export, "10030")[1]["number"] = "10031"
    first, second = (i for i, order in enumerate(export["orders"]) if order["number"] == "10031")
    return (
        f"orders[{second}] (number 10031): number '10031' duplicates orders[{first}] (number 10031)"
    )


def duplicate_tracking_number(export: Export) -> str:
    # Twice on one order (on two orders it is a shared box, which is allowed).
    index, order = order_at(export, "10023")
    order["shipments"].append(dict(order["shipments"][0]))
    return (
        f"orders[{index}] (number 10023): shipments[1]: tracking number "
        f"'1Z999AA10123456784' duplicates orders[{index}] (number 10023) shipments[0]"
    )


def return_of_an_item_not_ordered(export: Export) -> str:
    order_at(export, "10021")[1]["returns"][0]["lines"][0]["sku"] = "NW-GC-050"
    return (
        f"{label(export, '10021')}: returns[0].lines[0]: sku 'NW-GC-050' is not on this "
        "order's lines"
    )


def return_of_more_than_ordered(export: Export) -> str:
    order_at(export, "10021")[1]["returns"][0]["lines"][0]["quantity"] = 3
    return (
        f"{label(export, '10021')}: returns[0].lines[0]: returns 3 of sku 'NW-PNT-TRAIL-32' "
        "in all but only 1 were ordered"
    )


def refund_for_an_unknown_return(export: Export) -> str:
    order_at(export, "10018")[1]["refunds"][0]["return_rma"] = "RMA-99999-1"
    return (
        f"{label(export, '10018')}: refunds[0]: return_rma 'RMA-99999-1' is not one of this "
        "order's returns"
    )


def refunds_above_the_total(export: Export) -> str:
    _, order = order_at(export, "10019")
    order["refunds"][0]["amount"] = "999.00"
    total = order["total"]
    return f"{label(export, '10019')}: refunds add up to 999.00, more than the total {total}"


def total_that_does_not_add_up(export: Export) -> str:
    order_at(export, "10023")[1]["total"] = "231.38"
    return (
        f"{label(export, '10023')}: total 231.38 is not subtotal + shipping_total + tax_total "
        "(231.37)"
    )


def subtotal_that_is_not_the_lines(export: Export) -> str:
    _, order = order_at(export, "10024")
    order["lines"][0]["unit_price"] = "80.00"
    return f"{label(export, '10024')}: subtotal 93.00 is not the sum of its lines (94.00)"


def cancelled_without_a_date(export: Export) -> str:
    del order_at(export, "10016")[1]["cancelled_at"]
    return f"{label(export, '10016')}: cancelled_at must be set exactly when status is 'cancelled'"


def shipped_but_never_paid(export: Export) -> str:
    del order_at(export, "10023")[1]["paid_at"]
    return f"{label(export, '10023')}: paid_at is required when status is 'shipped'"


def delivered_without_a_time(export: Export) -> str:
    order_at(export, "10031")[1]["shipments"][0]["delivered_at"] = None
    return (
        f"{label(export, '10031')}: shipments[0]: delivered_at must be set exactly when status "
        "is 'delivered'"
    )


def status_behind_its_events(export: Export) -> str:
    order_at(export, "10040")[1]["shipments"][0]["status"] = "in_transit"
    return (
        f"{label(export, '10040')}: shipments[0]: status 'in_transit' differs from its latest "
        "event's status 'delayed' (events[3])"
    )


def missing_reference_date(export: Export) -> str:
    del export["reference_date"]
    return "export: 'reference_date' is a required property"


def bad_reference_date(export: Export) -> str:
    export["reference_date"] = "20 Nov 2026"
    return "reference_date: '20 Nov 2026' is not an ISO 8601 date, e.g. \"2026-11-20\""


CASES: list[Callable[[Export], str]] = [
    missing_carrier,
    unknown_customer,
    unknown_sku,
    unknown_shipment_status,
    unexpected_field,
    amount_without_cents,
    amount_with_one_decimal,
    naive_datetime,
    impossible_date,
    national_phone,
    order_number_with_letters,
    plain_http_tracking_url,
    duplicate_email_in_other_case,
    duplicate_sku,
    duplicate_order_number,
    duplicate_tracking_number,
    return_of_an_item_not_ordered,
    return_of_more_than_ordered,
    refund_for_an_unknown_return,
    refunds_above_the_total,
    total_that_does_not_add_up,
    subtotal_that_is_not_the_lines,
    cancelled_without_a_date,
    shipped_but_never_paid,
    delivered_without_a_time,
    status_behind_its_events,
    missing_reference_date,
    bad_reference_date,
]


def test_the_demo_store_is_a_valid_export(demo_export: Export) -> None:
    assert validate_export(demo_export) == []


@pytest.mark.parametrize("break_export", CASES, ids=[case.__name__ for case in CASES])
def test_each_problem_names_the_record(
    demo_export: Export, break_export: Callable[[Export], str]
) -> None:
    expected = break_export(demo_export)

    assert validate_export(demo_export) == [expected]


def test_every_problem_is_reported_not_just_the_first(demo_export: Export) -> None:
    expected = [case(demo_export) for case in (missing_carrier, unknown_customer, unknown_sku)]

    with pytest.raises(StoreExportError) as caught:
        load_export(demo_export, Database("sqlite:///:memory:"))

    assert sorted(caught.value.problems) == sorted(expected)
    message = str(caught.value)
    assert message.startswith("store export has 3 problems:")
    assert all(problem in message for problem in expected)


def test_an_export_that_is_not_an_object_is_reported() -> None:
    assert validate_export([]) == ["export: [] is not of type 'object'"]


def test_the_schema_is_valid_draft_7() -> None:
    Draft7Validator.check_schema(export_schema())


def test_the_rules_read_money_exactly_as_the_schema_does() -> None:
    assert MONEY_PATTERN.pattern == export_schema()["definitions"]["money"]["pattern"]


@pytest.mark.parametrize(
    ("pointer", "vocabulary"),
    [
        ("order/properties/status", OrderStatus),
        ("order/properties/fulfilment_status", FulfilmentStatus),
        ("shipment_status", ShipmentStatus),
        ("return_request/properties/status", ReturnStatus),
        ("return_request/properties/reason", ReturnReason),
        ("return_request/properties/condition", ItemCondition),
        ("refund/properties/status", RefundStatus),
        ("refund/properties/method", RefundMethod),
    ],
)
def test_schema_vocabularies_match_the_python_enums(
    pointer: str, vocabulary: type[StrEnum]
) -> None:
    node: Any = export_schema()["definitions"]
    for key in pointer.split("/"):
        node = node[key]

    assert node["enum"] == [member.value for member in vocabulary]
