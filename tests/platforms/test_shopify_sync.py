"""ShopifySync: Shopify's webhooks (its documented samples, from ../shared/fixtures/shopify/)
worked from the durable inbox into the store, the re-read of an order, and the reconciliation.

The Admin API reads here come from an in-memory reader that serves what `map_order` makes of
REST order bodies; tests/platforms/test_shopify_reader.py covers the real reader over HTTP.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.domain.order_events import OrderEventKind
from bot.platforms.inbox_worker import InboxWorker, RetryLater, Unprocessable
from bot.platforms.shopify.admin_api import ShopifyUnavailable
from bot.platforms.shopify.mapping import MappedOrder, MappedProduct, map_order
from bot.platforms.shopify.reader import ShopifyReader
from bot.platforms.shopify.sync import (
    RECONCILE_MARK,
    ShopifySync,
    order_gid,
    product_updates,
)
from bot.store.database import Database
from bot.store.models import Customer, Product
from bot.store.platform_inbox import ClaimedWebhook, IncomingWebhook, PlatformInbox
from bot.store.platform_models import PlatformWebhook, WebhookStatus
from bot.store.platform_sync import ORDER, PlatformSync
from bot.store.repository import StoreRepository
from tests.platforms.fake_shopify_api import FakeShopify
from tests.platforms.shopify_webhooks import sample_body

ORDER_ID = "820982911946154508"


def sample(name: str) -> dict[str, Any]:
    body = json.loads(sample_body(name))
    assert isinstance(body, dict)
    return body


def open_order(**changes: Any) -> dict[str, Any]:
    """Shopify's orders/create sample as an open, paid, unfulfilled order of 5 digits."""
    body = sample("orders_create")
    body.update(
        cancelled_at=None, cancel_reason=None, closed_at=None, financial_status="paid",
        fulfillment_status=None, order_number=10234, name="#10234", fulfillments=[],
        refunds=[], updated_at="2026-11-30T10:00:00Z",
    )  # fmt: skip
    body.update(changes)
    return body


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class ShopReader:
    """The shop's current orders as REST bodies; reads map them as the real reader does."""

    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.reads: list[str] = []
        self.since: list[datetime] = []
        self.down = False
        self.refused: dict[str, str] = {}

    def put(self, body: dict[str, Any]) -> None:
        self.orders[order_gid(str(body["id"]))] = copy.deepcopy(body)

    def _check(self) -> None:
        if self.down:
            raise ShopifyUnavailable("503 from Shopify", status=503)

    def order(self, graphql_id: str) -> MappedOrder | None:
        self._check()
        self.reads.append(graphql_id)
        body = self.orders.get(graphql_id)
        return None if body is None else map_order(body)

    def orders_updated_since(self, since: datetime) -> Iterator[MappedOrder]:
        self._check()
        self.since.append(since)
        for body in sorted(self.orders.values(), key=lambda b: b["updated_at"]):
            if datetime.fromisoformat(body["updated_at"]) > since:
                yield map_order(body)

    def products_updated_since(self, since: datetime) -> Iterator[MappedProduct]:
        self._check()
        return iter(())

    def orders_numbered(self, number: str) -> Iterator[MappedOrder]:
        self._check()
        for body in self.orders.values():
            if str(body["order_number"]) == number:
                yield map_order(body)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def reader() -> ShopReader:
    return ShopReader()


@pytest.fixture
def shopify(database: Database, reader: ShopReader, clock: Clock) -> ShopifySync:
    return ShopifySync(PlatformSync(database, clock=clock), reader, clock=clock)


_ids = iter(range(1, 10**6))


def claimed(topic: str, body: Any, *, event: str | None = None) -> ClaimedWebhook:
    return ClaimedWebhook(
        id=next(_ids), platform="shopify", webhook_id=f"wh-{next(_ids)}", topic=topic,
        shop_domain="northwind.myshopify.com", api_version="2026-07", body=json.dumps(body),
        triggered_at=None, event_id=event, received_at=datetime(2026, 12, 1, tzinfo=UTC),
        attempts=1, last_error=None,
    )  # fmt: skip


