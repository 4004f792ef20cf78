"""GraphQL Admin API Order and Product nodes → the REST-shaped bodies that mapping.py maps.

One mapper holds the export rules (`map_order`, `map_product`); the Admin API reads
(reader.py) only translate what GraphQL answers into the body a webhook would have carried.
Pure: a node (decoded JSON) in, a dict out; nothing is decided here that mapping.py decides.

| GraphQL (operations.ORDER_FIELDS) | REST body field |
| --- | --- |
| `id` (gid) / `legacyResourceId` | `admin_graphql_api_id` / `id` (the gid's tail when there is no legacyResourceId) |
| `name`, `number` | `name`, `order_number` |
| `email`, `phone` | `email` (and `contact_email`), `phone` |
| `createdAt`, `processedAt`, `updatedAt`, `cancelledAt` | `created_at`, `processed_at`, `updated_at`, `cancelled_at` |
| `displayFinancialStatus` (PAID) | `financial_status` (paid): lower-cased, the same words |
| `displayFulfillmentStatus` (FULFILLED) | `fulfillment_status`: lower-cased; mapping.py reads both vocabularies |
| `currencyCode`, `taxesIncluded`, `paymentGatewayNames` | `currency`, `taxes_included`, `payment_gateway_names` |
| `subtotalPriceSet`, `totalShippingPriceSet`, `totalTaxSet`, `totalPriceSet`, `totalDiscountsSet` `{shopMoney {amount}}` | `subtotal_price_set`, `total_shipping_price_set`, `total_tax_set`, `total_price_set`, `total_discounts_set` `{shop_money {amount}}` |
| `customer {id firstName lastName defaultEmailAddress {emailAddress} defaultPhoneNumber {phoneNumber} tags createdAt updatedAt}` | `customer {id email phone first_name last_name tags ("a, b") created_at updated_at}` |
| `shippingAddress`, `billingAddress` (`countryCodeV2`, `provinceCode`, `firstName`, ...) | `shipping_address`, `billing_address` (`country_code`, `province_code`, `first_name`, ...) |
| `shippingLine {title}` | `shipping_lines [{title}]` |
| `lineItems.nodes {id sku name quantity originalUnitPriceSet variant {id} discountAllocations {allocatedAmountSet}}` | `line_items [{id sku name quantity price_set variant_id discount_allocations [{amount_set}]}]` |
| `fulfillments {id status displayStatus createdAt updatedAt deliveredAt estimatedDeliveryAt trackingInfo events fulfillmentLineItems}` | `fulfillments [{id status shipment_status created_at updated_at delivered_at estimated_delivery_at tracking_company tracking_numbers tracking_urls line_items}]` |
| a fulfilment's latest `events` status (else its `displayStatus` when that is a carrier status) | `shipment_status`, lower-cased |
| `refunds {id createdAt processedAt return {id} transactions.nodes {id kind status gateway createdAt processedAt amountSet}}` | `refunds [{id created_at processed_at return {id} transactions [{id kind status gateway amount currency created_at processed_at}]}]` |
| `returns.nodes {id name status createdAt returnLineItems.nodes {quantity returnReason ... on ReturnLineItem {fulfillmentLineItem {lineItem {id sku}}}}}` | `returns [{id name status created_at return_line_items [{quantity return_reason fulfillment_line_item {line_item {id sku}}}]}]` |
| Product `{id title productType updatedAt variants.nodes {id sku title price inventoryQuantity updatedAt inventoryItem {id}}}` | product `{id title product_type updated_at variants [{id sku title price inventory_quantity updated_at inventory_item_id}]}` |

GraphQL knows more than the REST bodies in two places, and the mapped records differ there:
a return's `createdAt` (REST return bodies carry no time, so mapping.py falls back to the
order's `updated_at` or the webhook's X-Shopify-Triggered-At) and a fulfilment's
`deliveredAt` / `estimatedDeliveryAt` (REST has neither; the mapper uses `updated_at`); and
the customer's `tags` are only here (an orders/* webhook's customer has none), so only this
path knows a VIP.
Not carried: a fulfilment's events themselves (only the latest status is used, as REST's `shipment_status`
is), `totalRefundedSet` (the mapper counts the refund transactions, which is what moved).
Values that are not what the translation expects (a string where an object belongs) are
passed on unchanged, so mapping.py's ShopifyPayloadError names them.
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.platforms.shopify.shipment_status import TRACKING_STATUSES

JsonObject = dict[str, Any]


def numeric_id(gid: Any, legacy: Any = None) -> Any:
    """The REST id of a resource: its `legacyResourceId`, else the tail of its GID
    ("gid://shopify/Order/1001" → "1001"; a query string such as InventoryLevel's is dropped).
    Strings, never floats: ids exceed 2**53. Anything else is passed on for the mapper to
    refuse."""
    if isinstance(legacy, str) and legacy:
        return legacy
    if isinstance(gid, str) and gid.startswith("gid://"):
        return gid.rsplit("/", 1)[-1].split("?", 1)[0]
    return gid


def order_body(node: Mapping[str, Any]) -> JsonObject:
    """An Order node (operations.ORDER_FIELDS) as the REST body `map_order` takes."""
    currency = node.get("currencyCode")
    customer = node.get("customer")
    shipping_line = node.get("shippingLine")
    order_id = numeric_id(node.get("id"), node.get("legacyResourceId"))
    return {
        "id": order_id,
        "admin_graphql_api_id": node.get("id"),
        "name": node.get("name"),
        "order_number": node.get("number"),
        "email": node.get("email"),
        "contact_email": node.get("email"),
        "phone": node.get("phone"),
        "created_at": node.get("createdAt"),
        "processed_at": node.get("processedAt"),
        "updated_at": node.get("updatedAt"),
        "cancelled_at": node.get("cancelledAt"),
        "financial_status": _lower(node.get("displayFinancialStatus")),
        "fulfillment_status": _lower(node.get("displayFulfillmentStatus")),
        "currency": currency,
        "taxes_included": node.get("taxesIncluded"),
        "subtotal_price_set": _money_set(node.get("subtotalPriceSet")),
        "total_shipping_price_set": _money_set(node.get("totalShippingPriceSet")),
        "total_tax_set": _money_set(node.get("totalTaxSet")),
        "total_price_set": _money_set(node.get("totalPriceSet")),
        "total_discounts_set": _money_set(node.get("totalDiscountsSet")),
        "payment_gateway_names": node.get("paymentGatewayNames"),
        "customer": _customer(customer) if isinstance(customer, Mapping) else customer,
        "shipping_address": _address(node.get("shippingAddress")),
        "billing_address": _address(node.get("billingAddress")),
        "shipping_lines": [{"title": shipping_line.get("title")}]
        if isinstance(shipping_line, Mapping)
        else [],
        "line_items": [_line_item(item) for item in _nodes(node.get("lineItems"))],
        "fulfillments": [_fulfilment(f, order_id) for f in _list(node.get("fulfillments"))],
        "refunds": [_refund(r, order_id, currency) for r in _list(node.get("refunds"))],
        "returns": [_return(r) for r in _nodes(node.get("returns"))],
    }


def product_body(node: Mapping[str, Any]) -> JsonObject:
    """A Product node (operations.PRODUCTS) as the REST body `map_product` takes."""
    product_id = numeric_id(node.get("id"), node.get("legacyResourceId"))
    variants = []
    for variant in _nodes(node.get("variants")):
        item = variant.get("inventoryItem")
        variants.append(
            {
                "id": numeric_id(variant.get("id"), variant.get("legacyResourceId")),
                "admin_graphql_api_id": variant.get("id"),
                "product_id": product_id,
                "sku": variant.get("sku"),
                "title": variant.get("title"),
                "price": variant.get("price"),
                "inventory_quantity": variant.get("inventoryQuantity"),
                "updated_at": variant.get("updatedAt"),
                "inventory_item_id": numeric_id(item.get("id"), item.get("legacyResourceId"))
                if isinstance(item, Mapping)
                else None,
            }
        )
    return {
        "id": product_id,
        "admin_graphql_api_id": node.get("id"),
        "title": node.get("title"),
        "product_type": node.get("productType"),
        "updated_at": node.get("updatedAt"),
        "variants": variants,
    }


#: The nested connections of a full order whose truncation would lose data, as paths.
_ORDER_CONNECTIONS: tuple[tuple[str, ...], ...] = (
    ("lineItems",),
    ("fulfillments", "fulfillmentLineItems"),
    ("refunds", "transactions"),
    ("returns",),
    ("returns", "returnLineItems"),
)


def truncated_connections(node: Mapping[str, Any]) -> tuple[str, ...]:
    """The nested connections of an Order node that have more than was answered
    (`pageInfo.hasNextPage`): an order mapped from them would miss lines, parcels or refunds.
    Fulfilment events are not among them: only the latest (`last:`) are asked for."""
    found: list[str] = []
    for path in _ORDER_CONNECTIONS:
        for owner in _owners(node, path[:-1]):
            connection = owner.get(path[-1])
            info = connection.get("pageInfo") if isinstance(connection, Mapping) else None
            if isinstance(info, Mapping) and info.get("hasNextPage"):
                found.append(".".join(path))
                break
    return tuple(found)


def possibly_cut_lists(
    node: Mapping[str, Any], fulfillments: int, refunds: int, tracking: int
) -> tuple[str, ...]:
    """The plain lists of an Order node (no pageInfo) that came back as long as the `first`
    they were asked with: Shopify cuts these without saying so, so a full one may hold more.
    The sizes are those of the document the node was read with (operations.OrderPages)."""
    found: list[str] = []
    if len(_list(node.get("fulfillments"))) >= fulfillments:
        found.append("fulfillments")
    if len(_list(node.get("refunds"))) >= refunds:
        found.append("refunds")
    if any(len(_list(f.get("trackingInfo"))) >= tracking for f in _list(node.get("fulfillments"))):
        found.append("fulfillments.trackingInfo")
    return tuple(found)


def product_truncated(node: Mapping[str, Any]) -> bool:
    variants = node.get("variants")
    info = variants.get("pageInfo") if isinstance(variants, Mapping) else None
    return isinstance(info, Mapping) and bool(info.get("hasNextPage"))


# ------------------------------------------------------------------ parts


def _owners(node: Mapping[str, Any], path: Sequence[str]) -> list[Mapping[str, Any]]:
    owners: list[Mapping[str, Any]] = [node]
    for key in path:
        below: list[Mapping[str, Any]] = []
        for owner in owners:
            value = owner.get(key)
            below.extend(_nodes(value) if isinstance(value, Mapping) else _list(value))
        owners = below
    return owners


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _list(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _nodes(connection: Any) -> list[Mapping[str, Any]]:
    """A connection's nodes, whether `nodes` or `edges {node}` was selected."""
    if not isinstance(connection, Mapping):
        return []
    if isinstance(connection.get("nodes"), list):
        return _list(connection["nodes"])
    return [
        edge["node"]
        for edge in _list(connection.get("edges"))
        if isinstance(edge.get("node"), Mapping)
    ]


def _money_set(bag: Any) -> Any:
    """A MoneyBag `{shopMoney {amount currencyCode}}` as REST's `{shop_money {amount
    currency_code}}`; presentment money is never used by the mapper, so not carried."""
    if not isinstance(bag, Mapping):
        return bag
    shop = bag.get("shopMoney")
    if not isinstance(shop, Mapping):
        return {"shop_money": shop}
    return {"shop_money": {"amount": shop.get("amount"), "currency_code": shop.get("currencyCode")}}


def _customer(customer: Mapping[str, Any]) -> JsonObject:
    email = customer.get("defaultEmailAddress")
    phone = customer.get("defaultPhoneNumber")
    tags = customer.get("tags")
    return {
        "id": numeric_id(customer.get("id"), customer.get("legacyResourceId")),
        "admin_graphql_api_id": customer.get("id"),
        # defaultEmailAddress / defaultPhoneNumber since 2025-04; `email` / `phone` before.
        "email": email.get("emailAddress") if isinstance(email, Mapping) else customer.get("email"),
        "phone": phone.get("phoneNumber") if isinstance(phone, Mapping) else customer.get("phone"),
        "first_name": customer.get("firstName"),
        "last_name": customer.get("lastName"),
        # GraphQL tags are a list; REST's are one comma-separated string.
        "tags": ", ".join(t for t in tags if isinstance(t, str))
        if isinstance(tags, list)
        else tags,
        "created_at": customer.get("createdAt"),
        "updated_at": customer.get("updatedAt"),
    }


_ADDRESS_FIELDS = {
    "firstName": "first_name",
    "lastName": "last_name",
    "name": "name",
    "company": "company",
    "address1": "address1",
    "address2": "address2",
    "city": "city",
    "province": "province",
    "provinceCode": "province_code",
    "zip": "zip",
    "country": "country",
    "countryCodeV2": "country_code",
    "phone": "phone",
}


def _address(address: Any) -> Any:
    if not isinstance(address, Mapping):
        return address
    return {rest: address.get(graphql) for graphql, rest in _ADDRESS_FIELDS.items()}


def _line_item(item: Mapping[str, Any]) -> JsonObject:
    variant = item.get("variant")
    return {
        "id": numeric_id(item.get("id")),
        "admin_graphql_api_id": item.get("id"),
        "sku": item.get("sku"),
        "name": item.get("name"),
        "quantity": item.get("quantity"),
        "price_set": _money_set(item.get("originalUnitPriceSet")),
        "variant_id": numeric_id(variant.get("id")) if isinstance(variant, Mapping) else None,
        "discount_allocations": [
            {"amount_set": _money_set(d.get("allocatedAmountSet"))}
            for d in _list(item.get("discountAllocations"))
        ],
    }


def _shipment_status(fulfilment: Mapping[str, Any]) -> Any:
    """REST's `shipment_status`: the carrier's latest event; without events the fulfilment's
    displayStatus when it is a carrier status (FULFILLED, CANCELED, ... are not)."""
    events = [e for e in _nodes(fulfilment.get("events")) if isinstance(e.get("status"), str)]
    if events:
        # ISO 8601 UTC times from one API compare as text; the later listed wins a tie.
        latest = max(enumerate(events), key=lambda pair: (str(pair[1].get("happenedAt")), pair[0]))
        return latest[1]["status"].lower()
    display = fulfilment.get("displayStatus")
    if isinstance(display, str) and display.lower() in TRACKING_STATUSES:
        return display.lower()
    return None


def _fulfilment(fulfilment: Mapping[str, Any], order_id: Any) -> JsonObject:
    tracking = _list(fulfilment.get("trackingInfo"))
    numbers = [t.get("number") for t in tracking if t.get("number")]
    urls = [t.get("url") for t in tracking if t.get("url")]
    return {
        "id": numeric_id(fulfilment.get("id"), fulfilment.get("legacyResourceId")),
        "admin_graphql_api_id": fulfilment.get("id"),
        "order_id": order_id,
        "status": _lower(fulfilment.get("status")),
        "shipment_status": _shipment_status(fulfilment),
        "created_at": fulfilment.get("createdAt"),
        "updated_at": fulfilment.get("updatedAt"),
        "delivered_at": fulfilment.get("deliveredAt"),
        "estimated_delivery_at": fulfilment.get("estimatedDeliveryAt"),
        "tracking_company": tracking[0].get("company") if tracking else None,
        "tracking_numbers": numbers,
        "tracking_urls": urls,
        "line_items": [
            {**_line_item(line), "quantity": item.get("quantity")}
            for item in _nodes(fulfilment.get("fulfillmentLineItems"))
            if isinstance(line := item.get("lineItem"), Mapping)
        ],
    }


def _refund(refund: Mapping[str, Any], order_id: Any, currency: Any) -> JsonObject:
    linked = refund.get("return")
    transactions = []
    for transaction in _nodes(refund.get("transactions")):
        amount = transaction.get("amountSet")
        shop = amount.get("shopMoney") if isinstance(amount, Mapping) else None
        transactions.append(
            {
                "id": numeric_id(transaction.get("id")),
                "kind": _lower(transaction.get("kind")),
                "status": _lower(transaction.get("status")),
                "gateway": transaction.get("gateway"),
                "amount": shop.get("amount") if isinstance(shop, Mapping) else None,
                "currency": shop.get("currencyCode") if isinstance(shop, Mapping) else currency,
                "created_at": transaction.get("createdAt"),
                "processed_at": transaction.get("processedAt"),
            }
        )
    return {
        "id": numeric_id(refund.get("id"), refund.get("legacyResourceId")),
        "admin_graphql_api_id": refund.get("id"),
        "order_id": order_id,
        "created_at": refund.get("createdAt"),
        "processed_at": refund.get("processedAt"),
        "return": {"id": numeric_id(linked.get("id"))} if isinstance(linked, Mapping) else None,
        "transactions": transactions,
    }


def _return(request: Mapping[str, Any]) -> JsonObject:
    lines = []
    for item in _nodes(request.get("returnLineItems")):
        fulfilment_line = item.get("fulfillmentLineItem")
        line = fulfilment_line.get("lineItem") if isinstance(fulfilment_line, Mapping) else None
        lines.append(
            {
                "quantity": item.get("quantity"),
                "return_reason": _lower(item.get("returnReason")),
                "fulfillment_line_item": {"line_item": _line_item(line)}
                if isinstance(line, Mapping)
                else None,
            }
        )
    return {
        "id": numeric_id(request.get("id")),
        "admin_graphql_api_id": request.get("id"),
        "name": request.get("name"),
        "status": _lower(request.get("status")),
        "created_at": request.get("createdAt"),
        "return_line_items": lines,
    }
