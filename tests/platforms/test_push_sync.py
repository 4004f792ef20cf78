"""The push handler with PlatformSync on a real, migrated SQLite store: stored pushes become the
store's orders, products and stock, in order (bot/domain/freshness.py), exactly once, and a
body the handler cannot use is failed with its reason and changes nothing."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.domain.freshness import Verdict
from bot.domain.order_events import OrderEventKind
from bot.platforms.push.handler import PLATFORM, PushHandler
from bot.platforms.push.worker import push_worker
from bot.store.database import Database
from bot.store.models import Product
from bot.store.platform_inbox import ClaimedWebhook, IncomingWebhook, PlatformInbox
from bot.store.platform_models import WebhookStatus
from bot.store.platform_sync import PlatformSync
from bot.store.repository import StoreRepository
from tests.platforms.test_push_support import (
    order_record,
    product_record,
    push_body,
    stock_record,
)

SIGNED_AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
JsonObject = dict[str, Any]


@pytest.fixture
def sync(database: Database) -> PlatformSync:
    return PlatformSync(database)


@pytest.fixture
def store(database: Database) -> StoreRepository:
    return StoreRepository(database)


def stored(
    database: Database,
    *records: JsonObject,
    delivery_id: str | None = None,
    signed_at: datetime = SIGNED_AT,
    body: bytes | None = None,
) -> str:
    """Puts a push into the inbox as the intake does (after its checks); its delivery id."""
    delivery_id = delivery_id or str(uuid.uuid4())
    PlatformInbox(database).accept(
        IncomingWebhook(
            platform=PLATFORM,
            webhook_id=delivery_id,
            topic="records",
            shop_domain="",
            api_version="1",
            body=(body or push_body(*records)).decode("utf-8"),
            triggered_at=signed_at,
            event_id=delivery_id,
        )
    )
    return delivery_id


def process(database: Database) -> int:
    return push_worker(database).run_pending()


def push(database: Database, *records: JsonObject, **options: Any) -> str:
    delivery_id = stored(database, *records, **options)
    assert process(database) == 1
    return delivery_id


def claim(database: Database) -> ClaimedWebhook:
    claimed = PlatformInbox(database).claim_next(PLATFORM)
    assert claimed is not None
    return claimed


def stock_of(database: Database, sku: str) -> int:
    with database.session() as session:
        return session.execute(select(Product.stock).where(Product.sku == sku)).scalar_one()


def deliver(order: JsonObject) -> None:
    """10023's parcel delivered: the order's next state."""
    order["status"] = "delivered"
    parcel = order["shipments"][0]
    parcel.update(status="delivered", delivered_at="2026-11-21T18:02:00Z")
    parcel["events"].append(
        {
            "occurred_at": "2026-11-21T18:02:00Z",
            "status": "delivered",
            "description": "Delivered, front door",
            "location": "San Francisco, CA",
        }
    )


SECOND_PARCEL = {
    "carrier": "FedEx",
    "service": "FedEx Ground",
    "tracking_number": "773166209999",
    "tracking_url": "https://www.fedex.com/fedextrack/?trknbr=773166209999",
    "status": "in_transit",
    "shipped_at": "2026-11-20T21:00:00Z",
    "events": [{"occurred_at": "2026-11-20T21:00:00Z", "status": "in_transit",
                "description": "Picked up", "location": "Reno, NV"}],
}  # fmt: skip


def ship_the_parka(order: JsonObject) -> None:
    """10028's back-ordered parka ships in a second parcel."""
    order.update(status="shipped", fulfilment_status="fulfilled")
    order["shipments"].append(json.loads(json.dumps(SECOND_PARCEL)))


# ------------------------------------------------------------------ orders, in order


def test_a_pushed_order_is_in_the_store_with_its_parcels(
    database: Database, store: StoreRepository, sync: PlatformSync
) -> None:
    push(database, order_record("10023"))

    order = store.find_order("10023")
    assert order is not None
    assert (order.status, order.customer.email) == ("shipped", "ava.martin@example.com")
    [parcel] = order.shipments
    assert (parcel.tracking_number, parcel.status, len(parcel.events)) == (
        "1Z999AA10123456784", "in_transit", 3
    )  # fmt: skip
    record = sync.record(PLATFORM, "order", "10023")
    assert record is not None and record.local_key == "10023"
    assert record.stamp.updated_at == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    assert record.stamp.triggered_at == SIGNED_AT
    assert [e.event.kind for e in sync.events(order_number="10023")] == [OrderEventKind.ORDER_SEEN]
    assert PlatformInbox(database).counts(PLATFORM)[WebhookStatus.DONE] == 1