def status_of(database: Database, number: str = "10234") -> str | None:
    view = StoreRepository(database).find_order(number)
    return None if view is None else str(view.status)


def test_shopifys_orders_create_sample_lands_in_the_store(
    shopify: ShopifySync, database: Database
) -> None:
    shopify.handle(claimed("orders/create", sample("orders_create")))
    view = StoreRepository(database).find_order("1234")
    assert view is not None
    assert view.status == "cancelled" and view.customer.email == "john@example.com"
    assert [line.sku for line in view.lines][:2] == ["SKU2006-001", "LENS-PROTECT-2YR"]
    events = shopify.platform_sync.events(order_number="1234")
    assert [e.event.kind for e in events] == [OrderEventKind.ORDER_SEEN]


def test_the_same_webhook_twice_and_an_older_one_change_nothing(
    shopify: ShopifySync, database: Database
) -> None:
    newer = open_order(
        financial_status="refunded",
        cancelled_at="2026-11-30T11:00:00Z",
        updated_at="2026-11-30T11:00:00Z",
    )
    shopify.handle(claimed("orders/cancelled", newer))
    shopify.handle(claimed("orders/cancelled", newer))
    shopify.handle(claimed("orders/updated", open_order()))  # older, delivered late
    assert status_of(database) == "cancelled"
    kinds = [e.event.kind for e in shopify.platform_sync.events(order_number="10234")]
    assert kinds == [OrderEventKind.ORDER_SEEN]


@pytest.mark.parametrize(
    "name", ["fulfillments_update", "refunds_create", "returns_request"], ids=str
)
def test_child_topics_re_read_their_order(
    shopify: ShopifySync, reader: ShopReader, database: Database, name: str
) -> None:
    from tests.platforms.shopify_webhooks import SAMPLE_TOPICS

    reader.put(open_order(id=int(ORDER_ID)))
    body = sample(name)
    if name == "returns_request":
        body["order"] = {"id": int(ORDER_ID), "admin_graphql_api_id": order_gid(ORDER_ID)}
    else:
        body["order_id"] = int(ORDER_ID)
    shopify.handle(claimed(SAMPLE_TOPICS[name], body))
    assert reader.reads == [order_gid(ORDER_ID)]
    assert status_of(database) == "paid"


def test_a_fulfilment_moves_the_order_on(
    shopify: ShopifySync, reader: ShopReader, database: Database
) -> None:
    shopify.handle(claimed("orders/create", open_order()))
    fulfilment = sample("fulfillments_update")
    fulfilment.update(order_id=int(ORDER_ID), status="success", shipment_status="in_transit",
                      updated_at="2026-11-30T12:00:00Z")  # fmt: skip
    reader.put(
        open_order(
            fulfillment_status="fulfilled",
            fulfillments=[fulfilment],
            updated_at="2026-11-30T12:00:00Z",
        )
    )
    shopify.handle(claimed("fulfillments/update", fulfilment))
    view = StoreRepository(database).find_order("10234")
    assert view is not None and view.status == "shipped"
    assert view.shipments[0].tracking_number == fulfilment["tracking_number"]
    kinds = [e.event.kind for e in shopify.platform_sync.events(order_number="10234")]
    assert kinds == [
        OrderEventKind.ORDER_SEEN,
        OrderEventKind.ORDER_STATUS_CHANGED,
        OrderEventKind.SHIPMENT_CREATED,
    ]


def test_customer_and_stock_webhooks(shopify: ShopifySync, database: Database) -> None:
    shopify.handle(claimed("orders/create", open_order()))
    customer = copy.deepcopy(sample("orders_create")["customer"])
    customer.update(first_name="Johnny", tags="vip", updated_at="2026-11-30T13:00:00Z")
    shopify.handle(claimed("customers/update", customer))
    with database.session() as session:
        row = session.execute(select(Customer)).scalar_one()
        assert (row.first_name, row.is_vip) == ("Johnny", True)
    level = sample("inventory_levels_update")
    shopify.handle(claimed("inventory_levels/update", level))
    # The sample's item belongs to no product relaydesk knows yet: kept, nothing else moves.
    with database.session() as session:
        assert all(p.stock == 0 for p in session.execute(select(Product)).scalars())


