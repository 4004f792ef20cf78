"""Shopify's webhook / REST bodies → records of relaydesk's store export (docs/store.md).

Pure: a body (already JSON-decoded) in, plain JSON-ready dicts out; no HTTP, SQL or files.
Each mapper returns its record(s) in a `Mapped` wrapper that also carries what the export format
has no field for yet: Shopify's ids, the resource's `updated_at` (for bot/domain/freshness.py)
and warnings about what could not be carried over exactly. docs/shopify-mapping.md has the
field-by-field table and the decisions; in short:

* order number: Shopify's `order_number` (digits; `name` "#1001" is kept as `name`);
* money: the shop-currency amount of each `*_set` pair (else the plain string), as exact
  two-decimal strings; three-decimal currencies are refused rather than rounded;
* order status: `order_status()`; shipment status: shipment_status.py.

Anything the mappers cannot use raises `ShopifyPayloadError` (and only that), naming the
field; `IncompletePayloadError` when the body is well-formed but lacks something the export
requires (fetch the resource from the Admin API instead). Records the mappers return pass
bot/store/export_validation.py once placed in an export document (`export_document()`) with
products for their SKUs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, TypeVar

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
from bot.platforms.shopify.shipment_status import shipment_status_for

JsonObject = dict[str, Any]
RecordT = TypeVar("RecordT")


class ShopifyPayloadError(ValueError):
    """A Shopify body the mappers cannot turn into export records; `path` names the field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class IncompletePayloadError(ShopifyPayloadError):
    """Well-formed, but without something the export needs (e.g. a return's line items):
    the full resource has to come from the Admin API."""


@dataclass(frozen=True)
class Mapped(Generic[RecordT]):
    """A mapped record plus what the export format cannot hold (yet)."""

    record: RecordT
    #: Shopify's numeric id, as a string (ids exceed 2**53; never a float).
    external_id: str | None
    #: The GraphQL id ("gid://shopify/Order/820982911946154508").
    admin_graphql_api_id: str | None
    #: The resource's `updated_at` (ISO 8601 with Shopify's offset), for bot/domain/freshness.py.
    updated_at: str | None
    #: The Shopify id of the order the record belongs to (fulfilments, refunds, returns).
    order_external_id: str | None = None
    #: What did not carry over exactly (dropped parcels, discounts, ...), for logs.
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class MappedOrder:
    """An order body: the order record (shipments, refunds and returns nested in it, as the
    export nests them), its customer, and the Shopify ids of each nested record."""

    order: Mapped[JsonObject]
    customer: Mapped[JsonObject]
    #: What the shop shows the shopper ("#1001"); the export keeps only the digits.
    name: str | None
    shipments: tuple[Mapped[JsonObject], ...]
    refunds: tuple[Mapped[JsonObject], ...]
    returns: tuple[Mapped[JsonObject], ...]
    #: Shopify's own `total_price` (shop money), which differs from the record's total when a
    #: discount could not be placed on the lines (see warnings).
    shopify_total: str | None = None

    @property
    def skus(self) -> tuple[str, ...]:
        return tuple(line["sku"] for line in self.order.record["lines"])


@dataclass(frozen=True)
class MappedProduct:
    #: One product record per variant (the export's products are SKUs).
    variants: tuple[Mapped[JsonObject], ...]
    #: inventory_item_id → sku: inventory_levels/update names only the inventory item.
    inventory_items: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StockLevel:
    """inventory_levels/update: stock of one inventory item at one location. The export's
    `stock` is per SKU over all locations, so this is not an export record by itself."""

    inventory_item_id: str
    location_id: str
    available: int
    updated_at: str | None
    admin_graphql_api_id: str | None


# ------------------------------------------------------------------ vocabularies

#: REST financial_status (lower-case; GraphQL OrderDisplayFinancialStatus upper-case) → whether
#: the shop has the money: decides `paid` vs `processing` in order_status().
PAID_FINANCIAL_STATUSES: dict[str, bool] = {
    "pending": False,
    "authorized": False,
    "partially_paid": False,
    "paid": True,
    "partially_refunded": True,
    "refunded": True,
    "voided": False,
    "expired": False,
}

#: REST order fulfillment_status (null, partial, fulfilled, restocked) and GraphQL
#: OrderDisplayFulfillmentStatus → the export's fulfilment status.
FULFILMENT_STATUSES: dict[str, FulfilmentStatus] = {
    "fulfilled": FulfilmentStatus.FULFILLED,
    "partial": FulfilmentStatus.PARTIALLY_FULFILLED,
    "partially_fulfilled": FulfilmentStatus.PARTIALLY_FULFILLED,
    "restocked": FulfilmentStatus.UNFULFILLED,
    "unfulfilled": FulfilmentStatus.UNFULFILLED,
    "open": FulfilmentStatus.UNFULFILLED,
    "in_progress": FulfilmentStatus.UNFULFILLED,
    "pending_fulfillment": FulfilmentStatus.UNFULFILLED,
    "on_hold": FulfilmentStatus.UNFULFILLED,
    "scheduled": FulfilmentStatus.UNFULFILLED,
    "request_declined": FulfilmentStatus.UNFULFILLED,
    # Nothing to ship (gift cards, services): there is nothing left to fulfil.
    "fulfillment_not_required": FulfilmentStatus.FULFILLED,
}

#: Shopify return status (REST lower-case; GraphQL ReturnStatus upper-case) → relaydesk.
RETURN_STATUSES: dict[str, ReturnStatus] = {
    "requested": ReturnStatus.REQUESTED,
    "open": ReturnStatus.APPROVED,
    "closed": ReturnStatus.COMPLETED,
    "declined": ReturnStatus.REJECTED,
    # relaydesk has no "cancelled" return: it will not happen, as with a rejection.
    "canceled": ReturnStatus.REJECTED,
    "cancelled": ReturnStatus.REJECTED,
}