def test_an_older_version_pushed_after_a_newer_one_changes_nothing(
    database: Database, store: StoreRepository, sync: PlatformSync
) -> None:
    push(database, order_record("10023", "2026-11-21T18:05:00Z", change=deliver))
    events_before = sync.events()

    # The earlier state, delivered late (a retry queue on the shop's side); its offset differs.
    push(database, order_record("10023", "2026-11-20T02:00:00-08:00"))

    order = store.find_order("10023")
    assert order is not None and order.status == "delivered"
    assert order.shipments[0].status == "delivered"
    assert sync.events() == events_before
    assert PlatformInbox(database).counts(PLATFORM)[WebhookStatus.DONE] == 2


def test_a_newer_version_replaces_the_stored_one_and_records_what_changed(
    database: Database, store: StoreRepository, sync: PlatformSync
) -> None:
    push(database, order_record("10023", "2026-11-20T10:00:00Z"))
    push(database, order_record("10023", "2026-11-21T18:05:00Z", change=deliver))

    order = store.find_order("10023")
    assert order is not None and order.status == "delivered"
    kinds = [(e.event.kind, e.event.after) for e in sync.events(order_number="10023")]
    assert kinds == [
        (OrderEventKind.ORDER_SEEN, "shipped"),
        (OrderEventKind.ORDER_STATUS_CHANGED, "delivered"),
        (OrderEventKind.SHIPMENT_STATUS_CHANGED, "delivered"),
    ]
    assert {e.source for e in sync.events()} == {"push"}


def test_the_same_updated_at_is_ordered_by_the_signed_timestamp(
    database: Database, store: StoreRepository
) -> None:
    same = "2026-11-21T18:05:00Z"
    push(database, order_record("10023", same, change=deliver), signed_at=SIGNED_AT)
    # Same updated_at, other content, signed earlier: the older of the two.
    push(database, order_record("10023", same), signed_at=SIGNED_AT - timedelta(seconds=5))
    order = store.find_order("10023")
    assert order is not None and order.status == "delivered"

    # Signed later: the newer. (In another body: the inbox stores a byte-identical body once.)
    push(database, order_record("10023", same), product_record("NW-GC-050"),
         signed_at=SIGNED_AT + timedelta(seconds=5))  # fmt: skip
    order = store.find_order("10023")
    assert order is not None and order.status == "shipped"


# ------------------------------------------------------------------ exactly once


def test_the_same_delivery_processed_twice_has_one_effect_and_one_set_of_events(
    database: Database, sync: PlatformSync
) -> None:
    # At least once: a worker that dies after applying, before marking the row done, leaves
    # it to be handed out again. The second run must change nothing.
    stored(database, order_record("10023"), product_record("NW-GC-050"),
           stock_record("NW-GC-050", "reno", 5))  # fmt: skip
    handler = PushHandler(sync)
    first = handler.apply(claim(database))
    events = sync.events()

    again = handler.apply(claim_again(database))

    assert [r.decision.verdict for r in first] == [Verdict.APPLY] * 3
    # The order and the product are recognised by their stamps. A stock level keeps only its
    # updated_at (PlatformSync), so the same level is written again: the same value.
    assert [r.decision.verdict for r in again[:2]] == [Verdict.IGNORE_DUPLICATE] * 2
    assert sync.events() == events and len(events) == 1
    assert stock_of(database, "NW-GC-050") == 5


def claim_again(database: Database) -> ClaimedWebhook:
    """The row handed out again after its worker's lease ran out."""
    claimed = PlatformInbox(database).claim_next(PLATFORM, lease=timedelta(0))
    assert claimed is not None and claimed.attempts == 2
    return claimed


def test_the_same_state_in_another_delivery_is_recognised_by_its_content(
    database: Database, sync: PlatformSync
) -> None:
    first = push(database, order_record("10023"))
    # Another delivery (the shop's system sent the order again with a product beside it).
    push(database, order_record("10023"), product_record("NW-GC-050"))

    assert len(sync.events(order_number="10023")) == 1
    record = sync.record(PLATFORM, "order", "10023")
    assert record is not None and record.stamp.event_id == first  # the version kept


# ------------------------------------------------------------------ parcels: the full state


def test_parcels_follow_the_orders_full_state(
    database: Database, store: StoreRepository, sync: PlatformSync
) -> None:
    push(database, order_record("10028", "2026-11-20T10:00:00Z"))
    push(database, order_record("10028", "2026-11-20T21:05:00Z", change=ship_the_parka))
    order = store.find_order("10028")
    assert order is not None and order.status == "shipped"
    assert sorted(s.tracking_number for s in order.shipments) == ["773166204815", "773166209999"]

    # The shop cancelled the second fulfilment: the order's state has one parcel again.
    push(database, order_record("10028", "2026-11-20T22:00:00Z"))

    order = store.find_order("10028")
    assert order is not None and order.status == "partially_shipped"
    assert [s.tracking_number for s in order.shipments] == ["773166204815"]
    kinds = [(e.event.kind, e.event.subject) for e in sync.events(order_number="10028")]
    assert (OrderEventKind.SHIPMENT_CREATED, "773166209999") in kinds
    assert (OrderEventKind.SHIPMENT_REMOVED, "773166209999") in kinds


