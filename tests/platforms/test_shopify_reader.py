"""ShopifyReader (bot/platforms/shopify/reader.py) against the fake Admin API over HTTP: full
orders one at a time and page by page (changed since, created since), products, webhook
subscriptions, the documents passing the fake's schema check, the query cost counted, and
throttling respected on the fake's ManualClock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any

import pytest

from bot.platforms.shopify import operations
from bot.platforms.shopify.admin_api import (
    ShopifyAdminClient,
    ShopifyRejected,
    ShopifyUnavailable,
)
from bot.platforms.shopify.mapping import (
    IncompletePayloadError,
    MappedOrder,
    export_document,
    map_order,
)
from bot.platforms.shopify.reader import ShopifyReader, WebhookSubscription
from bot.store.export_validation import validate_export
from tests.platforms.fake_shopify_api import (
    FakeShopify,
    Line,
    Operation,
    parse,
    requested_cost,
)

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
        ("LongOrder", {"id": "x"}, 1000),
        ("OrderLineItems", {"id": "x", "first": operations.NEXT_PAGE}, 1000),
        ("OrderReturns", {"id": "x", "first": operations.NEXT_RETURNS_PAGE}, 1000),
        ("FulfillmentLineItems", {"id": "x", "first": operations.NEXT_PAGE}, 1000),
        ("RefundTransactions", {"id": "x", "first": operations.NEXT_PAGE}, 1000),
        ("ReturnLineItems", {"id": "x", "first": operations.NEXT_PAGE}, 1000),
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


def _as_webhook_maps_it(fake: FakeShopify, order_gid: str) -> dict[str, Any]:
    """The order's record as `map_order` makes it of the REST body Shopify would send (every
    line, parcel and return in it), without the returns' times (REST bodies carry none)."""
    record = map_order(json.loads(fake.webhook_body(order_gid))).order.record
    return _without_return_times(record)


def _without_return_times(record: Mapping[str, Any]) -> dict[str, Any]:
    return {**record, "returns": [{**r, "created_at": None} for r in record["returns"]]}


def _assert_whole(fake: FakeShopify, mapped: MappedOrder | None, order_gid: str) -> None:
    assert mapped is not None
    assert _without_return_times(mapped.order.record) == _as_webhook_maps_it(fake, order_gid)
    assert mapped.order.warnings == ()


def _costs_within_the_ceiling(fake: FakeShopify) -> None:
    answered = [c for c in fake.calls if c.outcome == "ok"]
    assert answered
    assert all((c.requested_cost or 0) <= fake.max_query_cost for c in answered)
    assert fake.operations(outcome="invalid") == []


def test_a_long_order_is_read_again_alone_and_mapped_whole(
    fake_shopify: FakeShopify, reader: ShopifyReader
) -> None:
    # 45 lines, 3 parcels of 30 items, 4 returns of 6 lines: past every listing page size.
    order = fake_shopify.add_long_order(1001)
    mapped = reader.order(order)
    _assert_whole(fake_shopify, mapped, order)
    assert mapped is not None
    record = mapped.order.record
    assert (len(record["lines"]), len(record["shipments"]), len(record["returns"])) == (45, 3, 4)
    assert fake_shopify.operations() == ["Order", "LongOrder"]
    _costs_within_the_ceiling(fake_shopify)
    assert reader.refused == {}


def test_listings_read_long_orders_whole_and_keep_their_page_cost(
    fake_shopify: FakeShopify, reader: ShopifyReader
) -> None:
    short = fake_shopify.add_orders(4, start=datetime(2026, 11, 2, tzinfo=UTC))
    long = fake_shopify.add_long_order(1001)
    updated = {o.order.admin_graphql_api_id: o for o in reader.orders_updated_since(SINCE)}
    assert list(updated) == [*short, long]
    _assert_whole(fake_shopify, updated[long], long)
    created = {o.order.admin_graphql_api_id: o for o in reader.orders_created_since(SINCE)}
    _assert_whole(fake_shopify, created[long], long)
    assert reader.refused == {}
    page_cost = requested_cost(
        parse(operations.ORDERS_FULL_UPDATED_SINCE), {"first": operations.FULL_ORDER_PAGE}
    )
    assert page_cost == 2 + 179 * operations.FULL_ORDER_PAGE  # where the backfill bench has it
    assert {c.requested_cost for c in fake_shopify.calls_to("orders") if c.outcome == "ok"} == {
        page_cost
    }
    assert fake_shopify.operations().count("LongOrder") == 2  # once per listing, the long one
    _costs_within_the_ceiling(fake_shopify)


def test_a_very_long_order_is_paged_to_its_end(
    fake_shopify: FakeShopify, reader: ShopifyReader
) -> None:
    # Past even the long read's pages: 170 lines (80 + 90), one parcel of 170 items, 7 returns
    # (5 + 2) of 12 lines (10 + 2), a refund in 12 transactions (10 + 2).
    order = fake_shopify.add_long_order(
        1002, lines=170, parcels=1, returns=7, return_lines=12, transactions=12
    )
    mapped = reader.order(order)
    _assert_whole(fake_shopify, mapped, order)
    assert mapped is not None
    record = mapped.order.record
    assert len(record["lines"]) == 170
    assert [len(r["lines"]) for r in record["returns"]] == [12] * 7
    assert record["refunds"][0]["amount"] == "12.00"  # every transaction counted
    ok = fake_shopify.operations()
    assert ok[:2] == ["Order", "LongOrder"]
    assert {name: ok.count(name) for name in ok[2:]} == {
        "OrderLineItems": 1,
        "FulfillmentLineItems": 1,
        "RefundTransactions": 1,
        "OrderReturns": 1,
        "ReturnLineItems": 7,
    }
    paged = [c for c in fake_shopify.calls if c.outcome == "ok" and c.operation == "OrderLineItems"]
    assert paged[0].variables["after"]  # read on from the long read's endCursor
    _costs_within_the_ceiling(fake_shopify)