def test_checkouts_are_kept_and_change_nothing(shopify: ShopifySync, database: Database) -> None:
    shopify.handle(claimed("checkouts/create", sample("checkouts_create")))
    assert StoreRepository(database).is_empty()


@pytest.mark.parametrize(
    ("topic", "body"),
    [
        ("shop/update", {"id": 1}),
        ("orders/updated", {"id": 1}),
        ("orders/updated", ["not", "an", "order"]),
        ("fulfillments/update", {"id": 5, "status": "success"}),  # which order?
    ],
    ids=["unknown topic", "order without fields", "not an object", "fulfilment without order"],
)
def test_bodies_it_cannot_use_are_unprocessable(
    shopify: ShopifySync, topic: str, body: Any
) -> None:
    with pytest.raises(Unprocessable):
        shopify.handle(claimed(topic, body))


def test_shopify_down_means_retry_later(shopify: ShopifySync, reader: ShopReader) -> None:
    reader.down = True
    with pytest.raises(RetryLater):
        shopify.handle(claimed("refunds/create", {**sample("refunds_create"), "order_id": 1}))


def test_an_incomplete_order_body_is_replaced_by_a_read(
    shopify: ShopifySync, reader: ShopReader, database: Database
) -> None:
    reader.put(open_order(id=int(ORDER_ID)))
    shopify.handle(claimed("orders/updated", open_order(line_items=[], customer=None, email=None)))
    assert reader.reads == [order_gid(ORDER_ID)]
    assert status_of(database) == "paid"


def test_reconciliation_repairs_a_lost_webhook(
    shopify: ShopifySync, reader: ShopReader, database: Database, clock: Clock
) -> None:
    shopify.handle(claimed("orders/create", open_order()))
    # Cancelled in Shopify; the orders/cancelled webhook never arrives.
    clock.now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    reader.put(open_order(cancelled_at="2026-11-30T11:00:00Z", updated_at="2026-11-30T11:00:00Z"))
    shopify.platform_sync.set_state("shopify", RECONCILE_MARK, "2026-11-30T10:30:00+00:00")
    report = shopify.reconcile()
    assert report.orders_changed == 1 and report.changed_numbers == ("10234",)
    assert reader.since == [datetime(2026, 11, 30, 10, 25, tzinfo=UTC)]  # 5 minutes overlap
    assert status_of(database) == "cancelled"
    assert shopify.platform_sync.state("shopify", RECONCILE_MARK) == clock.now.isoformat()
    again = shopify.reconcile()
    assert again.orders_changed == 0


def test_find_order_number_syncs_an_order_relaydesk_never_saw(
    shopify: ShopifySync, reader: ShopReader, database: Database
) -> None:
    reader.put(open_order())
    assert shopify.find_order_number("10234")
    assert status_of(database) == "paid"
    assert not shopify.find_order_number("99999")
    record = shopify.platform_sync.record_for_key("shopify", ORDER, "10234")
    assert record is not None and record.external_id == ORDER_ID


def test_the_worker_retries_until_shopify_answers(
    shopify: ShopifySync, reader: ShopReader, database: Database, clock: Clock
) -> None:
    inbox = PlatformInbox(database, clock=clock)
    body = {**sample("refunds_create"), "order_id": int(ORDER_ID)}
    inbox.accept(
        IncomingWebhook(
            platform="shopify", webhook_id="wh-1", topic="refunds/create",
            shop_domain="northwind.myshopify.com", api_version="2026-07", body=json.dumps(body),
        )
    )  # fmt: skip
    worker = InboxWorker(inbox, "shopify", shopify.handle)
    reader.put(open_order(id=int(ORDER_ID)))
    reader.down = True
    assert worker.run_pending() == 1
    with database.session() as session:
        row = session.execute(select(PlatformWebhook)).scalar_one()
        assert row.status == WebhookStatus.PENDING and "503" in (row.last_error or "")
    reader.down = False
    assert worker.run_pending() == 0  # not due yet
    clock.now += timedelta(minutes=1)
    assert worker.run_pending() == 1
    with database.session() as session:
        assert session.execute(select(PlatformWebhook.status)).scalar_one() == WebhookStatus.DONE
    assert status_of(database) == "paid"


