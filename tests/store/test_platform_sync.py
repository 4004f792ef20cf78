"""PlatformSync on a real database (SQLite and PostgreSQL): updates applied in order, once,
with the order events they cause, and the freshness bookkeeping reads depend on."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.domain.freshness import Stamp, Verdict
from bot.domain.order_events import OrderEventKind
from bot.store.database import Database
from bot.store.models import Customer, Product, Shipment
from bot.store.platform_sync import (
    ORDER,
    CustomerUpdate,
    OrderUpdate,
    PlatformSync,
    ProductUpdate,
    StockLevelUpdate,
)
from bot.store.repository import StoreRepository

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def customer(email: str = "lena.fischer@example.com", **changes: Any) -> dict[str, Any]:
    record = {
        "email": email, "phone": None, "first_name": "Lena", "last_name": "Fischer",
        "is_vip": False, "created_at": "2026-01-05T09:00:00Z",
    }  # fmt: skip
    return {**record, **changes}


def order(number: str = "20001", **changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "number": number, "customer": "lena.fischer@example.com", "status": "paid",
        "fulfilment_status": "unfulfilled", "currency": "EUR", "subtotal": "40.00",
        "shipping_total": "5.00", "tax_total": "0.00", "total": "45.00",
        "payment_method": "Visa ending 4242", "placed_at": "2026-11-30T09:00:00Z",
        "paid_at": "2026-11-30T09:00:00Z",
        "shipping_address": {
            "name": "Lena Fischer", "line1": "Hauptstr. 1", "line2": None, "city": "Berlin",
            "region": None, "postal_code": "10115", "country": "DE",
        },
        "lines": [{"sku": "TEE-BLUE-M", "quantity": 2, "unit_price": "20.00", "name": "Tee"}],
        "shipments": [], "returns": [], "refunds": [],
    }  # fmt: skip
    record.update(changes)
    return record


def parcel(tracking: str, status: str = "in_transit") -> dict[str, Any]:
    return {
        "carrier": "DHL", "service": "Paket", "tracking_number": tracking,
        "tracking_url": f"https://www.dhl.de/track?id={tracking}", "status": status,
        "shipped_at": "2026-11-30T12:00:00Z", "estimated_delivery": "2026-12-03",
        "delivered_at": "2026-12-02T12:00:00Z" if status == "delivered" else None,
        "events": [],
    }  # fmt: skip


def shipped(*parcels: dict[str, Any]) -> dict[str, Any]:
    status = (
        "delivered" if parcels and all(p["status"] == "delivered" for p in parcels) else "shipped"
    )
    return order(status=status, fulfilment_status="fulfilled", shipments=list(parcels))


def update(
    record: dict[str, Any],
    updated: datetime = T0,
    *,
    event: str | None = None,
    read_now: bool = False,
    who: dict[str, Any] | None = None,
) -> OrderUpdate:
    return OrderUpdate(
        platform="shopify", external_id="820982911946154508", order=copy.deepcopy(record),
        customer=who or customer(), stamp=Stamp(updated, event_id=event),
        graphql_id="gid://shopify/Order/820982911946154508",
        customer_external_id="115310627314723954", read_now=read_now,
    )  # fmt: skip


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sync(database: Database, clock: Clock) -> PlatformSync:
    return PlatformSync(database, clock=clock)


def stored(database: Database, number: str = "20001") -> Any:
    view = StoreRepository(database).find_order(number)
    assert view is not None
    return view


def test_first_version_is_applied_and_seen(sync: PlatformSync, database: Database) -> None:
    result = sync.apply_order(update(order()))
    assert result.decision.verdict is Verdict.APPLY
    assert [e.kind for e in result.events] == [OrderEventKind.ORDER_SEEN]
    view = stored(database)
    assert view.status == "paid" and view.customer.email == "lena.fischer@example.com"
    # The line's product did not exist: a placeholder named after the line, no stock.
    assert view.lines[0].name == "Tee"
    record = sync.record_for_key("shopify", ORDER, "20001")
    assert record is not None and record.graphql_id == "gid://shopify/Order/820982911946154508"


@pytest.mark.parametrize(
    ("second_time", "second_event", "verdict", "status_after"),
    [
        (T0 + timedelta(seconds=1), None, Verdict.APPLY, "shipped"),
        (T0 - timedelta(seconds=1), None, Verdict.IGNORE_OLDER, "paid"),
        (T0 + timedelta(hours=1), "evt-1", Verdict.IGNORE_DUPLICATE, "paid"),  # same event id
    ],
    ids=["newer", "older", "redelivered-event"],
)
def test_ordering_rule(
    sync: PlatformSync,
    database: Database,
    second_time: datetime,
    second_event: str | None,
    verdict: Verdict,
    status_after: str,
) -> None:
    sync.apply_order(update(order(), event="evt-1"))
    result = sync.apply_order(update(shipped(parcel("JD0001")), second_time, event=second_event))
    assert result.decision.verdict is verdict
    assert stored(database).status == status_after


def test_the_same_update_twice_has_one_effect(sync: PlatformSync, database: Database) -> None:
    first = sync.apply_order(update(shipped(parcel("JD0001"))))
    again = sync.apply_order(update(shipped(parcel("JD0001"))))
    assert first.decision.apply and again.decision.verdict is Verdict.IGNORE_DUPLICATE
    assert again.events == ()
    assert len(sync.events()) == 1  # order_seen only


def test_out_of_order_delivery_leaves_the_newer_state(
    sync: PlatformSync, database: Database
) -> None:
    newest = shipped(parcel("JD0001", "delivered"))
    sync.apply_order(update(newest, T0 + timedelta(minutes=10)))
    sync.apply_order(update(shipped(parcel("JD0001")), T0 + timedelta(minutes=5)))
    sync.apply_order(update(order(), T0))
    view = stored(database)
    assert view.status == "delivered" and view.shipments[0].status == "delivered"


def test_events_name_what_changed(sync: PlatformSync) -> None:
    sync.apply_order(update(order()))
    result = sync.apply_order(update(shipped(parcel("JD0001")), T0 + timedelta(minutes=1)))
    assert [(e.kind, e.subject, e.before, e.after) for e in result.events] == [
        (OrderEventKind.ORDER_STATUS_CHANGED, "", "paid", "shipped"),
        (OrderEventKind.SHIPMENT_CREATED, "JD0001", None, "in_transit"),
    ]
    late = shipped(parcel("JD0001", "delayed"))
    result = sync.apply_order(update(late, T0 + timedelta(minutes=2)))
    assert [(e.kind, e.before, e.after) for e in result.events] == [
        (OrderEventKind.SHIPMENT_STATUS_CHANGED, "in_transit", "delayed")
    ]
    recorded = sync.events(order_number="20001")
    assert [r.event.kind for r in recorded] == [
        OrderEventKind.ORDER_SEEN,
        OrderEventKind.ORDER_STATUS_CHANGED,
        OrderEventKind.SHIPMENT_CREATED,
        OrderEventKind.SHIPMENT_STATUS_CHANGED,
    ]
    assert all(r.source == "shopify" for r in recorded)
    assert sync.events(after_id=recorded[-1].id) == []


def test_a_parcel_no_longer_on_the_order_is_removed(sync: PlatformSync, database: Database) -> None:
    sync.apply_order(update(shipped(parcel("JD0001"), parcel("JD0002"))))
    result = sync.apply_order(update(shipped(parcel("JD0002")), T0 + timedelta(minutes=1)))
    assert [(e.kind, e.subject) for e in result.events] == [
        (OrderEventKind.SHIPMENT_REMOVED, "JD0001")
    ]
    with database.session() as session:
        assert session.execute(select(Shipment.tracking_number)).scalars().all() == ["JD0002"]


def test_known_products_keep_their_stock_and_category(
    sync: PlatformSync, database: Database
) -> None:
    product = {"sku": "TEE-BLUE-M", "name": "Merino Tee, blue, M", "category": "tops",
               "price": "20.00", "stock": 7}  # fmt: skip
    sync.apply_products([ProductUpdate("shopify", "v1", product, Stamp(T0))])
    sync.apply_order(update(order()))
    with database.session() as session:
        row = session.execute(select(Product)).scalar_one()
        assert (row.name, row.category, row.stock) == ("Merino Tee, blue, M", "tops", 7)


def test_freshness_bookkeeping(sync: PlatformSync, clock: Clock) -> None:
    sync.apply_order(update(order()))
    first = sync.record_for_key("shopify", ORDER, "20001")
    assert first is not None and first.synced_at == clock.now
    clock.now += timedelta(minutes=30)
    # A redelivered webhook proves nothing about now; a read from the platform does.
    sync.apply_order(update(order()))
    after_webhook = sync.record_for_key("shopify", ORDER, "20001")
    assert after_webhook is not None and after_webhook.synced_at == first.synced_at
    sync.apply_order(update(order(), read_now=True))
    after_read = sync.record_for_key("shopify", ORDER, "20001")
    assert after_read is not None and after_read.synced_at == clock.now


def test_same_second_different_content_applies_and_asks_for_a_re_read(
    sync: PlatformSync,
) -> None:
    sync.apply_order(update(order()))
    result = sync.apply_order(update(order(status="processing", paid_at=None)))
    assert result.decision.apply and result.decision.reconcile
    assert sync.records_needing_refresh("shopify", ORDER) == ["820982911946154508"]
    sync.apply_order(update(order(status="processing", paid_at=None), read_now=True))
    assert sync.records_needing_refresh("shopify", ORDER) == []


def test_a_customer_who_changes_email_stays_one_customer(
    sync: PlatformSync, database: Database
) -> None:
    sync.apply_order(update(order()))
    new = customer("lena.f@example.org", first_name="Helena")
    sync.apply_customer(CustomerUpdate("shopify", "115310627314723954", new, Stamp(T0)))
    with database.session() as session:
        rows = session.execute(select(Customer.email, Customer.first_name)).all()
    assert rows == [("lena.f@example.org", "Helena")]
    # The next order body names the new address: still the same customer.
    moved = order(customer="lena.f@example.org")
    sync.apply_order(update(moved, T0 + timedelta(minutes=1), who=new))
    with database.session() as session:
        assert session.execute(select(func.count(Customer.id))).scalar_one() == 1


def test_stock_is_the_sum_over_locations(sync: PlatformSync, database: Database) -> None:
    product = {"sku": "TEE-BLUE-M", "name": "Tee", "category": "tops", "price": "20.00",
               "stock": 0}  # fmt: skip
    sync.apply_products(
        [ProductUpdate("shopify", "v1", product, Stamp(T0), inventory_item_id="inv-1")]
    )
    for location, available, when in [
        ("berlin", 4, T0),
        ("hamburg", 3, T0),
        ("berlin", 2, T0 + timedelta(1)),
    ]:
        sync.apply_stock_level(
            StockLevelUpdate("shopify", "inv-1", location, available, Stamp(when))
        )
    # An older level for a location does not overwrite a newer one.
    older = sync.apply_stock_level(StockLevelUpdate("shopify", "inv-1", "berlin", 9, Stamp(T0)))
    assert older.decision.verdict is Verdict.IGNORE_OLDER
    with database.session() as session:
        assert session.execute(select(Product.stock)).scalar_one() == 5


def test_stock_for_an_unknown_item_is_kept_until_its_product_arrives(
    sync: PlatformSync, database: Database
) -> None:
    result = sync.apply_stock_level(StockLevelUpdate("shopify", "inv-9", "berlin", 6, Stamp(T0)))
    assert result.unmatched
    product = {"sku": "CAP-RED", "name": "Cap", "category": "hats", "price": "15.00", "stock": 0}
    sync.apply_products(
        [ProductUpdate("shopify", "v9", product, Stamp(T0), inventory_item_id="inv-9")]
    )
    with database.session() as session:
        assert session.execute(select(Product.stock)).scalar_one() == 6


def test_sync_state_round_trip(sync: PlatformSync) -> None:
    assert sync.state("shopify", "reconciled_until") is None
    sync.set_state("shopify", "reconciled_until", "2026-12-01T12:00:00+00:00")
    sync.set_state("shopify", "reconciled_until", "2026-12-01T12:15:00+00:00")
    assert sync.state("shopify", "reconciled_until") == "2026-12-01T12:15:00+00:00"


def test_a_declined_return_does_not_use_up_the_items(
    sync: PlatformSync, database: Database
) -> None:
    def returned(rma: str, status: str) -> dict[str, Any]:
        return {"rma_number": rma, "status": status, "reason": "too_small",
                "condition": "unused", "created_at": "2026-12-01T09:00:00Z",
                "lines": [{"sku": "TEE-BLUE-M", "quantity": 2}]}  # fmt: skip

    delivered = shipped(parcel("JD0001", "delivered"))
    delivered["returns"] = [returned("RMA-1", "rejected"), returned("RMA-2", "requested")]
    assert sync.apply_order(update(delivered)).decision.apply
    assert [r.status for r in stored(database).returns] == ["rejected", "requested"]


def test_a_line_an_order_edit_removed_is_removed(sync: PlatformSync, database: Database) -> None:
    cap = {"sku": "CAP-RED", "quantity": 1, "unit_price": "5.00", "name": "Cap"}
    two_lines = order(lines=[*order()["lines"], cap], subtotal="45.00", total="50.00")
    sync.apply_order(update(two_lines))
    assert [line.sku for line in stored(database).lines] == ["TEE-BLUE-M", "CAP-RED"]
    sync.apply_order(update(order(), T0 + timedelta(minutes=1)))
    assert [line.sku for line in stored(database).lines] == ["TEE-BLUE-M"]


def test_two_orders_shipped_in_one_box_keep_their_parcel(
    sync: PlatformSync, database: Database
) -> None:
    box = parcel("JD0001")
    sync.apply_order(update(shipped(box)))
    second = OrderUpdate(
        platform="shopify", external_id="820982911946154509",
        order=copy.deepcopy({**shipped(box), "number": "20002"}), customer=customer(),
        stamp=Stamp(T0),
    )  # fmt: skip
    sync.apply_order(second)
    assert [s.tracking_number for s in stored(database, "20001").shipments] == ["JD0001"]
    assert [s.tracking_number for s in stored(database, "20002").shipments] == ["JD0001"]
