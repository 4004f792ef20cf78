"""docs/store.md stays in step with the demo store and the export schema."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bot.store.export_validation import export_schema

DOCS = Path(__file__).resolve().parents[2] / "docs" / "store.md"


def documented_orders() -> dict[str, tuple[str, str]]:
    """Order number -> (customer name, status cell) from the demo orders table."""
    rows = re.findall(r"^\| (\d{5}) \| ([^|]+) \| ([^|]+) \|", DOCS.read_text(), re.MULTILINE)
    return {number: (customer.strip(), status.strip()) for number, customer, status in rows}


def test_every_demo_order_is_in_the_docs_table_with_its_customer_and_status(
    demo_export: dict[str, Any],
) -> None:
    names = {c["email"]: f"{c['first_name']} {c['last_name']}" for c in demo_export["customers"]}
    documented = documented_orders()

    assert set(documented) == {order["number"] for order in demo_export["orders"]}
    for order in demo_export["orders"]:
        customer, status = documented[order["number"]]
        assert customer == names[order["customer"]], order["number"]
        assert status.startswith(f"{order['status']} /"), order["number"]


def test_every_export_field_is_documented() -> None:
    text = DOCS.read_text()
    missing = sorted({name for name in property_names(export_schema()) if f"`{name}`" not in text})

    assert missing == []


def property_names(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        for name, value in schema.get("properties", {}).items():
            yield name
            yield from property_names(value)
        for key, value in schema.items():
            if key != "properties":
                yield from property_names(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from property_names(item)