def test_the_worker_marks_unusable_bodies_failed_with_the_reason(
    shopify: ShopifySync, database: Database
) -> None:
    inbox = PlatformInbox(database)
    inbox.accept(
        IncomingWebhook(
            platform="shopify", webhook_id="wh-2", topic="orders/updated",
            shop_domain="northwind.myshopify.com", api_version="2026-07", body='{"id": 7}',
        )
    )  # fmt: skip
    InboxWorker(inbox, "shopify", shopify.handle).run_pending()
    with database.session() as session:
        row = session.execute(select(PlatformWebhook)).scalar_one()
        assert row.status == WebhookStatus.FAILED
        assert (row.last_error or "").startswith("unprocessable: ")


def test_an_order_edit_re_reads_its_order(
    shopify: ShopifySync, reader: ShopReader, database: Database
) -> None:
    reader.put(open_order(id=int(ORDER_ID)))
    edit = {"order_edit": {"id": 78912328, "order_id": int(ORDER_ID), "line_items": {}}}
    shopify.handle(claimed("orders/edited", edit))
    assert reader.reads == [order_gid(ORDER_ID)]
    assert status_of(database) == "paid"


def test_reconciliation_repairs_a_lost_products_update_and_a_long_order(
    database: Database, fake_shopify: FakeShopify, clock: Clock
) -> None:
    # Against the fake Admin API with the real reader: products are read only by it.
    fake_shopify.add_product(1, "Trail tee", [("NW-TEE-001", "25.00", 10)],
                             updated_at="2026-11-30T08:00:00Z")  # fmt: skip
    fake_shopify.add_product(2, "Cap", [("NW-CAP-002", "12.00", 5)],
                             updated_at="2026-11-29T08:00:00Z")  # fmt: skip
    long = fake_shopify.add_long_order(1001)
    fake_shopify.orders[long]["updatedAt"] = "2026-11-30T09:00:00Z"
    with fake_shopify.client() as client:
        reader = ShopifyReader(client)
        shopify = ShopifySync(PlatformSync(database, clock=clock), reader, clock=clock)
        shopify.platform_sync.apply_products(
            [u for p in reader.products() for u in product_updates(p, read_now=True)]
        )
        # The price changes on Shopify; its products/update webhook is lost.
        variant = fake_shopify.products["gid://shopify/Product/1"]["variants"]["nodes"][0]
        variant.update(price="19.00", inventoryQuantity=7, updatedAt="2026-11-30T11:00:00Z")
        fake_shopify.products["gid://shopify/Product/1"]["updatedAt"] = "2026-11-30T11:00:00Z"
        shopify.platform_sync.set_state("shopify", RECONCILE_MARK, "2026-11-30T07:00:00+00:00")
        report = shopify.reconcile()
        (products_call,) = [
            c for c in fake_shopify.calls_to("products") if c.variables.get("query")
        ]
    assert products_call.variables["query"] == "updated_at:>'2026-11-30T06:55:00Z'"
    assert (report.products_read, report.products_changed) == (1, 1)  # the cap is older
    assert (report.orders_read, report.orders_changed) == (1, 1)
    assert reader.refused == {}
    with database.session() as session:
        rows = {p.sku: p for p in session.execute(select(Product)).scalars()}
        assert (str(rows["NW-TEE-001"].price), rows["NW-TEE-001"].stock) == ("19.00", 7)
        assert str(rows["NW-CAP-002"].price) == "12.00"
    view = StoreRepository(database).find_order("1001")
    assert view is not None and len(view.lines) == 45