def _one_parcel_per_line(fake: FakeShopify, order_gid: str) -> None:
    for n, item in enumerate(fake.orders[order_gid]["lineItems"]["nodes"]):
        url = f"https://www.ups.com/track?tracknum=1ZPARCEL{n:04d}"
        fake.fulfil(order_gid, lines=[(item["id"], 1)], tracking=[("UPS", f"1ZPARCEL{n:04d}", url)])


def test_a_long_read_shopify_finds_too_costly_pages_on_from_the_listing(
    fake_shopify: FakeShopify, reader: ShopifyReader
) -> None:
    order = fake_shopify.add_long_order(1001)
    fake_shopify.max_query_cost = 990.0  # as if Shopify counted LongOrder (993) higher
    _assert_whole(fake_shopify, reader.order(order), order)
    assert fake_shopify.operations(outcome="invalid") == ["LongOrder"]
    assert {"OrderLineItems", "FulfillmentLineItems", "OrderReturns", "ReturnLineItems"} <= set(
        fake_shopify.operations()
    )
    assert reader.refused == {}


@pytest.mark.parametrize("parcels", [9, 10, 11])
def test_lists_without_page_info_are_read_again_when_they_may_be_cut(
    parcels: int, fake_shopify: FakeShopify, reader: ShopifyReader
) -> None:
    # fulfillments(first: 10) has no pageInfo: 10 back may mean 11 or more in the shop.
    order = fake_shopify.add_order(1001, lines=[Line(f"NW-P-{n:02d}") for n in range(parcels)])
    _one_parcel_per_line(fake_shopify, order)
    mapped = reader.order(order)
    _assert_whole(fake_shopify, mapped, order)
    assert mapped is not None and len(mapped.order.record["shipments"]) == parcels
    expected = ["Order"] if parcels < 10 else ["Order", "LongOrder"]
    assert fake_shopify.operations() == expected


def test_an_order_with_more_parcels_than_shopify_lists_is_refused_and_skipped(
    fake_shopify: FakeShopify, reader: ShopifyReader
) -> None:
    parcels = operations.LONG_ORDER_PAGES.fulfillments
    order = fake_shopify.add_order(1001, lines=[Line(f"NW-P-{n:02d}") for n in range(parcels)])
    _one_parcel_per_line(fake_shopify, order)
    with pytest.raises(IncompletePayloadError, match="fulfillments"):
        reader.order(order)
    others = fake_shopify.add_orders(2, start=datetime(2026, 12, 1, 13, tzinfo=UTC))
    listed = [o.order.admin_graphql_api_id for o in reader.orders_updated_since(SINCE)]
    assert listed == others
    assert list(reader.refused) == ["#1001"]
    assert "without pageInfo" in reader.refused["#1001"]


def _failing_after(fake: FakeShopify, operation: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once `operation` is answered, every later request fails with 503 (past the retries)."""
    answer = fake._answer

    def then_fail(op: Operation, variables: Mapping[str, Any]) -> tuple[dict[str, Any], float]:
        if op.name == operation:
            fake.fail_next(100, status=503)
        return answer(op, variables)

    monkeypatch.setattr(fake, "_answer", then_fail)


@pytest.mark.parametrize("operation", ["Order", "LongOrder", "OrderLineItems"])
def test_a_failure_while_reading_on_raises_unavailable_not_a_partial_order(
    operation: str,
    fake_shopify: FakeShopify,
    reader: ShopifyReader,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order = fake_shopify.add_long_order(1002, lines=170, parcels=1)
    _failing_after(fake_shopify, operation, monkeypatch)
    with pytest.raises(ShopifyUnavailable):
        reader.order(order)
    assert fake_shopify.operations()[-1] == operation


def test_a_failure_while_reading_on_stops_a_listing(
    fake_shopify: FakeShopify, reader: ShopifyReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    short = fake_shopify.add_order(1001, updated_at="2026-11-02T00:00:00Z")
    fake_shopify.add_long_order(1002)
    _failing_after(fake_shopify, "OrdersFullUpdatedSince", monkeypatch)
    listed = reader.orders_updated_since(SINCE)
    assert next(listed).order.admin_graphql_api_id == short
    with pytest.raises(ShopifyUnavailable):
        next(listed)  # the long order's re-read failed: raised, so the caller retries
    assert reader.refused == {}


def test_products_updated_since(fake_shopify: FakeShopify, reader: ShopifyReader) -> None:
    fake_shopify.add_product(
        1, "Old tee", [("NW-OLD-1", "9.00", 3)], updated_at="2026-10-01T00:00:00Z"
    )
    fake_shopify.add_product(
        2, "New tee", [("NW-NEW-1", "11.00", 4)], updated_at="2026-11-30T09:00:00Z"
    )
    changed = list(reader.products_updated_since(datetime(2026, 11, 30, tzinfo=UTC)))
    assert [p.variants[0].record["sku"] for p in changed] == ["NW-NEW-1"]
    (call,) = fake_shopify.calls_to("products")
    assert call.variables["query"] == "updated_at:>'2026-11-30T00:00:00Z'"


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
    # One order past every page size, so each page document runs too.
    reader.order(
        fake_shopify.add_long_order(
            1002, lines=170, parcels=1, returns=7, return_lines=12, transactions=12
        )
    )
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
