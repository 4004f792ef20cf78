"""ShopifyReader (bot/platforms/shopify/reader.py) against the fake Admin API over HTTP: full
orders one at a time and page by page (changed since, created since), products, webhook
subscriptions, the documents passing the fake's schema check, the query cost counted, and
throttling respected on the fake's ManualClock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from bot.platforms.shopify import operations
from bot.platforms.shopify.admin_api import ShopifyAdminClient, ShopifyRejected
from bot.platforms.shopify.mapping import IncompletePayloadError, export_document
from bot.platforms.shopify.reader import ShopifyReader, WebhookSubscription
from bot.store.export_validation import validate_export
from tests.platforms.fake_shopify_api import FakeShopify, Line, parse, requested_cost

SINCE = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def client(fake_shopify: FakeShopify) -> Iterator[ShopifyAdminClient]:
    with fake_shopify.client() as shop_client:
        yield shop_client


@pytest.fixture
def reader(client: ShopifyAdminClient) -> ShopifyReader:
    return ShopifyReader(client)


def test_one_order_in_full(fake_shopify: FakeShopify, reader: ShopifyReader) -> None:
    order = fake_shopify.add_order(1001)
    fake_shopify.fulfil(order)
    fake_shopify.set_fulfillment_status(order, "OUT_FOR_DELIVERY")
    mapped = reader.order(order)
    assert mapped is not None
    assert mapped.name == "#1001"
    assert mapped.order.record["status"] == "out_for_delivery"
    assert mapped.order.admin_graphql_api_id == order
    assert fake_shopify.operations() == ["Order"]
    assert fake_shopify.operations(outcome="invalid") == []


def test_an_unknown_order_is_none(fake_shopify: FakeShopify, reader: ShopifyReader) -> None:
    assert reader.order("gid://shopify/Order/404") is None


@pytest.mark.parametrize(("count", "page", "pages"), [(0, 5, 1), (5, 5, 1), (12, 5, 3), (7, 2, 4)])
def test_orders_updated_since_page_by_page(
    count: int, page: int, pages: int, fake_shopify: FakeShopify, client: ShopifyAdminClient
) -> None:
    made = fake_shopify.add_orders(count, start=datetime(2026, 11, 2, tzinfo=UTC))
    fake_shopify.add_order(999, updated_at="2026-10-01T00:00:00Z")  # changed before SINCE
    reader = ShopifyReader(client, order_page=page)
    orders = list(reader.orders_updated_since(SINCE))
    assert [o.order.admin_graphql_api_id for o in orders] == made
    calls = fake_shopify.calls_to("orders")
    assert len(calls) == pages
    assert {c.operation for c in calls} == {"OrdersFullUpdatedSince"}
    assert calls[0].variables["query"] == "updated_at:>'2026-11-01T00:00:00Z'"


def test_a_changed_order_comes_last_in_the_reconciliation(
    fake_shopify: FakeShopify, reader: ShopifyReader
) -> None:
    first, second = fake_shopify.add_orders(2)
    fake_shopify.add_refund(first, "1.00")  # moves its updatedAt past the other's
    orders = list(reader.orders_updated_since(SINCE))
    assert [o.order.admin_graphql_api_id for o in orders] == [second, first]
    assert orders[1].order.record["refunds"][0]["amount"] == "1.00"


def test_orders_created_since_is_the_backfill(
    fake_shopify: FakeShopify, reader: ShopifyReader
) -> None:
    fake_shopify.add_orders(3, first_number=20_001, start=datetime(2026, 10, 1, tzinfo=UTC))
    recent = fake_shopify.add_orders(4, start=datetime(2026, 11, 20, tzinfo=UTC))
    fake_shopify.add_refund(recent[0], "1.00")  # updated later; still in created order
    orders = list(reader.orders_created_since(datetime(2026, 11, 20, tzinfo=UTC)))
    assert [o.order.admin_graphql_api_id for o in orders] == recent
    (call,) = fake_shopify.calls_to("orders")
    assert call.operation == "OrdersCreatedSince"
    assert call.variables["query"] == "created_at:>='2026-11-20T00:00:00Z'"


def test_the_query_cost_is_what_shopify_reported(
    fake_shopify: FakeShopify, reader: ShopifyReader
) -> None:
    fake_shopify.add_orders(7, start=datetime(2026, 11, 2, tzinfo=UTC))
    assert len(list(reader.orders_updated_since(SINCE))) == 7
    reader.order(next(iter(fake_shopify.orders)))
    actual = [c.actual_cost for c in fake_shopify.calls]
    assert reader.requests == len(actual) == 3
    assert reader.query_cost == sum(a or 0 for a in actual)
    # Actual is what came back: far under the requested ceiling of a page of full orders.
    assert all((c.actual_cost or 0) < (c.requested_cost or 0) for c in fake_shopify.calls)


@pytest.mark.parametrize(
    ("name", "variables", "ceiling"),
    [
        ("Order", {"id": "x"}, 200),
        ("OrdersFullUpdatedSince", {"first": operations.FULL_ORDER_PAGE}, 1000),
        ("OrdersCreatedSince", {"first": operations.FULL_ORDER_PAGE}, 1000),
        ("Products", {"first": operations.PRODUCT_PAGE}, 1000),
        ("WebhookSubscriptions", {"first": 50}, 100),
    ],
)
def test_the_documents_stay_under_shopifys_cost_ceiling(
    name: str, variables: dict[str, object], ceiling: float
) -> None:
    operation = parse(operations.READ_DOCUMENTS[name])
    assert operation.name == name
    assert requested_cost(operation, variables) <= ceiling


def test_throttling_is_respected(fake_shopify: FakeShopify, reader: ShopifyReader) -> None:
    fake_shopify.add_orders(6, start=datetime(2026, 11, 2, tzinfo=UTC))
    page_cost = requested_cost(
        parse(operations.ORDERS_FULL_UPDATED_SINCE), {"first": operations.FULL_ORDER_PAGE}
    )
    fake_shopify.set_bucket(available=100.0, restore_rate=50.0)
    orders = list(reader.orders_updated_since(SINCE))
    assert len(orders) == 6
    outcomes = [c.outcome for c in fake_shopify.calls]
    # The first page finds the bucket short and is THROTTLED (the client has no cost figures
    # for this document yet); it waits what the bucket needs, and the second page is paced
    # before it is sent, never throttled.
    assert outcomes == ["throttled", "ok", "ok"]
    assert fake_shopify.clock.sleeps[0] == pytest.approx((page_cost - 100.0) / 50.0)
    assert len(fake_shopify.clock.sleeps) == 2


def test_an_order_longer_than_a_page_is_refused_not_cut(
    fake_shopify: FakeShopify, reader: ShopifyReader
) -> None:
    lines = [Line(f"NW-SKU-{n:03d}", 1, "5.00") for n in range(operations.LINE_ITEMS_FIRST + 1)]
    order = fake_shopify.add_order(1001, lines=lines)
    with pytest.raises(IncompletePayloadError, match="lineItems"):
        reader.order(order)


def test_products_page_by_page(fake_shopify: FakeShopify, client: ShopifyAdminClient) -> None:
    for n in range(5):
        fake_shopify.add_product(n + 1, f"Item {n}", [(f"NW-ITEM-{n}", "9.5", n)])
    products = list(ShopifyReader(client, product_page=2).products())
    assert [p.variants[0].record["sku"] for p in products] == [f"NW-ITEM-{n}" for n in range(5)]
    assert products[4].variants[0].record == {
        "sku": "NW-ITEM-4", "name": "Item 4", "category": "Apparel", "price": "9.50", "stock": 4,
    }  # fmt: skip
    assert len(fake_shopify.calls_to("products")) == 3


def test_webhook_subscriptions_are_listed(
    fake_shopify: FakeShopify, client: ShopifyAdminClient, reader: ShopifyReader
) -> None:
    assert reader.webhook_subscriptions() == []
    uri = "https://relaydesk.example/webhooks/shopify/webhook"
    for topic in ("ORDERS_UPDATED", "ORDERS_CANCELLED"):
        operations.create_webhook_subscription(client, topic, uri)
    listed = reader.webhook_subscriptions()
    assert [(s.topic, s.uri, s.format) for s in listed] == [
        ("ORDERS_UPDATED", uri, "JSON"),
        ("ORDERS_CANCELLED", uri, "JSON"),
    ]
    assert all(isinstance(s, WebhookSubscription) and s.id.startswith("gid://") for s in listed)


def test_every_read_document_runs_against_the_fake(
    fake_shopify: FakeShopify, reader: ShopifyReader
) -> None:
    order = fake_shopify.add_order(1001)
    fake_shopify.add_product(1, "Trail tee")
    reader.order(order)
    list(reader.orders_updated_since(SINCE))
    list(reader.orders_created_since(SINCE))
    list(reader.products())
    reader.webhook_subscriptions()
    assert set(fake_shopify.operations()) == set(operations.READ_DOCUMENTS)
    assert fake_shopify.operations(outcome="invalid") == []


def test_a_backfill_loads_as_an_export(fake_shopify: FakeShopify, reader: ShopifyReader) -> None:
    made = fake_shopify.add_orders(
        8, lines=[Line("NW-TEE-001", 2, "25.00"), Line("NW-CAP-002", 1, "12.00")]
    )
    fake_shopify.fulfil(made[0])
    fake_shopify.set_fulfillment_status(made[0], "DELAYED")
    fake_shopify.add_refund(made[1])
    fake_shopify.stock_order_skus()
    orders = list(reader.orders_created_since(SINCE))
    products = [v.record for p in reader.products() for v in p.variants]
    customers = {o.customer.record["email"]: o.customer.record for o in orders}
    document = export_document(
        reference_date=date(2026, 12, 1),
        customers=customers.values(),
        products=products,
        orders=[o.order.record for o in orders],
    )
    assert validate_export(document) == []
    assert orders[0].order.record["shipments"][0]["status"] == "delayed"
    assert orders[1].order.record["status"] == "refunded"
    assert fake_shopify.operations(outcome="invalid") == []


def test_orders_are_found_by_number(fake_shopify: FakeShopify, reader: ShopifyReader) -> None:
    wanted = fake_shopify.add_order(1001)
    fake_shopify.add_order(10010)
    fake_shopify.add_order(1002, name="1002")  # a shop whose names have no "#"
    assert [o.order.admin_graphql_api_id for o in reader.orders_numbered("1001")] == [wanted]
    assert [o.name for o in reader.orders_numbered("1002")] == ["1002"]
    assert list(reader.orders_numbered("4040")) == []
    (call, *_) = fake_shopify.calls_to("orders")
    assert call.variables["query"] == "name:#1001 OR name:1001"
    with pytest.raises(ValueError, match="not an order number"):
        list(reader.orders_numbered("1001' OR name:*"))


def test_a_page_shopify_finds_too_costly_is_asked_again_smaller(
    fake_shopify: FakeShopify, reader: ShopifyReader
) -> None:
    made = fake_shopify.add_orders(5, start=datetime(2026, 11, 2, tzinfo=UTC))
    # As if Shopify counted the nested lists higher than the fake does.
    fake_shopify.max_query_cost = 400.0
    orders = list(reader.orders_updated_since(SINCE))
    assert [o.order.admin_graphql_api_id for o in orders] == made
    assert [(c.outcome, c.variables["first"]) for c in fake_shopify.calls] == [
        ("invalid", 5),
        ("ok", 2),
        ("ok", 2),
        ("ok", 2),
    ]
    list(reader.orders_updated_since(SINCE))  # the smaller page is kept: no refusal again
    assert [c.outcome for c in fake_shopify.calls[4:]] == ["ok", "ok", "ok"]
    fake_shopify.max_query_cost = 100.0  # not even one order fits: refused, named
    with pytest.raises(ShopifyRejected, match="exceeds the single query max cost"):
        list(reader.orders_updated_since(SINCE))