# ------------------------------------------------------------------ products and stock


def test_stock_per_location_is_summed_and_ordered_per_location(database: Database) -> None:
    push(database, product_record("NW-GC-050", stock=1))
    assert stock_of(database, "NW-GC-050") == 1  # the product record's own, until levels come

    push(database, stock_record("NW-GC-050", "reno", 3), stock_record("NW-GC-050", "sparks", 4))
    assert stock_of(database, "NW-GC-050") == 7

    push(database, stock_record("NW-GC-050", "reno", 1, "2026-11-20T11:00:00Z"))
    assert stock_of(database, "NW-GC-050") == 5
    # An older level for reno, and a newer product record: the levels still decide.
    push(database, stock_record("NW-GC-050", "reno", 50, "2026-11-20T09:00:00Z"),
         product_record("NW-GC-050", "2026-11-20T12:00:00Z", stock=99, price="55.00"))  # fmt: skip
    assert stock_of(database, "NW-GC-050") == 5


def test_stock_pushed_before_its_product_counts_once_the_product_arrives(
    database: Database,
) -> None:
    push(database, stock_record("NW-BTL-INS750", "reno", 2), stock_record("NW-BTL-INS750", "b", 6))
    push(database, product_record("NW-BTL-INS750", stock=0))

    assert stock_of(database, "NW-BTL-INS750") == 8


def test_an_older_product_record_does_not_overwrite_a_newer_one(database: Database) -> None:
    push(database, product_record("NW-GC-050", "2026-11-20T12:00:00Z", name="Gift Card, $50"))
    push(database, product_record("NW-GC-050", "2026-11-20T08:00:00Z", name="Old name"))

    with database.session() as session:
        name = session.execute(select(Product.name).where(Product.sku == "NW-GC-050")).scalar_one()
    assert name == "Gift Card, $50"


def test_an_orders_products_are_created_but_do_not_overwrite_known_ones(
    database: Database,
) -> None:
    push(database, product_record("NW-SCK-WOOL-3PK", stock=77))
    push(database, order_record("10023"))  # carries the socks at the demo's stock of 120

    assert stock_of(database, "NW-SCK-WOOL-3PK") == 77
    assert stock_of(database, "NW-JKT-STORM-WS") == 9  # new: from the order's product record


# ------------------------------------------------------------------ unusable bodies


def test_a_stored_body_the_handler_cannot_use_is_failed_and_changes_nothing(
    database: Database, store: StoreRepository, sync: PlatformSync
) -> None:
    # Stored by an intake that did not validate (an older relaydesk): the first record is
    # fine, the second is not. Nothing of it may be applied.
    bad = order_record("10028")
    del bad["order"]["total"]
    stored(database, body=push_body(order_record("10023"), bad))

    assert process(database) == 1

    counts = PlatformInbox(database).counts(PLATFORM)
    assert counts[WebhookStatus.FAILED] == 1
    [row] = failed_rows(database)
    assert row.startswith("unprocessable: records[1] (order 10028): order: 'total' is a required")
    assert store.find_order("10023") is None
    assert sync.events() == []


@pytest.mark.parametrize("body", [b"[1, 2", b'{"format_version": 2, "records": [{}]}'])
def test_a_stored_body_that_is_no_push_is_failed_with_its_reason(
    database: Database, body: bytes
) -> None:
    stored(database, body=body)
    assert process(database) == 1
    [error] = failed_rows(database)
    assert error.startswith("unprocessable: ")


def failed_rows(database: Database) -> list[str]:
    from bot.store.platform_models import PlatformWebhook

    with database.session() as session:
        return [
            row.last_error or ""
            for row in session.execute(
                select(PlatformWebhook).where(PlatformWebhook.status == WebhookStatus.FAILED)
            ).scalars()
        ]


def test_a_record_conflicting_with_stored_data_is_retried_not_lost(
    database: Database, store: StoreRepository
) -> None:
    push(database, order_record("10023"))  # Ava, +14155550123

    # Another customer with Ava's phone number: valid on its own, refused by the store's key.
    def other_customer(order: JsonObject) -> None:
        order["customer"] = "someone.else@example.com"

    conflicting = order_record("10024", change=other_customer)
    conflicting["customer"].update(email="someone.else@example.com", phone="+14155550123")
    push(database, product_record("NW-GC-050"), conflicting)

    [row] = pending_rows(database)  # back in the inbox, to be tried again later
    assert row.attempts == 1 and row.next_attempt_at is not None
    assert "UNIQUE constraint failed: customers.phone" in (row.last_error or "")
    assert store.find_order("10024") is None
    assert stock_of(database, "NW-GC-050") == 9999  # the record before it stays applied


def pending_rows(database: Database) -> list[Any]:
    from bot.store.platform_models import PlatformWebhook

    with database.session() as session:
        query = select(PlatformWebhook).where(PlatformWebhook.status == WebhookStatus.PENDING)
        return list(session.execute(query).scalars())