#: Shopify ReturnReason → relaydesk's; unknown and missing reasons are OTHER.
RETURN_REASONS: dict[str, ReturnReason] = {
    "size_too_small": ReturnReason.TOO_SMALL,
    "size_too_large": ReturnReason.TOO_LARGE,
    "defective": ReturnReason.DEFECTIVE,
    "not_as_described": ReturnReason.NOT_AS_DESCRIBED,
    "wrong_item": ReturnReason.WRONG_ITEM,
    "unwanted": ReturnReason.CHANGED_MIND,
    "style": ReturnReason.CHANGED_MIND,
    "color": ReturnReason.CHANGED_MIND,
    "other": ReturnReason.OTHER,
    "unknown": ReturnReason.OTHER,
}

#: Shopify does not record the returned items' condition; the export requires one. "unused"
#: is what a shopper declares for a normal return; inspection (an agent) corrects it.
DEFAULT_RETURN_CONDITION = ItemCondition.UNUSED

#: Gateways whose refunds are store credit rather than money back.
STORE_CREDIT_GATEWAYS = frozenset({"gift_card", "store_credit", "shopify_store_credit"})

#: Customer tag that marks a VIP (Shopify has no VIP flag; shops tag customers).
VIP_TAG = "vip"
DEFAULT_CARRIER = "Other"  # Shopify's own label for a carrier it does not know
DEFAULT_CATEGORY = "uncategorised"

