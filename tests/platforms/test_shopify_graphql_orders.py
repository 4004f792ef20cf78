"""GraphQL Order / Product nodes → REST-shaped bodies (bot/platforms/shopify/graphql_orders.py).

The round trip: an order built in the fake shop, read through the real client with
operations.ORDER, translated and mapped, gives the same export records as the REST body the
fake renders for the same state (`webhook_body`, Shopify's orders/updated shape). Plus the
translation of Shopify's documented GraphQL sample shapes (../shared/fixtures/shopify/graphql/,
read from there) and the id rule.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.platforms.shopify import operations
from bot.platforms.shopify.admin_api import ShopifyAdminClient
from bot.platforms.shopify.graphql_orders import (
    numeric_id,
    order_body,
    possibly_cut_lists,
    product_body,
    truncated_connections,
)
from bot.platforms.shopify.mapping import export_document, map_order, map_product
from bot.store.export_validation import validate_export
from tests.platforms.fake_shopify_api import FakeShopify, Line


@pytest.fixture
def client(fake_shopify: FakeShopify) -> Iterator[ShopifyAdminClient]:
    with fake_shopify.client() as shop_client:
        yield shop_client


def _read(client: ShopifyAdminClient, order_gid: str) -> dict[str, Any]:
    node = client.execute(operations.ORDER, {"id": order_gid})["order"]
    assert isinstance(node, dict)
    return node


def _unfulfilled(fake: FakeShopify) -> str:
    return fake.add_order(1001)


def _two_lines_discounted(fake: FakeShopify) -> str:
    return fake.add_order(
        1002,
        lines=[
            Line("NW-TEE-001", 2, "25.00"),
            Line("NW-CAP-002", 1, "15.50", "Cap", discount="1.50"),
        ],
        tax="3.25",
    )


def _partly_fulfilled(fake: FakeShopify) -> str:
    order = fake.add_order(1003, lines=[Line("NW-TEE-001", 1), Line("NW-CAP-002", 1, "15.00")])
    first_line = fake.order(order)["lineItems"]["nodes"][0]["id"]
    fake.fulfil(order, lines=[(first_line, 1)])
    return order


def _in_transit(fake: FakeShopify) -> str:
    order = fake.add_order(1004)
    fake.fulfil(order)
    fake.set_fulfillment_status(order, "IN_TRANSIT")
    return order


def _out_for_delivery(fake: FakeShopify) -> str:
    order = _in_transit(fake)
    fake.set_fulfillment_status(order, "OUT_FOR_DELIVERY")
    return order


def _delayed(fake: FakeShopify) -> str:
    order = _in_transit(fake)
    fake.set_fulfillment_status(order, "DELAYED", message="Weather")
    return order


def _failed(fake: FakeShopify) -> str:
    order = _in_transit(fake)
    fake.set_fulfillment_status(order, "FAILURE")
    return order


def _delivered(fake: FakeShopify) -> str:
    order = _in_transit(fake)
    fake.set_fulfillment_status(order, "DELIVERED")
    return order


def _partly_refunded(fake: FakeShopify) -> str:
    order = _delivered(fake)
    fake.add_refund(order, "10.00")
    return order


def _returned_and_refunded(fake: FakeShopify) -> str:
    order = _delivered(fake)
    returned = fake.add_return(order, status="CLOSED", reason="SIZE_TOO_SMALL")
    fake.add_refund(order, return_gid=returned)
    return order


def _return_requested(fake: FakeShopify) -> str:
    order = _delivered(fake)
    fake.add_return(order, reason="DEFECTIVE")
    return order


def _failed_refund(fake: FakeShopify) -> str:
    order = _delivered(fake)
    fake.add_refund(order, "5.00", status="FAILURE")
    return order


def _vip_customer_two_parcels(fake: FakeShopify) -> str:
    order = fake.add_order(
        1005,
        lines=[Line("NW-TEE-001", 1), Line("NW-CAP-002", 1, "15.00")],
        customer={"tags": ["VIP", "wholesale"]},
        phone="+16135550101",
    )
    tee, cap = (item["id"] for item in fake.order(order)["lineItems"]["nodes"])
    fake.fulfil(order, lines=[(tee, 1)])
    fake.fulfil(
        order,
        lines=[(cap, 1)],
        tracking=[("Canada Post", "7023 2100 0123 4567", "http://canadapost.ca/t/70232100")],
    )
    return order


def _cancelled(fake: FakeShopify) -> str:
    order = fake.add_order(1006, financial_status="VOIDED")
    fake.orders[order]["cancelledAt"] = fake.orders[order]["updatedAt"] = "2026-11-30T11:00:00Z"
    fake.orders[order]["cancelReason"] = "CUSTOMER"
    return order


def _guest_without_customer_account(fake: FakeShopify) -> str:
    order = fake.add_order(1007)
    fake.orders[order]["customer"] = None
    fake.orders[order]["email"] = "guest@example.com"
    return order


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _without_return_times(record: dict[str, Any]) -> dict[str, Any]:
    returns = [{**r, "created_at": None} for r in record["returns"]]
    return {**record, "returns": returns}


SHOPS: dict[str, Callable[[FakeShopify], str]] = {
    "unfulfilled": _unfulfilled,
    "two lines, a discount, tax": _two_lines_discounted,
    "partly fulfilled": _partly_fulfilled,
    "in transit": _in_transit,
    "out for delivery": _out_for_delivery,
    "delayed": _delayed,
    "carrier failure": _failed,
    "delivered": _delivered,
    "partly refunded": _partly_refunded,
    "returned and refunded": _returned_and_refunded,
    "return requested": _return_requested,
    "failed refund": _failed_refund,
    "VIP, two parcels": _vip_customer_two_parcels,
    "cancelled": _cancelled,
    "guest checkout": _guest_without_customer_account,
}

EXPECTED_STATUS = {
    "unfulfilled": ("paid", []),
    "two lines, a discount, tax": ("paid", []),
    "partly fulfilled": ("partially_shipped", ["in_transit"]),
    "in transit": ("shipped", ["in_transit"]),
    "out for delivery": ("out_for_delivery", ["out_for_delivery"]),
    "delayed": ("shipped", ["delayed"]),
    "carrier failure": ("shipped", ["exception"]),
    "delivered": ("delivered", ["delivered"]),
    "partly refunded": ("delivered", ["delivered"]),
    "returned and refunded": ("refunded", ["delivered"]),
    "return requested": ("delivered", ["delivered"]),
    "failed refund": ("delivered", ["delivered"]),
    "VIP, two parcels": ("shipped", ["in_transit", "in_transit"]),
    "cancelled": ("cancelled", []),
    "guest checkout": ("paid", []),
}


@pytest.mark.parametrize("case", sorted(SHOPS))
def test_graphql_and_webhook_bodies_map_to_the_same_records(
    case: str, fake_shopify: FakeShopify, client: ShopifyAdminClient
) -> None:
    order_gid = SHOPS[case](fake_shopify)
    from_graphql = map_order(order_body(_read(client, order_gid)))
    from_webhook = map_order(json.loads(fake_shopify.webhook_body(order_gid)))

    # GraphQL has a return's createdAt; REST return bodies carry no time, so the webhook's
    # return is dated by the order's updated_at. Everything else is the same.
    graphql_returns = from_graphql.order.record["returns"]
    created = {fake_shopify.returns[r]["createdAt"] for r in fake_shopify.returns}
    assert {_instant(r["created_at"]) for r in graphql_returns} == {_instant(c) for c in created}
    assert _without_return_times(from_graphql.order.record) == _without_return_times(
        from_webhook.order.record
    )
    # An order webhook's customer has no tags (Shopify's sample), so only the Admin API read
    # knows a VIP; the rest of the customer is the same.
    assert from_graphql.customer.record == {
        **from_webhook.customer.record,
        "is_vip": from_graphql.customer.record["is_vip"],
    }
    assert from_webhook.customer.record["is_vip"] is False
    assert from_graphql.name == from_webhook.name
    assert from_graphql.order.external_id == from_webhook.order.external_id
    assert from_graphql.order.admin_graphql_api_id == order_gid
    assert from_graphql.order.updated_at == from_webhook.order.updated_at
    assert from_graphql.customer.external_id == from_webhook.customer.external_id
    assert [s.external_id for s in from_graphql.shipments] == [
        s.external_id for s in from_webhook.shipments
    ]
    assert [r.external_id for r in from_graphql.refunds] == [
        r.external_id for r in from_webhook.refunds
    ]
    assert from_graphql.shopify_total == from_webhook.shopify_total

    status, parcels = EXPECTED_STATUS[case]
    record = from_graphql.order.record
    assert record["status"] == status
    assert [s["status"] for s in record["shipments"]] == parcels

    fake_shopify.stock_order_skus()
    products = [
        v.record
        for p in fake_shopify.products.values()
        for v in map_product(product_body(p)).variants
    ]
    document = export_document(
        reference_date=date(2026, 12, 1),
        customers=[from_graphql.customer.record],
        products=products,
        orders=[record],
    )
    assert validate_export(document) == []


def test_the_round_trip_carries_the_details(
    fake_shopify: FakeShopify, client: ShopifyAdminClient
) -> None:
    order_gid = _vip_customer_two_parcels(fake_shopify)
    mapped = map_order(order_body(_read(client, order_gid)))
    assert mapped.customer.record["is_vip"] is True
    assert mapped.customer.record["phone"] == "+16135550101"
    second = mapped.order.record["shipments"][1]
    assert second["tracking_number"] == "7023210001234567"  # separators removed
    assert second["tracking_url"].startswith("https://")  # upgraded
    assert second["carrier"] == "Canada Post"
    assert mapped.order.record["payment_method"] == "shopify_payments"
    assert mapped.order.record["shipping_address"]["country"] == "CA"

    discounted = map_order(order_body(_read(client, _two_lines_discounted(fake_shopify))))
    lines = {line["sku"]: line for line in discounted.order.record["lines"]}
    assert lines["NW-CAP-002"]["unit_price"] == "14.00"  # 15.50 less the 1.50 allocated
    assert discounted.order.record["tax_total"] == "3.25"


def test_returns_name_their_lines_through_the_fragment(
    fake_shopify: FakeShopify, client: ShopifyAdminClient
) -> None:
    node = _read(client, _return_requested(fake_shopify))
    (returned,) = node["returns"]["nodes"]
    assert returned["returnLineItems"]["nodes"][0]["fulfillmentLineItem"]["lineItem"]["sku"] == (
        "NW-TEE-001"
    )
    (mapped,) = map_order(order_body(node)).order.record["returns"]
    assert mapped["status"] == "requested"
    assert mapped["reason"] == "defective"
    assert mapped["lines"] == [{"sku": "NW-TEE-001", "quantity": 1}]


@pytest.mark.parametrize(
    ("gid", "legacy", "expected"),
    [
        ("gid://shopify/Order/820982911946154508", None, "820982911946154508"),
        ("gid://shopify/Order/1", "1", "1"),
        (
            "gid://shopify/InventoryLevel/24826418?inventory_item_id=271878346596884015",
            None,
            "24826418",
        ),
        ("gid://shopify/LineItem/5", "", "5"),
        (None, None, None),
        (12, None, 12),  # not a gid: passed on for the mapper to judge
    ],
)
def test_numeric_id(gid: Any, legacy: Any, expected: Any) -> None:
    assert numeric_id(gid, legacy) == expected


def test_a_long_order_is_reported_as_cut_short(
    fake_shopify: FakeShopify, client: ShopifyAdminClient
) -> None:
    lines = [Line(f"NW-SKU-{n:03d}", 1, "5.00") for n in range(operations.LINE_ITEMS_FIRST + 1)]
    order_gid = fake_shopify.add_order(1010, lines=lines)
    assert truncated_connections(_read(client, order_gid)) == ("lineItems",)
    assert truncated_connections(_read(client, _returned_and_refunded(fake_shopify))) == ()


def test_lists_without_page_info_are_reported_when_full(
    fake_shopify: FakeShopify, client: ShopifyAdminClient
) -> None:
    pages = operations.LISTING_PAGES
    # One line of 11, sent one at a time: 11 parcels.
    order_gid = fake_shopify.add_order(1011, lines=[Line("NW-P-01", 11)])
    (item,) = fake_shopify.orders[order_gid]["lineItems"]["nodes"]
    for n in range(11):
        fake_shopify.fulfil(order_gid, lines=[(item["id"], 1)], tracking=[("UPS", f"1Z{n}", None)])
    node = _read(client, order_gid)
    # Shopify (and the fake) cut `fulfillments(first: 10)` silently: no pageInfo says so.
    assert len(node["fulfillments"]) == pages.fulfillments
    assert truncated_connections(node) == ()
    assert possibly_cut_lists(node, pages.fulfillments, pages.refunds, pages.tracking) == (
        "fulfillments",
    )
    assert possibly_cut_lists(node, 12, pages.refunds, 2) == ()
    assert possibly_cut_lists(node, 12, pages.refunds, 1) == ("fulfillments.trackingInfo",)
    short = _read(client, _returned_and_refunded(fake_shopify))
    assert possibly_cut_lists(short, pages.fulfillments, pages.refunds, pages.tracking) == ()
    assert possibly_cut_lists(short, pages.fulfillments, 1, pages.tracking) == ("refunds",)


def test_the_long_read_asks_every_connections_end_cursor(
    fake_shopify: FakeShopify, client: ShopifyAdminClient
) -> None:
    order_gid = fake_shopify.add_long_order(1012, lines=90, parcels=1)
    node = client.execute(operations.LONG_ORDER, {"id": order_gid})["order"]
    info = node["lineItems"]["pageInfo"]
    assert len(node["lineItems"]["nodes"]) == operations.LONG_ORDER_PAGES.line_items
    assert info["hasNextPage"] is True and info["endCursor"]
    rest = client.execute(
        operations.ORDER_LINE_ITEMS, {"id": order_gid, "first": 50, "after": info["endCursor"]}
    )["order"]["lineItems"]
    assert len(rest["nodes"]) == 90 - operations.LONG_ORDER_PAGES.line_items
    assert rest["pageInfo"]["hasNextPage"] is False
    ids = [n["id"] for n in node["lineItems"]["nodes"] + rest["nodes"]]
    assert ids == [i["id"] for i in fake_shopify.orders[order_gid]["lineItems"]["nodes"]]


# -- Shopify's documented sample shapes ------------------------------------------------------


@pytest.fixture
def graphql_fixtures(shared_dir: Path) -> Path:
    return shared_dir / "fixtures" / "shopify" / "graphql"


def test_shopifys_fulfillment_samples_translate(graphql_fixtures: Path) -> None:
    # The fulfillment(id:) examples: trackingInfo as a list, line items as edges, events as
    # edges with FulfillmentEventStatus values; placed in an order of the fake's shape.
    tracking = json.loads(
        (graphql_fixtures / "fulfillment_tracking_query.response.json").read_text()
    )
    events = json.loads((graphql_fixtures / "fulfillment_events_query.response.json").read_text())
    fulfilment = {
        **tracking["fulfillment"],
        "id": "gid://shopify/Fulfillment/237894043",
        "createdAt": "2016-05-02T10:00:00Z",
        "updatedAt": "2016-05-03T11:00:00Z",
        "events": events["fulfillment"]["events"],
    }
    with FakeShopify() as fake:
        order = fake.order(fake.add_order(1001))
    order["returns"] = {"nodes": []}
    order["fulfillments"] = [fulfilment]
    order["displayFulfillmentStatus"] = "FULFILLED"
    body = order_body(order)
    (shipment,) = body["fulfillments"]
    assert shipment["id"] == "237894043"
    assert shipment["status"] == "success"
    assert shipment["shipment_status"] == "out_for_delivery"  # the later of the two events
    assert shipment["tracking_company"] == "UPS"
    assert shipment["tracking_numbers"] == ["1Z1234512345123456"]
    assert shipment["line_items"][0]["variant_id"] == "43729076"
    (parcel,) = map_order(body).order.record["shipments"]
    assert parcel["status"] == "out_for_delivery"
    assert parcel["tracking_url"] == tracking["fulfillment"]["trackingInfo"][0]["url"]


def test_money_as_the_api_writes_it(graphql_fixtures: Path) -> None:
    # Shopify's GraphQL amounts drop trailing zeros ("20.0"); the export's have two places.
    sample = json.loads((graphql_fixtures / "fulfillment_tracking_query.response.json").read_text())
    amount = sample["fulfillment"]["fulfillmentLineItems"]["edges"][0]["node"]["originalTotalSet"]
    with FakeShopify() as fake:
        order = fake.order(fake.add_order(1001))
    order["returns"] = {"nodes": []}
    order["lineItems"]["nodes"][0]["originalUnitPriceSet"] = amount
    record = map_order(order_body(order)).order.record
    assert record["lines"][0]["unit_price"] == "20.00"


def test_a_product_translates_with_its_variants() -> None:
    with FakeShopify() as fake:
        gid = fake.add_product(
            7, "Trail tee", [("NW-TEE-S", "25.0", 3), ("NW-TEE-M", "25.0", -2)],
            variant_titles=["Small", "Medium"],
        )  # fmt: skip
        node = fake.products[gid]
    mapped = map_product(product_body(node))
    assert [v.record for v in mapped.variants] == [
        {"sku": "NW-TEE-S", "name": "Trail tee - Small", "category": "Apparel",
         "price": "25.00", "stock": 3},
        {"sku": "NW-TEE-M", "name": "Trail tee - Medium", "category": "Apparel",
         "price": "25.00", "stock": 0},
    ]  # fmt: skip
    items = node["variants"]["nodes"]
    assert mapped.inventory_items == {
        numeric_id(items[0]["inventoryItem"]["id"]): "NW-TEE-S",
        numeric_id(items[1]["inventoryItem"]["id"]): "NW-TEE-M",
    }
    assert mapped.variants[0].order_external_id == "7"


# -- the fake's webhook body has Shopify's shape ---------------------------------------------


def _keys(value: Any) -> set[str]:
    return set(value) if isinstance(value, dict) else set()


@pytest.fixture
def webhook_fixtures(shared_dir: Path) -> Path:
    return shared_dir / "fixtures" / "shopify" / "webhooks"


def test_webhook_body_uses_only_fields_of_shopifys_samples(
    fake_shopify: FakeShopify, webhook_fixtures: Path
) -> None:
    # Every field the fake's orders/updated body has is one Shopify's samples have, at the
    # same place: the mapper is tested against REST bodies as Shopify writes them, not as
    # the fake imagines them. (A return's line items have no sample: docs gap 11.)
    def sample(name: str) -> dict[str, Any]:
        loaded = json.loads((webhook_fixtures / name).read_text())
        assert isinstance(loaded, dict)
        return loaded

    order_sample = sample("webhook_orders_create.json")
    fulfilment_sample = sample("webhook_fulfillments_update.json")
    refund_sample = sample("webhook_refunds_create.json")
    return_sample = sample("webhook_returns_request.json")
    order_gid = _returned_and_refunded(fake_shopify)
    body = json.loads(fake_shopify.webhook_body(order_gid))

    assert _keys(body) - _keys(order_sample) == set()
    assert _keys(body["customer"]) - _keys(order_sample["customer"]) == set()
    for key in ("shipping_address", "billing_address"):
        assert _keys(body[key]) - _keys(order_sample[key]) == set()
    assert _keys(body["shipping_lines"][0]) - _keys(order_sample["shipping_lines"][0]) == set()
    sample_line = order_sample["line_items"][0]
    for line in body["line_items"]:
        assert _keys(line) - _keys(sample_line) == set()
    (fulfilment,) = body["fulfillments"]
    assert _keys(fulfilment) - _keys(fulfilment_sample) == set()
    (refund,) = body["refunds"]
    assert _keys(refund) - _keys(refund_sample) == set()
    assert _keys(refund["transactions"][0]) - _keys(refund_sample["transactions"][0]) == set()
    (returned,) = body["returns"]
    assert _keys(returned) - _keys(return_sample) - {"return_line_items"} == set()
    assert isinstance(body["id"], int) and body["admin_graphql_api_id"] == order_gid
