"""Loading store exports: the demo store, re-runs, date rebasing, all-or-nothing writes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.store.database import Database
from bot.store.errors import StoreExportError
from bot.store.models import (
    Customer,
    Order,
    OrderLine,
    Product,
    Refund,
    ReturnLine,
    ReturnRequest,
    Shipment,
    TrackingEvent,
)
from bot.store.repository import StoreRepository
from bot.store.seed import TABLES, load_export

MODELS = {
    "customers": Customer,
    "products": Product,
    "orders": Order,
    "order_lines": OrderLine,
    "shipments": Shipment,
    "tracking_events": TrackingEvent,
    "return_requests": ReturnRequest,
    "return_lines": ReturnLine,
    "refunds": Refund,
}


def row_counts(database: Database) -> dict[str, int]:
    with database.session() as session:
        return {
            table: session.execute(select(func.count()).select_from(model)).scalar_one()
            for table, model in MODELS.items()
        }


def export_counts(export: dict[str, Any]) -> dict[str, int]:
    orders = export["orders"]
    shipments = [shipment for order in orders for shipment in order.get("shipments", [])]
    returns = [request for order in orders for request in order.get("returns", [])]
    return {
        "customers": len(export["customers"]),
        "products": len(export["products"]),
        "orders": len(orders),
        "order_lines": sum(len(order["lines"]) for order in orders),
        "shipments": len(shipments),
        "tracking_events": sum(len(shipment.get("events", [])) for shipment in shipments),
        "return_requests": len(returns),
        "return_lines": sum(len(request["lines"]) for request in returns),
        "refunds": sum(len(order.get("refunds", [])) for order in orders),
    }


def test_demo_store_loads_every_record(
    database: Database, demo_export: dict[str, Any], demo_store_path: Path
) -> None:
    report = load_export(demo_store_path, database)

    expected = export_counts(demo_export)
    assert report.inserted == expected
    assert row_counts(database) == expected
    assert expected["customers"] >= 12
    assert expected["products"] >= 10
    assert expected["orders"] >= 30
    assert report.date_shift == timedelta(0)


def test_loading_the_same_export_again_changes_nothing(
    database: Database, demo_export: dict[str, Any]
) -> None:
    load_export(demo_export, database)
    before = StoreRepository(database).find_order("10037")

    report = load_export(demo_export, database)

    assert not report.changed_anything
    assert report.unchanged == export_counts(demo_export)
    assert row_counts(database) == export_counts(demo_export)
    assert StoreRepository(database).find_order("10037") == before


def test_reloading_updates_changed_records_in_place(
    database: Database, demo_export: dict[str, Any]
) -> None:
    load_export(demo_export, database)
    order = next(order for order in demo_export["orders"] if order["number"] == "10023")
    order["shipments"][0]["status"] = "out_for_delivery"
    order["shipments"][0]["events"].append(
        {
            "occurred_at": "2026-11-20T12:30:00Z",
            "status": "out_for_delivery",
            "description": "Out for delivery today",
            "location": "San Francisco, CA",
        }
    )
    demo_export["customers"][0]["last_name"] = "Martin-Lopez"

    report = load_export(demo_export, database)

    assert {table: n for table, n in report.updated.items() if n} == {
        "customers": 1,
        "shipments": 1,
    }
    assert {table: n for table, n in report.inserted.items() if n} == {"tracking_events": 1}
    shipment = StoreRepository(database).find_order("10023").shipments[0]  # type: ignore[union-attr]
    assert shipment.status == "out_for_delivery"
    assert len(shipment.events) == 4
    assert row_counts(database)["customers"] == len(demo_export["customers"])


def test_rebase_dates_moves_every_date_by_today_minus_reference_date(
    database: Database, demo_export: dict[str, Any]
) -> None:
    reference = date.fromisoformat(demo_export["reference_date"])
    today = reference + timedelta(days=10)

    report = load_export(demo_export, database, rebase_dates=True, today=today)

    assert report.date_shift == timedelta(days=10)
    order = StoreRepository(database).find_order("10023")
    assert order is not None
    shipment = order.shipments[0]
    assert shipment.estimated_delivery == today + timedelta(days=2)
    exported = next(o for o in demo_export["orders"] if o["number"] == "10023")
    assert order.placed_at == parse(exported["placed_at"]) + timedelta(days=10)
    assert [event.occurred_at for event in shipment.events] == [
        parse(event["occurred_at"]) + timedelta(days=10)
        for event in exported["shipments"][0]["events"]
    ]
    ava = StoreRepository(database).find_customer_by_email("ava.martin@example.com")
    assert ava is not None
    assert ava.created_at == parse(demo_export["customers"][0]["created_at"]) + timedelta(days=10)


def test_rebasing_again_on_a_later_day_moves_events_without_duplicating_them(
    database: Database, demo_export: dict[str, Any]
) -> None:
    reference = date.fromisoformat(demo_export["reference_date"])
    load_export(demo_export, database, rebase_dates=True, today=reference)

    report = load_export(
        demo_export, database, rebase_dates=True, today=reference + timedelta(days=3)
    )

    events = export_counts(demo_export)["tracking_events"]
    assert report.inserted["tracking_events"] == events
    assert report.deleted["tracking_events"] == events
    assert row_counts(database) == export_counts(demo_export)
    shipment = StoreRepository(database).find_order("10023").shipments[0]  # type: ignore[union-attr]
    assert shipment.estimated_delivery == reference + timedelta(days=5)


def test_without_rebase_dates_are_loaded_as_written(
    database: Database, demo_export: dict[str, Any]
) -> None:
    load_export(demo_export, database, today=date(2030, 1, 1))

    order = StoreRepository(database).find_order("10023")
    assert order is not None
    assert order.shipments[0].estimated_delivery == date(2026, 11, 22)


def test_an_invalid_export_writes_nothing(database: Database, demo_export: dict[str, Any]) -> None:
    demo_export["orders"][0]["customer"] = "nobody@example.com"

    with pytest.raises(StoreExportError):
        load_export(demo_export, database)

    assert StoreRepository(database).is_empty()


def test_a_database_error_midway_rolls_the_whole_load_back(
    database: Database, demo_export: dict[str, Any]
) -> None:
    # Valid export, but its last customer's phone already belongs to someone else in the store.
    with database.session() as session:
        session.add(
            Customer(
                email="someone.else@example.com",
                phone=demo_export["customers"][-1]["phone"],
                first_name="Some",
                last_name="One",
                created_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
        )

    with pytest.raises(Exception, match="phone"):
        load_export(demo_export, database)

    assert row_counts(database) == {table: (1 if table == "customers" else 0) for table in TABLES}


def test_a_file_that_is_not_json_is_reported_with_its_position(tmp_path: Path) -> None:
    broken = tmp_path / "store.json"
    broken.write_text('{"customers": [\n  {"email": "a@example.com",}\n]}', encoding="utf-8")
    never_touched = Database("sqlite:///:memory:")

    with pytest.raises(StoreExportError) as caught:
        load_export(broken, never_touched)

    assert caught.value.source == str(broken)
    assert caught.value.problems == (
        "not valid JSON: Expecting property name enclosed in double quotes (line 2, column 29)",
    )


def test_the_demo_export_file_loads_from_a_path_and_a_dict_alike(
    database: Database, demo_export: dict[str, Any], demo_store_path: Path
) -> None:
    assert json.loads(demo_store_path.read_text(encoding="utf-8")) == demo_export
    load_export(demo_store_path, database)

    assert not load_export(demo_export, database).changed_anything


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