# The export schema's patterns (bot/store/export_schema.json), checked here so that whatever
# a mapper returns loads; the tests validate the mapped documents against the schema itself.
_MONEY = re.compile(r"^(0|[1-9][0-9]{0,9})\.[0-9]{2}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
_SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_TRACKING_NUMBER = re.compile(r"^[A-Za-z0-9]{4,64}$")
_TRACKING_URL = re.compile(r"^https://\S+$")
_RMA = re.compile(r"^[A-Z0-9][A-Z0-9-]{2,31}$")
_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_ORDER_NUMBER = re.compile(r"^[0-9]{1,20}$")
_TWO_PLACES = Decimal("0.01")


# ------------------------------------------------------------------ public mappers


def map_order(body: Any) -> MappedOrder:
    """orders/create, orders/updated, orders/cancelled, orders/fulfilled (and a REST order)."""
    order = _object(body, "order")
    warnings: list[str] = []
    order_id = _id(order, "id", "order")
    currency = _currency(order, "currency", "order")
    placed_at = _required_datetime(order, "created_at", "order")

    lines = _order_lines(order, warnings)
    customer = _order_customer(order, placed_at, warnings)
    address = _shipping_address(order)
    service = _shipping_service(order)
    shipments = _order_shipments(order, service, warnings)
    returns = _order_returns(order, lines, warnings)
    refunds = _order_refunds(order, returns, currency, warnings)

    subtotal = sum((Decimal(line["unit_price"]) * line["quantity"] for line in lines), Decimal(0))
    shipping = _money_of(order, "total_shipping_price", "order")
    if shipping is None:
        shipping = sum(
            (_money_of(line, "price", "order.shipping_lines[]") or Decimal(0))
            for _, line in _items(order.get("shipping_lines"), "order.shipping_lines")
        ) or Decimal(0)
    tax = _money_of(order, "total_tax", "order") or Decimal(0)
    if order.get("taxes_included") is True and tax:
        # Prices already include the tax: adding it again would overstate the total.
        warnings.append(f"taxes_included: tax {tax:.2f} is inside the line prices")
        tax = Decimal(0)
    total = subtotal + shipping + tax
    shopify_total = _money_of(order, "total_price", "order")
    if shopify_total is not None and shopify_total != total:
        warnings.append(
            f"total_price {shopify_total:.2f} differs from lines + shipping + tax {total:.2f}: "
            "the export format has no discount field"
        )

    refunded = sum(
        (Decimal(r.record["amount"]) for r in refunds if r.record["status"] != RefundStatus.FAILED),
        Decimal(0),
    )
    if refunded > total:
        raise ShopifyPayloadError("order.refunds", f"refunds of {refunded:.2f} exceed {total:.2f}")
    fulfilment = _fulfilment_status(order, shipments, warnings)
    cancelled_at = _datetime(order, "cancelled_at", "order")
    status = order_status(
        cancelled_at=cancelled_at,
        financial_status=_optional_str(order, "financial_status", "order"),
        fulfilment_status=fulfilment,
        shipment_statuses=[ShipmentStatus(s.record["status"]) for s in shipments],
        return_statuses=[ReturnStatus(r.record["status"]) for r in returns],
    )
    processed_at = _datetime(order, "processed_at", "order") or placed_at
    number = _order_number(order)
    record: JsonObject = {
        "number": number,
        "customer": customer.record["email"],
        "status": str(status),
        "fulfilment_status": str(fulfilment),
        "currency": currency,
        "subtotal": _money_text(subtotal, "order.subtotal"),
        "shipping_total": _money_text(shipping, "order.total_shipping_price_set"),
        "tax_total": _money_text(tax, "order.total_tax"),
        "total": _money_text(total, "order.total_price"),
        "payment_method": _payment_method(order),
        "placed_at": placed_at,
        # Shopify's order has no paid-at time; `processed_at` (when the checkout's payment was
        # processed) is the closest, and is only claimed once Shopify says the order is paid.
        # A refunded or returned order was paid even when Shopify's status says otherwise now.
        "paid_at": processed_at
        if _is_paid(order) or status not in (OrderStatus.PROCESSING, OrderStatus.CANCELLED)
        else None,
        "cancelled_at": cancelled_at if status is OrderStatus.CANCELLED else None,
        "shipping_address": address,
        "lines": lines,
        "shipments": [s.record for s in shipments],
        "returns": [r.record for r in returns],
        "refunds": [r.record for r in refunds],
    }
    mapped = Mapped(
        record=record,
        external_id=order_id,
        admin_graphql_api_id=_optional_str(order, "admin_graphql_api_id", "order"),
        updated_at=_datetime(order, "updated_at", "order"),
        warnings=tuple(warnings),
    )
    return MappedOrder(
        order=mapped,
        customer=customer,
        name=_optional_str(order, "name", "order"),
        shipments=shipments,
        refunds=refunds,
        returns=returns,
        shopify_total=None if shopify_total is None else f"{shopify_total:.2f}",
    )


def order_status(
    *,
    cancelled_at: str | None,
    financial_status: str | None,
    fulfilment_status: FulfilmentStatus,
    shipment_statuses: Sequence[ShipmentStatus] = (),
    return_statuses: Sequence[ReturnStatus] = (),
) -> OrderStatus:
    """relaydesk's order status from Shopify's fields; first match wins.

    | # | Shopify | OrderStatus |
    | 1 | `cancelled_at` set | cancelled |
    | 2 | financial_status `refunded` | refunded |
    | 3 | a return `closed` (items back and settled) | returned |
    | 4 | financial_status not paid (pending, authorized, partially_paid, voided, expired, null) | processing |
    | 5 | fulfilment unfulfilled | paid |
    | 6 | fulfilment partially fulfilled | partially_shipped |
    | 7 | fulfilled, every parcel delivered | delivered |
    | 8 | fulfilled, every parcel delivered or out for delivery, one out | out_for_delivery |
    | 9 | fulfilled otherwise (carrier trouble stays a shipment status) | shipped |

    `closed_at` (the merchant archived the order) is deliberately not used: archiving is
    bookkeeping, not a state the shopper sees.
    """  # noqa: E501
    if cancelled_at:
        return OrderStatus.CANCELLED
    financial = (financial_status or "").strip().lower()
    if financial == "refunded":
        return OrderStatus.REFUNDED
    if ReturnStatus.COMPLETED in return_statuses:
        return OrderStatus.RETURNED
    if not PAID_FINANCIAL_STATUSES.get(financial, False):
        return OrderStatus.PROCESSING
    if fulfilment_status is FulfilmentStatus.UNFULFILLED:
        return OrderStatus.PAID
    if fulfilment_status is FulfilmentStatus.PARTIALLY_FULFILLED:
        return OrderStatus.PARTIALLY_SHIPPED
    states = set(shipment_statuses)
    if states and states <= {ShipmentStatus.DELIVERED}:
        return OrderStatus.DELIVERED
    if ShipmentStatus.OUT_FOR_DELIVERY in states and states <= {
        ShipmentStatus.DELIVERED,
        ShipmentStatus.OUT_FOR_DELIVERY,
    }:
        return OrderStatus.OUT_FOR_DELIVERY
    return OrderStatus.SHIPPED


def map_fulfillment(body: Any, *, service: str | None = None) -> Mapped[tuple[JsonObject, ...]]:
    """fulfillments/create and fulfillments/update (and a REST fulfillment): one shipment per
    tracking number; none when the fulfilment was cancelled or has no usable tracking."""
    fulfilment = _object(body, "fulfillment")
    warnings: list[str] = []
    records = _shipments_of(fulfilment, "fulfillment", service, warnings)
    return Mapped(
        record=tuple(records),
        external_id=_id(fulfilment, "id", "fulfillment"),
        admin_graphql_api_id=_optional_str(fulfilment, "admin_graphql_api_id", "fulfillment"),
        updated_at=_datetime(fulfilment, "updated_at", "fulfillment"),
        order_external_id=_id(fulfilment, "order_id", "fulfillment", required=False),
        warnings=tuple(warnings),
    )


def map_fulfillment_event(body: Any) -> Mapped[JsonObject]:
    """A REST fulfillment event → a shipment's tracking event."""
    event = _object(body, "fulfillment_event")
    status = shipment_status_for("success", _optional_str(event, "status", "fulfillment_event"))
    assert status is not None  # "success" never maps to "no parcel"
    message = _optional_str(event, "message", "fulfillment_event")
    place = ", ".join(
        part
        for key in ("city", "province", "country")
        if (part := _optional_str(event, key, "fulfillment_event"))
    )
    record: JsonObject = {
        "occurred_at": _required_datetime(event, "happened_at", "fulfillment_event"),
        "status": str(status),
        "description": _text(message or _status_words(event.get("status")), 500),
        "location": _text(place, 200) or None,
    }
    return Mapped(
        record=record,
        external_id=_id(event, "id", "fulfillment_event"),
        admin_graphql_api_id=_optional_str(event, "admin_graphql_api_id", "fulfillment_event"),
        updated_at=_datetime(event, "updated_at", "fulfillment_event"),
        order_external_id=_id(event, "order_id", "fulfillment_event", required=False),
    )


def map_refund(body: Any) -> Mapped[JsonObject | None]:
    """refunds/create (and a REST refund). The record is None when no money moved (a restock
    or a zero refund): the export only records refunds of an amount."""
    refund = _object(body, "refund")
    warnings: list[str] = []
    record = _refund_record(refund, "refund", warnings)
    return Mapped(
        record=record,
        external_id=_id(refund, "id", "refund"),
        admin_graphql_api_id=_optional_str(refund, "admin_graphql_api_id", "refund"),
        updated_at=_datetime(refund, "processed_at", "refund")
        or _datetime(refund, "created_at", "refund"),
        order_external_id=_id(refund, "order_id", "refund", required=False),
        warnings=tuple(warnings),
    )


def map_return(
    body: Any, *, triggered_at: str | None = None, order_lines: Sequence[JsonObject] | None = None
) -> Mapped[JsonObject]:
    """returns/request (and the other returns/* topics). The body carries no time: the
    webhook's X-Shopify-Triggered-At (`triggered_at`) stands in for `created_at`.
    `order_lines` (the stored order's lines) resolves line items given only by id."""
    request = _object(body, "return")
    warnings: list[str] = []
    record = _return_record(request, "return", triggered_at, order_lines, warnings)
    order = request.get("order")
    order_id = _id(order, "id", "return.order", required=False) if isinstance(order, dict) else None
    return Mapped(
        record=record,
        external_id=_id(request, "id", "return"),
        admin_graphql_api_id=_optional_str(request, "admin_graphql_api_id", "return"),
        updated_at=_datetime(request, "updated_at", "return"),
        order_external_id=order_id or _id(request, "order_id", "return", required=False),
        warnings=tuple(warnings),
    )


def map_customer(body: Any, *, fallback_created_at: str | None = None) -> Mapped[JsonObject]:
    """customers/create|update (and the customer embedded in an order)."""
    customer = _object(body, "customer")
    return _customer(customer, "customer", None, fallback_created_at)


def map_product(body: Any) -> MappedProduct:
    """products/create|update: one export product per variant (the export's key is the SKU).

    `returnable` and `final_sale` are relaydesk policy, not Shopify data: they are left out
    so the record's defaults (or what the shop set in relaydesk) stand."""
    product = _object(body, "product")
    title = _text(_optional_str(product, "title", "product"), 200)
    if not title:
        raise ShopifyPayloadError("product.title", "missing")
    category = _text(_optional_str(product, "product_type", "product"), 64) or DEFAULT_CATEGORY
    product_id = _id(product, "id", "product")
    variants: list[Mapped[JsonObject]] = []
    inventory: dict[str, str] = {}
    seen: set[str] = set()
    for index, variant in _items(product.get("variants"), "product.variants"):
        path = f"product.variants[{index}]"
        sku = _sku(variant, path)
        if sku in seen:
            raise ShopifyPayloadError(path, f"sku {sku!r} repeats another variant's")
        seen.add(sku)
        variant_title = _optional_str(variant, "title", path)
        name = (
            title if variant_title in (None, "", "Default Title") else f"{title} - {variant_title}"
        )
        stock = _int(variant, "inventory_quantity", path, default=0)
        record: JsonObject = {
            "sku": sku,
            "name": _text(name, 200),
            "category": category,
            "price": _money_text(_required_money(variant, "price", path), path),
            # Shopify lets stock go negative (oversold); the export's floor is 0.
            "stock": max(0, stock),
        }
        item = _id(variant, "inventory_item_id", path, required=False)
        if item is not None:
            inventory[item] = sku
        variants.append(
            Mapped(
                record=record,
                external_id=_id(variant, "id", path, required=False),
                admin_graphql_api_id=_optional_str(variant, "admin_graphql_api_id", path),
                updated_at=_datetime(variant, "updated_at", path)
                or _datetime(product, "updated_at", "product"),
                order_external_id=product_id,
            )
        )
    if not variants:
        raise IncompletePayloadError("product.variants", "no variants")
    return MappedProduct(variants=tuple(variants), inventory_items=inventory)


def map_inventory_level(body: Any) -> StockLevel:
    """inventory_levels/update (and a REST inventory level)."""
    level = _object(body, "inventory_level")
    item = _id(level, "inventory_item_id", "inventory_level")
    location = _id(level, "location_id", "inventory_level")
    assert item is not None and location is not None  # required ids
    return StockLevel(
        inventory_item_id=item,
        location_id=location,
        available=_int(level, "available", "inventory_level", default=0),
        updated_at=_datetime(level, "updated_at", "inventory_level"),
        admin_graphql_api_id=_optional_str(level, "admin_graphql_api_id", "inventory_level"),
    )


def with_stock(product: JsonObject, levels: Iterable[StockLevel]) -> JsonObject:
    """`product` with its stock replaced by the sum of its locations' levels (floor 0)."""
    return {**product, "stock": max(0, sum(level.available for level in levels))}


def export_document(
    *,
    reference_date: date,
    customers: Iterable[JsonObject] = (),
    products: Iterable[JsonObject] = (),
    orders: Iterable[JsonObject] = (),
) -> JsonObject:
    """Records in an export document, ready for validate_export() / load_export()."""
    return {
        "format_version": 1,
        "reference_date": reference_date.isoformat(),
        "customers": list(customers),
        "products": list(products),
        "orders": list(orders),
    }


# ------------------------------------------------------------------ order parts


def _order_number(order: JsonObject) -> str:
    number = order.get("order_number")
    if isinstance(number, int) and not isinstance(number, bool) and number > 0:
        text = str(number)
    elif isinstance(number, str) and number.isascii() and number.isdigit():
        text = number
    else:
        # REST bodies from some API versions lack order_number: the digits of `name`.
        name = order.get("name")
        digits = (
            "".join(ch for ch in name if ch.isascii() and ch.isdigit())
            if isinstance(name, str)
            else ""
        )
        text = digits
    if not _ORDER_NUMBER.fullmatch(text):
        raise ShopifyPayloadError("order.order_number", f"{number!r} is not an order number")
    return text


def _order_lines(order: JsonObject, warnings: list[str]) -> list[JsonObject]:
    by_sku: dict[str, JsonObject] = {}
    for index, item in _items(order.get("line_items"), "order.line_items"):
        path = f"order.line_items[{index}]"
        quantity = _int(item, "quantity", path, default=0)
        if quantity < 1:
            continue  # removed by an order edit
        sku = _sku(item, path, warnings)
        price = _required_money(item, "price", path)
        discount = sum(
            (
                _money_of(allocation, "amount", f"{path}.discount_allocations[{i}]") or Decimal(0)
                for i, allocation in _items(
                    item.get("discount_allocations"), f"{path}.discount_allocations"
                )
            ),
            Decimal(0),
        )
        unit = price
        if discount:
            paid = (price * quantity - discount) / quantity
            if paid >= 0 and paid == paid.quantize(_TWO_PLACES):
                unit = paid
            else:
                warnings.append(f"{path}: discount {discount:.2f} does not split into cents")
        name = _text(_optional_str(item, "name", path) or _optional_str(item, "title", path), 200)
        existing = by_sku.get(sku)
        if existing is not None:
            if Decimal(existing["unit_price"]) != unit:
                raise ShopifyPayloadError(
                    path, f"sku {sku!r} twice at different prices (the export has one line a SKU)"
                )
            existing["quantity"] += quantity
            continue
        line: JsonObject = {
            "sku": sku,
            "quantity": quantity,
            "unit_price": _money_text(unit, f"{path}.price"),
        }
        if name:
            line["name"] = name
        by_sku[sku] = line
    if not by_sku:
        raise IncompletePayloadError("order.line_items", "no line items")
    return list(by_sku.values())


def _order_customer(order: JsonObject, placed_at: str, warnings: list[str]) -> Mapped[JsonObject]:
    embedded = order.get("customer")
    customer = embedded if isinstance(embedded, dict) else {}
    fallback_email = None
    for key in ("email", "contact_email"):
        value = order.get(key)
        if isinstance(value, str) and value.strip():
            fallback_email = value
            break
    # The buyer's name is on the billing address; the shipping one may be a gift recipient's.
    fallback_names = [
        address
        for key in ("billing_address", "shipping_address")
        if isinstance(address := order.get(key), dict)
    ]
    mapped = _customer(
        customer,
        "order.customer",
        fallback_email,
        placed_at,
        fallback_names=fallback_names,
        phone_fallback=order.get("phone"),
    )
    warnings.extend(mapped.warnings)
    return mapped


def _customer(
    customer: JsonObject,
    path: str,
    fallback_email: str | None,
    fallback_created_at: str | None,
    *,
    fallback_names: Sequence[JsonObject] = (),
    phone_fallback: Any = None,
) -> Mapped[JsonObject]:
    # The account's address first: it is the customer record's key, and customers/update keeps
    # it current; the order's own e-mail only when the order has no customer account.
    warnings: list[str] = []
    email = _optional_str(customer, "email", path) or fallback_email
    if not email:
        raise IncompletePayloadError(f"{path}.email", "no e-mail address")
    email = email.strip().lower()
    if len(email) > 254 or not _EMAIL.fullmatch(email):
        raise ShopifyPayloadError(f"{path}.email", f"{email!r} is not an e-mail address")
    default_address = customer.get("default_address")
    sources = [customer, *([default_address] if isinstance(default_address, dict) else [])]
    sources += fallback_names
    first = _first_text(sources, "first_name", 100)
    last = _first_text(sources, "last_name", 100)
    if not first or not last:
        raise IncompletePayloadError(f"{path}.first_name", "no first and last name")
    created_at = _datetime(customer, "created_at", path) or _checked_time(
        fallback_created_at, f"{path}.created_at"
    )
    if created_at is None:
        raise IncompletePayloadError(f"{path}.created_at", "missing")
    phone = _optional_str(customer, "phone", path)
    if phone is None and isinstance(phone_fallback, str):
        phone = phone_fallback
    if phone is not None:
        phone = re.sub(r"[\s().-]", "", phone)
        if not _PHONE.fullmatch(phone):
            warnings.append(f"{path}.phone: {phone!r} is not E.164; left out")
            phone = None
    tags = _optional_str(customer, "tags", path) or ""
    record: JsonObject = {
        "email": email,
        "phone": phone,
        "first_name": first,
        "last_name": last,
        "is_vip": VIP_TAG in {tag.strip().lower() for tag in tags.split(",")},
        "created_at": created_at,
    }
    spent = _money_of(customer, "total_spent", path)
    if spent is not None:
        record["lifetime_value"] = _money_text(spent, f"{path}.total_spent")
    return Mapped(
        record=record,
        external_id=_id(customer, "id", path, required=False),
        admin_graphql_api_id=_optional_str(customer, "admin_graphql_api_id", path),
        updated_at=_datetime(customer, "updated_at", path),
        warnings=tuple(warnings),
    )


def _shipping_address(order: JsonObject) -> JsonObject:
    # Orders without a shipping address (pickup, digital goods) still need one in the export:
    # the billing address is the shopper's own.
    for key in ("shipping_address", "billing_address"):
        address = order.get(key)
        if isinstance(address, dict) and address:
            return _address(address, f"order.{key}")
    raise IncompletePayloadError("order.shipping_address", "no shipping or billing address")


def _address(address: JsonObject, path: str) -> JsonObject:
    name = _text(_optional_str(address, "name", path), 200) or _text(
        " ".join(
            part
            for key in ("first_name", "last_name")
            if (part := _optional_str(address, key, path))
        ),
        200,
    )
    line1 = _text(_optional_str(address, "address1", path), 200)
    city = _text(_optional_str(address, "city", path), 100)
    postal = _text(_optional_str(address, "zip", path), 20)
    country = (_optional_str(address, "country_code", path) or "").strip().upper()
    missing = [
        key
        for key, value in (("name", name), ("address1", line1), ("city", city), ("zip", postal))
        if not value
    ]
    if missing:
        raise IncompletePayloadError(f"{path}.{missing[0]}", "missing")
    if not _COUNTRY.fullmatch(country):
        raise ShopifyPayloadError(f"{path}.country_code", f"{country!r} is not a country code")
    region = _optional_str(address, "province_code", path) or _optional_str(
        address, "province", path
    )
    return {
        "name": name,
        "line1": line1,
        "line2": _text(_optional_str(address, "address2", path), 200) or None,
        "city": city,
        "region": _text(region, 100) or None,
        "postal_code": postal,
        "country": country,
    }


def _shipping_service(order: JsonObject) -> str | None:
    for index, line in _items(order.get("shipping_lines"), "order.shipping_lines"):
        title = _optional_str(line, "title", f"order.shipping_lines[{index}]")
        if title and title.strip():
            return _text(title, 64)
    return None


def _payment_method(order: JsonObject) -> str:
    details = order.get("payment_details")
    if isinstance(details, dict):
        company = _optional_str(details, "credit_card_company", "order.payment_details")
        number = _optional_str(details, "credit_card_number", "order.payment_details") or ""
        digits = "".join(ch for ch in number if ch.isascii() and ch.isdigit())
        if company and company.strip() and len(digits) >= 4:
            return _text(f"{company} ending {digits[-4:]}", 64)
    names = order.get("payment_gateway_names")
    if isinstance(names, list):
        gateways = [name.strip() for name in names if isinstance(name, str) and name.strip()]
        if gateways:
            return _text(", ".join(gateways), 64)
    gateway = _optional_str(order, "gateway", "order")
    return _text(gateway, 64) or "Unknown"


def _is_paid(order: JsonObject) -> bool:
    financial = (_optional_str(order, "financial_status", "order") or "").lower()
    return PAID_FINANCIAL_STATUSES.get(financial, False)


def _fulfilment_status(
    order: JsonObject, shipments: Sequence[Mapped[JsonObject]], warnings: list[str]
) -> FulfilmentStatus:
    value = (_optional_str(order, "fulfillment_status", "order") or "unfulfilled").lower()
    status = FULFILMENT_STATUSES.get(value)
    if status is None:
        warnings.append(f"order.fulfillment_status: unknown value {value!r}")
        status = FulfilmentStatus.UNFULFILLED
    if status is FulfilmentStatus.UNFULFILLED and shipments:
        # The export allows no parcels on an unfulfilled order; Shopify can have both (a
        # restock after a fulfilment was created): some of it did leave.
        warnings.append("order.fulfillment_status: unfulfilled but with parcels")
        status = FulfilmentStatus.PARTIALLY_FULFILLED
    return status


def _order_shipments(
    order: JsonObject, service: str | None, warnings: list[str]
) -> tuple[Mapped[JsonObject], ...]:
    mapped: list[Mapped[JsonObject]] = []
    seen: set[str] = set()
    for index, fulfilment in _items(order.get("fulfillments"), "order.fulfillments"):
        path = f"order.fulfillments[{index}]"
        for record in _shipments_of(fulfilment, path, service, warnings):
            if record["tracking_number"] in seen:
                warnings.append(f"{path}: tracking number {record['tracking_number']} repeats")
                continue
            seen.add(record["tracking_number"])
            mapped.append(
                Mapped(
                    record=record,
                    external_id=_id(fulfilment, "id", path, required=False),
                    admin_graphql_api_id=_optional_str(fulfilment, "admin_graphql_api_id", path),
                    updated_at=_datetime(fulfilment, "updated_at", path),
                )
            )
    return tuple(mapped)


def _shipments_of(
    fulfilment: JsonObject, path: str, service: str | None, warnings: list[str]
) -> list[JsonObject]:
    status = shipment_status_for(
        _optional_str(fulfilment, "status", path),
        _optional_str(fulfilment, "shipment_status", path),
    )
    if status is None:
        return []  # cancelled: no parcel
    numbers = _string_list(fulfilment, "tracking_numbers", path) or [
        n for n in [_optional_str(fulfilment, "tracking_number", path)] if n
    ]
    urls = _string_list(fulfilment, "tracking_urls", path) or [
        u for u in [_optional_str(fulfilment, "tracking_url", path)] if u
    ]
    carrier = _text(_optional_str(fulfilment, "tracking_company", path), 32) or DEFAULT_CARRIER
    created_at = _datetime(fulfilment, "created_at", path)
    updated_at = _datetime(fulfilment, "updated_at", path)
    delivered_at = _datetime(fulfilment, "delivered_at", path) or updated_at or created_at
    estimate = _datetime(fulfilment, "estimated_delivery_at", path)
    records: list[JsonObject] = []
    if not numbers:
        warnings.append(f"{path}: no tracking number; not recorded as a parcel")
    for index, raw in enumerate(numbers):
        # Carriers print numbers in groups ("1Z 999 AA1"): the export's form has no separators.
        number = re.sub(r"[\s-]", "", raw)
        url = urls[index] if index < len(urls) else (urls[0] if len(urls) == 1 else None)
        if url is not None and url.startswith("http://"):
            url = "https://" + url[len("http://") :]
        if any(record["tracking_number"] == number for record in records):
            continue  # listed twice: one parcel
        if not _TRACKING_NUMBER.fullmatch(number):
            warnings.append(f"{path}: tracking number {raw!r} is not letters and digits; skipped")
            continue
        if url is None or len(url) > 500 or not _TRACKING_URL.fullmatch(url):
            warnings.append(f"{path}: tracking number {number} has no https tracking URL; skipped")
            continue
        if status is ShipmentStatus.DELIVERED and delivered_at is None:
            warnings.append(f"{path}: delivered without any time; skipped")
            continue
        records.append(
            {
                "carrier": carrier,
                "service": service or carrier,
                "tracking_number": number,
                "tracking_url": url,
                "status": str(status),
                # The export keeps shipped_at null while only a label exists.
                "shipped_at": None if status is ShipmentStatus.LABEL_CREATED else created_at,
                "estimated_delivery": estimate[:10] if estimate else None,
                # Shopify's REST fulfilment has no delivery time: the last update stands in.
                "delivered_at": delivered_at if status is ShipmentStatus.DELIVERED else None,
                "events": [],
            }
        )
    return records


def _order_returns(
    order: JsonObject, lines: Sequence[JsonObject], warnings: list[str]
) -> tuple[Mapped[JsonObject], ...]:
    mapped: list[Mapped[JsonObject]] = []
    returned: dict[str, int] = {}
    ordered = {line["sku"]: line["quantity"] for line in lines}
    fallback_time = _datetime(order, "updated_at", "order")
    for index, request in _items(order.get("returns"), "order.returns"):
        path = f"order.returns[{index}]"
        try:
            record = _return_record(request, path, fallback_time, lines, warnings)
        except IncompletePayloadError as error:
            warnings.append(f"{error}; return not recorded")
            continue
        # A declined or cancelled return took nothing back: the items may be returned again.
        counted = record["lines"] if record["status"] != ReturnStatus.REJECTED else []
        for line in counted:
            returned[line["sku"]] = returned.get(line["sku"], 0) + line["quantity"]
        if any(sku not in ordered or count > ordered[sku] for sku, count in returned.items()):
            raise ShopifyPayloadError(path, "returns more items than the order has")
        mapped.append(
            Mapped(
                record=record,
                external_id=_id(request, "id", path, required=False),
                admin_graphql_api_id=_optional_str(request, "admin_graphql_api_id", path),
                updated_at=_datetime(request, "updated_at", path),
            )
        )
    return tuple(mapped)


def _return_record(
    request: JsonObject,
    path: str,
    fallback_time: str | None,
    order_lines: Sequence[JsonObject] | None,
    warnings: list[str],
) -> JsonObject:
    return_id = _id(request, "id", path)
    status_text = (_optional_str(request, "status", path) or "").lower()
    status = RETURN_STATUSES.get(status_text)
    if status is None:
        raise ShopifyPayloadError(f"{path}.status", f"unknown return status {status_text!r}")
    created_at = _datetime(request, "created_at", path) or _checked_time(
        fallback_time, f"{path}.created_at"
    )
    if created_at is None:
        raise IncompletePayloadError(f"{path}.created_at", "no time (pass triggered_at)")
    quantities: dict[str, int] = {}
    reasons: list[ReturnReason] = []
    for index, item in _items(request.get("return_line_items"), f"{path}.return_line_items"):
        item_path = f"{path}.return_line_items[{index}]"
        quantity = _int(item, "quantity", item_path, default=0)
        if quantity < 1:
            continue
        sku = _return_line_sku(item, item_path, order_lines, warnings)
        quantities[sku] = quantities.get(sku, 0) + quantity
        reason = (_optional_str(item, "return_reason", item_path) or "").lower()
        reasons.append(RETURN_REASONS.get(reason, ReturnReason.OTHER))
    if not quantities:
        raise IncompletePayloadError(f"{path}.return_line_items", "no line items in the body")
    if order_lines is not None:
        skus = {line["sku"] for line in order_lines}
        if not set(quantities) <= skus:
            raise ShopifyPayloadError(f"{path}.return_line_items", "items not on the order")
    return {
        "rma_number": _rma_number(return_id),
        "status": str(status),
        # One reason a return in relaydesk; Shopify has one a line: the first line's.
        "reason": str(reasons[0]),
        "condition": str(DEFAULT_RETURN_CONDITION),
        "created_at": created_at,
        "lines": [{"sku": sku, "quantity": count} for sku, count in quantities.items()],
    }


def _return_line_sku(
    item: JsonObject, path: str, order_lines: Sequence[JsonObject] | None, warnings: list[str]
) -> str:
    fulfilment_line = item.get("fulfillment_line_item")
    line = item.get("line_item")
    if isinstance(fulfilment_line, dict) and isinstance(fulfilment_line.get("line_item"), dict):
        line = fulfilment_line["line_item"]
        path = f"{path}.fulfillment_line_item.line_item"
    if not isinstance(line, dict):
        raise IncompletePayloadError(f"{path}.line_item", "no line item to name the SKU")
    return _sku(line, path, warnings)


def _rma_number(return_id: str | None) -> str:
    # A refund names its return only by id, so the RMA must be derivable from the id alone.
    rma = f"RMA-{return_id}"
    if not _RMA.fullmatch(rma):
        raise ShopifyPayloadError("return.id", f"{return_id!r} makes no RMA number")
    return rma


def _order_refunds(
    order: JsonObject, returns: Sequence[Mapped[JsonObject]], currency: str, warnings: list[str]
) -> tuple[Mapped[JsonObject], ...]:
    mapped: list[Mapped[JsonObject]] = []
    rmas = {r.record["rma_number"] for r in returns}
    seen: set[str] = set()
    for index, refund in _items(order.get("refunds"), "order.refunds"):
        path = f"order.refunds[{index}]"
        record = _refund_record(refund, path, warnings)
        if record is None or record["reference"] in seen:
            continue
        seen.add(record["reference"])
        if record.get("currency", currency) != currency:
            # A transaction in the shopper's (presentment) currency: its amount is not shop
            # money, and converting it would make an amount up.
            warnings.append(f"{path}: refunded in {record['currency']}; not recorded")
            continue
        if record["return_rma"] is not None and record["return_rma"] not in rmas:
            record["return_rma"] = None  # its return was not recorded (see warnings)
        mapped.append(
            Mapped(
                record=record,
                external_id=_id(refund, "id", path, required=False),
                admin_graphql_api_id=_optional_str(refund, "admin_graphql_api_id", path),
                updated_at=_datetime(refund, "processed_at", path)
                or _datetime(refund, "created_at", path),
            )
        )
    return tuple(mapped)


def _refund_record(refund: JsonObject, path: str, warnings: list[str]) -> JsonObject | None:
    refund_id = _id(refund, "id", path)
    reference = str(refund_id)
    if not _REFERENCE.fullmatch(reference):
        raise ShopifyPayloadError(f"{path}.id", f"{refund_id!r} is not a refund reference")
    requested_at = _required_datetime(refund, "created_at", path)
    moved = Decimal(0)
    failed = Decimal(0)
    statuses: set[str] = set()
    gateways: set[str] = set()
    finished: list[str] = []
    currencies: set[str] = set()
    for index, transaction in _items(refund.get("transactions"), f"{path}.transactions"):
        tpath = f"{path}.transactions[{index}]"
        if (_optional_str(transaction, "kind", tpath) or "").lower() != "refund":
            continue
        amount = _required_money(transaction, "amount", tpath)
        status = (_optional_str(transaction, "status", tpath) or "").lower()
        if status in ("failure", "error"):
            failed += amount
        else:
            moved += amount
        statuses.add(status)
        gateways.add((_optional_str(transaction, "gateway", tpath) or "").lower())
        when = _datetime(transaction, "processed_at", tpath) or _datetime(
            transaction, "created_at", tpath
        )
        if status == "success" and when:
            finished.append(when)
        currency = _optional_str(transaction, "currency", tpath)
        if currency:
            currencies.add(currency)
    if not statuses:
        return None  # no money moved: nothing the export calls a refund
    if statuses <= {"failure", "error"}:
        refund_status, amount = RefundStatus.FAILED, failed
    elif statuses <= {"success"}:
        refund_status, amount = RefundStatus.COMPLETED, moved
    elif "pending" in statuses:
        refund_status, amount = RefundStatus.PROCESSING, moved
    else:
        refund_status, amount = RefundStatus.PENDING, moved
    if amount <= 0:
        return None
    completed_at = None
    if refund_status is RefundStatus.COMPLETED:
        # Test and imported transactions can predate the refund; never complete before asked.
        completed_at = max(
            [_datetime(refund, "processed_at", path) or requested_at, *finished], key=_instant
        )
    method = (
        RefundMethod.STORE_CREDIT
        if gateways and gateways <= STORE_CREDIT_GATEWAYS
        else RefundMethod.ORIGINAL_PAYMENT
    )
    linked = refund.get("return")
    rma = None
    if isinstance(linked, dict) and linked.get("id") is not None:
        rma = _rma_number(_id(linked, "id", f"{path}.return"))
    record: JsonObject = {
        "reference": reference,
        "return_rma": rma,
        "amount": _money_text(amount, f"{path}.transactions"),
        "method": str(method),
        "status": str(refund_status),
        "requested_at": requested_at,
        "completed_at": completed_at,
    }
    if len(currencies) == 1:
        currency = currencies.pop()
        if _CURRENCY.fullmatch(currency):
            record["currency"] = currency
    return record


# ------------------------------------------------------------------ field readers


def _object(value: Any, path: str) -> JsonObject:
    # REST responses wrap the resource ({"order": {...}}); webhooks send it bare.
    if isinstance(value, dict) and len(value) == 1 and isinstance(value.get(path), dict):
        value = value[path]
    if not isinstance(value, dict):
        raise ShopifyPayloadError(path, f"expected an object, got {type(value).__name__}")
    return value


def _items(value: Any, path: str) -> list[tuple[int, JsonObject]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ShopifyPayloadError(path, f"expected a list, got {type(value).__name__}")
    items = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise ShopifyPayloadError(f"{path}[{index}]", "expected an object")
        items.append((index, item))
    return items


def _optional_str(obj: JsonObject, key: str, path: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ShopifyPayloadError(f"{path}.{key}", f"expected text, got {type(value).__name__}")
    if "\x00" in value:
        # PostgreSQL text cannot hold NUL.
        raise ShopifyPayloadError(f"{path}.{key}", "NUL character in text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ShopifyPayloadError(f"{path}.{key}", "not valid Unicode") from error
    return value


def _string_list(obj: JsonObject, key: str, path: str) -> list[str]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ShopifyPayloadError(f"{path}.{key}", "expected a list")
    return [
        text
        for index, _ in enumerate(value)
        if (text := _optional_str({key: value[index]}, key, f"{path}[{index}]"))
    ]


def _id(obj: Any, key: str, path: str, *, required: bool = True) -> str | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    if value is None:
        if required:
            raise ShopifyPayloadError(f"{path}.{key}", "missing")
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10**20:
        return str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        return value
    raise ShopifyPayloadError(f"{path}.{key}", f"{value!r} is not an id")


def _int(obj: JsonObject, key: str, path: str, *, default: int) -> int:
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**12:
        return value
    raise ShopifyPayloadError(f"{path}.{key}", f"{value!r} is not a whole number")


def _text(value: str | None, limit: int) -> str:
    """Trimmed and cut to the export's length limit; "" for None."""
    return (value or "").strip()[:limit].strip()


def _first_text(sources: Sequence[JsonObject], key: str, limit: int) -> str:
    for source in sources:
        value = source.get(key)
        if isinstance(value, str) and _text(value, limit):
            return _text(value, limit)
    return ""


def _currency(obj: JsonObject, key: str, path: str) -> str:
    value = _optional_str(obj, key, path)
    if value is None or not _CURRENCY.fullmatch(value):
        raise ShopifyPayloadError(f"{path}.{key}", f"{value!r} is not a currency code")
    return value


def _money_of(obj: JsonObject, key: str, path: str) -> Decimal | None:
    """The shop-currency amount of `key`: `<key>_set.shop_money.amount`, else `<key>` (a
    string, or a JSON number in refund line items); None when neither is there."""
    money_set = obj.get(f"{key}_set")
    if isinstance(money_set, dict) and isinstance(money_set.get("shop_money"), dict):
        raw = money_set["shop_money"].get("amount")
        if raw is not None:
            return _decimal(raw, f"{path}.{key}_set.shop_money.amount")
    raw = obj.get(key)
    return None if raw is None else _decimal(raw, f"{path}.{key}")


def _required_money(obj: JsonObject, key: str, path: str) -> Decimal:
    amount = _money_of(obj, key, path)
    if amount is None:
        raise ShopifyPayloadError(f"{path}.{key}", "missing")
    return amount


def _decimal(raw: Any, path: str) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise ShopifyPayloadError(path, f"{raw!r} is not an amount")
    try:
        # repr() of a float is its shortest round-trip form: 89.99 reads as "89.99".
        amount = Decimal(raw.strip() if isinstance(raw, str) else repr(raw))
    except (InvalidOperation, ValueError) as error:
        raise ShopifyPayloadError(path, f"{raw!r} is not an amount") from error
    if not amount.is_finite() or amount < 0 or amount >= Decimal(10) ** 10:
        raise ShopifyPayloadError(path, f"{raw!r} is not an amount the export can hold")
    try:
        exact = amount.quantize(_TWO_PLACES)
    except InvalidOperation as error:
        raise ShopifyPayloadError(path, f"{raw!r} is not an amount") from error
    if exact != amount:
        # A three-decimal currency (KWD, BHD): rounding would make money up.
        raise ShopifyPayloadError(path, f"{raw!r} has more than two decimals")
    return exact


def _money_text(amount: Decimal | None, path: str) -> str:
    text = f"{(amount or Decimal(0)).quantize(_TWO_PLACES):f}"
    if not _MONEY.fullmatch(text):
        raise ShopifyPayloadError(path, f"{text} is not an amount the export can hold")
    return text


def _datetime(obj: JsonObject, key: str, path: str) -> str | None:
    value = _optional_str(obj, key, path)
    if value is None or not value.strip():
        return None
    return _checked_time(value, f"{path}.{key}")


def _required_datetime(obj: JsonObject, key: str, path: str) -> str:
    value = _datetime(obj, key, path)
    if value is None:
        raise ShopifyPayloadError(f"{path}.{key}", "missing")
    return value


def _checked_time(value: str | None, path: str) -> str | None:
    """An ISO 8601 time with a UTC offset, as the export wants it; None stays None."""
    if value is None:
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as error:
        raise ShopifyPayloadError(path, f"{value!r} is not an ISO 8601 time") from error
    if "T" not in text or parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ShopifyPayloadError(path, f"{value!r} has no date, time and UTC offset")
    return parsed.isoformat()


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _sku(item: JsonObject, path: str, warnings: list[str] | None = None) -> str:
    """The item's SKU when it is one the export accepts, else one made from Shopify's ids
    (custom items and shops that leave SKUs blank): stable, so repeated syncs agree."""
    raw = _optional_str(item, "sku", path)
    if raw is not None and _SKU.fullmatch(raw.strip()):
        return raw.strip()
    variant = _id(item, "variant_id", path, required=False)
    fallback = f"shopify-variant-{variant}" if variant else None
    if fallback is None:
        line_id = _id(item, "id", path, required=False)
        fallback = f"shopify-line-{line_id}" if line_id else None
    if fallback is None:
        raise ShopifyPayloadError(f"{path}.sku", f"{raw!r} is no SKU and there is no id")
    if warnings is not None:
        warnings.append(f"{path}.sku: {raw!r} is not a SKU the export accepts; using {fallback}")
    return fallback


def _status_words(value: Any) -> str:
    if isinstance(value, str) and value.strip():
        return value.strip().replace("_", " ").capitalize()
    return "Tracking update"
