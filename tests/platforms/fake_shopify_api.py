"""A local stand-in for one shop's Shopify GraphQL Admin API, for tests: the real client
(bot/platforms/shopify/admin_api.py) talks to it over HTTP once its base URL points here.

    POST /admin/api/<version>/graphql.json     X-Shopify-Access-Token: <token>

It is a small shop, not a GraphQL engine, but it reads the documents it is sent: a tokenizer and
a recursive-descent reader take out the operation, its variable definitions, the root field
and its arguments, and the selection tree. Each selected field is checked against a schema
subset (SCHEMA below, field names as in Shopify's documentation), so a misspelt field or a
missing required variable gets Shopify's kind of GraphQL error, and each answer carries only
the fields selected, as a real one does.

What it answers: `shop`, `order(id:)`, `fulfillment(id:)`, `refund(id:)`, `return(id:)`,
`orders(first:, after:, query:, sortKey:)` (searches
`updated_at:>'...'` and `created_at:>='...'`; sort UPDATED_AT, CREATED_AT or ID; cursor pages),
`products(...)` and `webhookSubscriptions(...)`, and the mutations `orderCancel` (marks the
order cancelled, or orderCancelUserErrors NOT_FOUND / INVALID), `orderUpdate` (changes the
shipping address and note), `returnRequest` (creates a REQUESTED return for fulfilled line
items) and `webhookSubscriptionCreate`. Orders are full: line items, customer, money sets,
addresses, fulfilments with tracking, events and line items, refunds with transactions,
returns (kept in `returns`, answered through the ReturnLineItem inline fragment). Nested
connections are stored as {"nodes": [...]} and answered cut to their `first` / `last`, from
their `after` cursor on; plain lists with `first` (fulfillments, refunds, trackingInfo) are
cut to it without pageInfo, as Shopify cuts them.

The shop changes the way Shopify's does, each change moving the order's updatedAt forward:
`add_order`, `add_orders` (thousands at once, for benchmarks), `fulfil`,
`set_fulfillment_status` (a carrier event: IN_TRANSIT, OUT_FOR_DELIVERY, DELAYED, FAILURE,
DELIVERED, ...), `add_refund`, `add_return`, `add_product`, `stock_order_skus`. `webhook_body`
renders an order as the REST body Shopify sends on orders/updated, so a test can deliver a
signed webhook that agrees with what the Admin API answers.

Rate limit: a bucket of points (1000, refilling 50 per second unless set otherwise) on the
fake's own clock (`ManualClock`, which tests share with the client so waits take no real
time). The requested cost is computed from the selection (`static_cost`: objects 1, a
connection 2 + first x its node, nested connections multiplying), the actual cost from what
came back (`actual_cost`); mutations cost 10. A query over `max_query_cost` (1000, as
Shopify's ceiling) is refused with MAX_COST_EXCEEDED. A query whose requested cost is more
than the bucket holds is answered THROTTLED with `extensions.cost`, as Shopify does; otherwise the
actual cost is taken from the bucket, the answer carries the cost figures, and the call records
them (`Call.requested_cost`, `Call.actual_cost`, `cost_spent()`).

Faults, each for the next N requests: `fail_next` (an HTTP status such as 503), `rate_limit_next`
(429 with Retry-After), `stall_next` (answers late, in real seconds, after doing the work: the
client's timeout cannot tell it from a lost request), `throttle_next` (a THROTTLED answer
without cost figures, the shape Shopify's own app library tests against). A wrong token gets
401 with Shopify's body. Every request is recorded (`calls`).

Never used by the application.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

JSON = dict[str, Any]

API_VERSION = "2026-07"
ACCESS_TOKEN = "shpat_fake_admin_token"
SHOP_NAME = "Northwind Outfitters"
SHOP_DOMAIN = "northwind-outfitters.myshopify.com"
#: Shopify's answer to a wrong or missing token.
UNAUTHORIZED_BODY = {
    "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
}


# ---------------------------------------------------------------------------------------------
# A clock both sides can share.


class ManualClock:
    """Monotonic seconds and a UTC wall clock that move only when slept on (thread-safe): the
    client's `sleep` advances the time the fake's bucket refills by."""

    def __init__(self, start: datetime = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)) -> None:
        self._lock = threading.Lock()
        self._elapsed = 0.0
        self._start = start
        #: Every sleep asked for, in order.
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        with self._lock:
            return self._elapsed

    def utc(self) -> datetime:
        with self._lock:
            return self._start + timedelta(seconds=self._elapsed)

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._elapsed += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        """Time passes without anyone sleeping (not recorded in `sleeps`)."""
        with self._lock:
            self._elapsed += seconds


class WallClock(ManualClock):
    """Real time instead of the manual kind, for a fake that serves another process (a running
    stack, a CLI): its client sleeps for real, and the bucket must refill meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self._origin = time.monotonic()

    def monotonic(self) -> float:
        return time.monotonic() - self._origin

    def utc(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        time.sleep(seconds)


# ---------------------------------------------------------------------------------------------
# Reading a GraphQL document.


class DocumentError(Exception):
    """The document does not parse or does not fit the schema; becomes a GraphQL error."""

    def __init__(self, message: str, code: str, **extensions: Any) -> None:
        super().__init__(message)
        self.code = code
        self.extensions = extensions


_TOKEN = re.compile(
    r"""
    (?P<skip>[\s,]+|\#[^\n]*)
    |(?P<string>"(?:[^"\\]|\\.)*")
    |(?P<number>-?\d+(?:\.\d+)?)
    |(?P<name>\$?[_A-Za-z][_0-9A-Za-z]*)
    |(?P<punct>\.\.\.|[!():=@\[\]{}|])
    """,
    re.VERBOSE,
)

#: Selection tree: field name -> the selection under it (None for a scalar). An inline
#: fragment `... on Type { }` is the key FRAGMENT + "Type".
Selection = dict[str, "Selection | None"]
FRAGMENT = "... on "


@dataclass(frozen=True)
class Argument:
    variable: str | None  # "$orderId" without the "$", or None for a literal
    literal: Any = None


@dataclass(frozen=True)
class Operation:
    kind: str  # "query" or "mutation"
    name: str | None
    #: Variable name -> (type as written, required: non-null without a default).
    variables: dict[str, tuple[str, bool]]
    root: str
    arguments: dict[str, Argument]
    selection: Selection
    #: The arguments of every field below the root, by its path from the root (the root's
    #: own under `(root,)`), e.g. ("order", "lineItems") -> {"first": Argument(None, 20)}.
    field_arguments: dict[tuple[str, ...], dict[str, Argument]] = field(default_factory=dict)

    def argument(self, name: str, variables: Mapping[str, Any]) -> Any:
        arg = self.arguments.get(name)
        if arg is None:
            return None
        return variables.get(arg.variable) if arg.variable else arg.literal

    def argument_at(self, path: tuple[str, ...], name: str, variables: Mapping[str, Any]) -> Any:
        arg = self.field_arguments.get(path, {}).get(name)
        if arg is None:
            return None
        return variables.get(arg.variable) if arg.variable else arg.literal


def tokenize(document: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(document):
        match = _TOKEN.match(document, position)
        if match is None:
            raise DocumentError(
                f"Parse error on {document[position : position + 10]!r}", "parseError"
            )
        position = match.end()
        kind = match.lastgroup or ""
        if kind != "skip":
            tokens.append((kind, match.group()))
    return tokens


class _Reader:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.at = 0
        self.nested: dict[tuple[str, ...], dict[str, Argument]] = {}

    def peek(self) -> str:
        return self.tokens[self.at][1] if self.at < len(self.tokens) else ""

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.at >= len(self.tokens):
            raise DocumentError("Parse error: unexpected end of document", "parseError")
        token = self.tokens[self.at]
        if expected is not None and token[1] != expected:
            raise DocumentError(f"Parse error on {token[1]!r}: expected {expected!r}", "parseError")
        self.at += 1
        return token

    def value(self) -> Argument:
        kind, text = self.take()
        if text.startswith("$"):
            return Argument(variable=text[1:])
        if kind == "string":
            return Argument(None, json.loads(text))
        if kind == "number":
            return Argument(None, float(text) if "." in text else int(text))
        if text in ("[", "{"):  # list or object literal: skipped, not used by the fake
            closing, depth = {"[": "]", "{": "}"}[text], 1
            while depth:
                token = self.take()[1]
                depth += token == text
                depth -= token == closing
            return Argument(None, None)
        return Argument(None, {"true": True, "false": False, "null": None}.get(text, text))

    def arguments(self) -> dict[str, Argument]:
        found: dict[str, Argument] = {}
        if self.peek() != "(":
            return found
        self.take("(")
        while self.peek() != ")":
            name = self.take()[1]
            self.take(":")
            found[name] = self.value()
        self.take(")")
        return found

    def selection(
        self, path: tuple[str, ...] = ()
    ) -> tuple[Selection, dict[str, dict[str, Argument]]]:
        """A selection set; also the arguments of each field in it (by response key). The
        arguments of every nested field are kept in `self.nested` by path."""
        self.take("{")
        selected: Selection = {}
        arguments: dict[str, dict[str, Argument]] = {}
        while self.peek() != "}":
            if self.peek() == "...":
                # Only inline fragments (`... on ReturnLineItem { ... }`): an interface's
                # implementation-only fields, as Shopify's ReturnLineItemType needs.
                self.take("...")
                if self.peek() != "on":
                    raise DocumentError(
                        "Named fragments are not supported by the fake", "parseError"
                    )
                self.take("on")
                key = f"{FRAGMENT}{self.take()[1]}"
                selected[key] = self.selection((*path, key))[0]
                continue
            name = self.take()[1]
            if self.peek() == ":":  # an alias: the fake answers under the field's own name
                self.take(":")
                name = self.take()[1]
            arguments[name] = self.arguments()
            if arguments[name]:
                self.nested[(*path, name)] = arguments[name]
            selected[name] = self.selection((*path, name))[0] if self.peek() == "{" else None
        self.take("}")
        return selected, arguments


def parse(document: str) -> Operation:
    reader = _Reader(tokenize(document))
    kind, name = "query", None
    variables: dict[str, tuple[str, bool]] = {}
    if reader.peek() in ("query", "mutation", "subscription"):
        kind = reader.take()[1]
        if reader.peek() not in ("(", "{"):
            name = reader.take()[1]
        if reader.peek() == "(":
            reader.take("(")
            while reader.peek() != ")":
                variable = reader.take()[1]
                if not variable.startswith("$"):
                    raise DocumentError(f"Parse error on {variable!r}", "parseError")
                reader.take(":")
                written = []
                while reader.peek() not in ("=", ")") and not reader.peek().startswith("$"):
                    written.append(reader.take()[1])
                has_default = reader.peek() == "="
                if has_default:
                    reader.take("=")
                    reader.value()
                type_text = "".join(written)
                variables[variable[1:]] = (type_text, type_text.endswith("!") and not has_default)
            reader.take(")")
    selection, arguments = reader.selection()
    if reader.at != len(reader.tokens):
        raise DocumentError("Only one operation per document is supported", "parseError")
    if len(selection) != 1:
        raise DocumentError("The fake answers one root field per document", "parseError")
    root = next(iter(selection))
    return Operation(kind, name, variables, root, arguments[root], selection, reader.nested)


# ---------------------------------------------------------------------------------------------
# The schema subset: type name -> fields (a field's value is its type name, or None: scalar).

_S = None
_MONEY_BAG = "MoneyBag"
SCHEMA: dict[str, dict[str, str | None]] = {
    "QueryRoot": {
        "shop": "Shop",
        "order": "Order",
        "orders": "OrderConnection",
        # What a long order's nested pages are read on (reader.py pages them by id).
        "fulfillment": "Fulfillment",
        "refund": "Refund",
        "return": "Return",
        "products": "ProductConnection",
        "webhookSubscriptions": "WebhookSubscriptionConnection",
    },
    "Mutation": {
        "orderCancel": "OrderCancelPayload",
        "orderUpdate": "OrderUpdatePayload",
        "returnRequest": "ReturnRequestPayload",
        "webhookSubscriptionCreate": "WebhookSubscriptionCreatePayload",
    },
    "Shop": {"id": _S, "name": _S, "myshopifyDomain": _S, "email": _S, "currencyCode": _S},
    "PageInfo": {"hasNextPage": _S, "hasPreviousPage": _S, "endCursor": _S, "startCursor": _S},
    "OrderConnection": {"pageInfo": "PageInfo", "nodes": "Order", "edges": "OrderEdge"},
    "OrderEdge": {"cursor": _S, "node": "Order"},
    "Order": {
        "id": _S,
        "legacyResourceId": _S,
        "name": _S,
        "number": _S,
        "email": _S,
        "phone": _S,
        "note": _S,
        "createdAt": _S,
        "processedAt": _S,
        "updatedAt": _S,
        "cancelledAt": _S,
        "cancelReason": _S,
        "closed": _S,
        "closedAt": _S,
        "displayFinancialStatus": _S,
        "displayFulfillmentStatus": _S,
        "currencyCode": _S,
        "taxesIncluded": _S,
        "subtotalPriceSet": _MONEY_BAG,
        "totalShippingPriceSet": _MONEY_BAG,
        "totalTaxSet": _MONEY_BAG,
        "totalPriceSet": _MONEY_BAG,
        "totalDiscountsSet": _MONEY_BAG,
        "paymentGatewayNames": _S,
        "customer": "Customer",
        "shippingAddress": "MailingAddress",
        "billingAddress": "MailingAddress",
        "shippingLine": "ShippingLine",
        "lineItems": "LineItemConnection",
        "fulfillments": "Fulfillment",
        "refunds": "Refund",
        "returns": "ReturnConnection",
    },
    "MoneyBag": {"shopMoney": "MoneyV2", "presentmentMoney": "MoneyV2"},
    "MoneyV2": {"amount": _S, "currencyCode": _S},
    "Customer": {
        "id": _S,
        "legacyResourceId": _S,
        "firstName": _S,
        "lastName": _S,
        "displayName": _S,
        # Deprecated since 2025-04 for defaultEmailAddress / defaultPhoneNumber; still served.
        "email": _S,
        "phone": _S,
        "defaultEmailAddress": "CustomerEmailAddress",
        "defaultPhoneNumber": "CustomerPhoneNumber",
        "tags": _S,
        "createdAt": _S,
        "updatedAt": _S,
    },
    "CustomerEmailAddress": {"emailAddress": _S},
    "CustomerPhoneNumber": {"phoneNumber": _S},
    "MailingAddress": {
        "address1": _S,
        "address2": _S,
        "city": _S,
        "province": _S,
        "provinceCode": _S,
        "zip": _S,
        "country": _S,
        "countryCodeV2": _S,
        "firstName": _S,
        "lastName": _S,
        "name": _S,
        "phone": _S,
        "company": _S,
    },
    "ShippingLine": {"title": _S, "code": _S, "originalPriceSet": _MONEY_BAG},
    "LineItemConnection": {"pageInfo": "PageInfo", "nodes": "LineItem", "edges": "LineItemEdge"},
    "LineItemEdge": {"cursor": _S, "node": "LineItem"},
    "LineItem": {
        "id": _S,
        "sku": _S,
        "name": _S,
        "title": _S,
        "quantity": _S,
        "currentQuantity": _S,
        "originalUnitPriceSet": _MONEY_BAG,
        "discountedUnitPriceSet": _MONEY_BAG,
        "variant": "ProductVariant",
        "discountAllocations": "DiscountAllocation",
    },
    "DiscountAllocation": {"allocatedAmountSet": _MONEY_BAG},
    "Fulfillment": {
        "id": _S,
        "legacyResourceId": _S,
        "name": _S,
        "status": _S,
        "displayStatus": _S,
        "createdAt": _S,
        "updatedAt": _S,
        "deliveredAt": _S,
        "estimatedDeliveryAt": _S,
        "inTransitAt": _S,
        "trackingInfo": "FulfillmentTrackingInfo",
        "events": "FulfillmentEventConnection",
        "fulfillmentLineItems": "FulfillmentLineItemConnection",
    },
    "FulfillmentTrackingInfo": {"company": _S, "number": _S, "url": _S},
    "FulfillmentEventConnection": {
        "pageInfo": "PageInfo",
        "nodes": "FulfillmentEvent",
        "edges": "FulfillmentEventEdge",
    },
    "FulfillmentEventEdge": {"cursor": _S, "node": "FulfillmentEvent"},
    "FulfillmentEvent": {
        "id": _S,
        "status": _S,
        "happenedAt": _S,
        "createdAt": _S,
        "message": _S,
        "city": _S,
        "province": _S,
        "country": _S,
    },
    "FulfillmentLineItemConnection": {
        "pageInfo": "PageInfo",
        "nodes": "FulfillmentLineItem",
        "edges": "FLIEdge",
    },
    "FLIEdge": {"cursor": _S, "node": "FulfillmentLineItem"},
    "FulfillmentLineItem": {"id": _S, "quantity": _S, "lineItem": "LineItem"},
    "Refund": {
        "id": _S,
        "legacyResourceId": _S,
        "note": _S,
        "createdAt": _S,
        "processedAt": _S,
        "updatedAt": _S,
        "totalRefundedSet": _MONEY_BAG,
        "transactions": "OrderTransactionConnection",
        "return": "Return",
    },
    "OrderTransactionConnection": {
        "pageInfo": "PageInfo",
        "nodes": "OrderTransaction",
        "edges": "OrderTransactionEdge",
    },
    "OrderTransactionEdge": {"cursor": _S, "node": "OrderTransaction"},
    "OrderTransaction": {
        "id": _S,
        "kind": _S,
        "status": _S,
        "gateway": _S,
        "createdAt": _S,
        "processedAt": _S,
        "amountSet": _MONEY_BAG,
    },
    "ReturnConnection": {"pageInfo": "PageInfo", "nodes": "Return", "edges": "ReturnEdge"},
    "ReturnEdge": {"cursor": _S, "node": "Return"},
    "ProductConnection": {"pageInfo": "PageInfo", "nodes": "Product", "edges": "ProductEdge"},
    "ProductEdge": {"cursor": _S, "node": "Product"},
    "Product": {
        "id": _S,
        "legacyResourceId": _S,
        "title": _S,
        "handle": _S,
        "productType": _S,
        "status": _S,
        "createdAt": _S,
        "updatedAt": _S,
        "variants": "ProductVariantConnection",
    },
    "ProductVariantConnection": {
        "pageInfo": "PageInfo",
        "nodes": "ProductVariant",
        "edges": "ProductVariantEdge",
    },
    "ProductVariantEdge": {"cursor": _S, "node": "ProductVariant"},
    "ProductVariant": {
        "id": _S,
        "legacyResourceId": _S,
        "sku": _S,
        "title": _S,
        "price": _S,
        "inventoryQuantity": _S,
        "createdAt": _S,
        "updatedAt": _S,
        "inventoryItem": "InventoryItem",
    },
    "InventoryItem": {"id": _S, "legacyResourceId": _S, "sku": _S, "tracked": _S},
    "WebhookSubscriptionConnection": {
        "pageInfo": "PageInfo",
        "nodes": "WebhookSubscription",
        "edges": "WebhookSubscriptionEdge",
    },
    "WebhookSubscriptionEdge": {"cursor": _S, "node": "WebhookSubscription"},
    "Job": {"id": _S, "done": _S},
    "OrderCancelJobResult": {"id": _S, "done": _S},
    "UserError": {"field": _S, "message": _S},
    "OrderCancelUserError": {"field": _S, "message": _S, "code": _S},
    "ReturnUserError": {"field": _S, "message": _S, "code": _S},
    "OrderCancelPayload": {
        "job": "Job",
        "jobResult": "OrderCancelJobResult",
        "orderCancelUserErrors": "OrderCancelUserError",
        "userErrors": "UserError",
    },
    "OrderUpdatePayload": {"order": "Order", "userErrors": "UserError"},
    "ReturnRequestPayload": {"return": "Return", "userErrors": "ReturnUserError"},
    "Return": {
        "id": _S,
        "name": _S,
        "status": _S,
        "createdAt": _S,
        "closedAt": _S,
        "order": "Order",
        "returnLineItems": "ReturnLineItemTypeConnection",
    },
    # Since 2024-04 a return's lines are the ReturnLineItemType interface; fulfillmentLineItem
    # is only on the ReturnLineItem implementation (`... on ReturnLineItem { }`).
    "ReturnLineItemTypeConnection": {
        "pageInfo": "PageInfo",
        "nodes": "ReturnLineItemType",
        "edges": "ReturnLineItemTypeEdge",
    },
    "ReturnLineItemTypeEdge": {"cursor": _S, "node": "ReturnLineItemType"},
    "ReturnLineItemType": {"id": _S, "quantity": _S, "returnReason": _S, "customerNote": _S},
    "ReturnLineItem": {
        "id": _S,
        "quantity": _S,
        "returnReason": _S,
        "customerNote": _S,
        "fulfillmentLineItem": "FulfillmentLineItem",
    },
    "UnverifiedReturnLineItem": {
        "id": _S,
        "quantity": _S,
        "returnReason": _S,
        "customerNote": _S,
    },
    "WebhookSubscriptionCreatePayload": {
        "webhookSubscription": "WebhookSubscription",
        "userErrors": "UserError",
    },
    "WebhookSubscription": {
        "id": _S,
        "topic": _S,
        "filter": _S,
        "uri": _S,
        "format": _S,
        "createdAt": _S,
        "updatedAt": _S,
    },
}

#: Interface -> the object types implementing it (what an inline fragment may name).
INTERFACES: dict[str, frozenset[str]] = {
    "ReturnLineItemType": frozenset({"ReturnLineItem", "UnverifiedReturnLineItem"}),
}


def is_connection(type_name: str | None) -> bool:
    return type_name is not None and type_name.endswith("Connection")


def check_selection(selection: Selection, type_name: str, path: tuple[str, ...] = ()) -> None:
    fields = SCHEMA[type_name]
    for name, below in selection.items():
        if name == "__typename":
            continue
        if name.startswith(FRAGMENT):
            fragment_type = name[len(FRAGMENT) :]
            if fragment_type not in INTERFACES.get(type_name, {type_name}):
                raise DocumentError(
                    f"Fragment on {fragment_type} can't be spread inside {type_name}",
                    "fragmentSpreadImpossible",
                )
            check_selection(below or {}, fragment_type, path)
            continue
        if name not in fields:
            raise DocumentError(
                f"Field '{name}' doesn't exist on type '{type_name}'",
                "undefinedField",
                typeName=type_name,
                fieldName=name,
                path=[*path, name],
            )
        child = fields[name]
        if child is None and below is not None:
            raise DocumentError(
                f"Selections can't be made on scalars (field '{name}' returns a scalar)",
                "selectionMismatch",
            )
        if child is not None and below is None:
            raise DocumentError(
                f"Field must have selections (field '{name}' returns {child})",
                "selectionMismatch",
            )
        if child is not None and below is not None:
            check_selection(below, child, (*path, name))


def prune(value: Any, selection: Selection | None) -> Any:
    """`value` with only the selected fields, as GraphQL answers."""
    if selection is None or value is None:
        return value
    if isinstance(value, list):
        return [prune(item, selection) for item in value]
    return {name: prune(value.get(name), below) for name, below in selection.items()}


#: The implementation an inline fragment on an interface matches when the stored node does
#: not say its `__typename` (the fake stores only the usual kind).
DEFAULT_IMPLEMENTATION = {"ReturnLineItemType": "ReturnLineItem"}


def _connection_page(
    nodes: Sequence[Any], first: int | None, last: int | None = None, after: str | None = None
) -> dict[str, Any]:
    """A nested connection's answer from its stored `nodes`: the first `first` of them after
    the cursor `after` (cursors are positions, "n<k>"), or the last `last`."""
    start = int(base64.b64decode(after).decode()[1:]) if after else 0
    rest = nodes[start:]
    page = list(rest if first is None else rest[: max(0, first)])
    if last is not None:
        page = page[-last:] if last > 0 else []
    offset = start + len(rest) - len(page) if last is not None else start
    cursors = [base64.b64encode(f"n{offset + i + 1}".encode()).decode() for i in range(len(page))]
    return {
        "nodes": page,
        "edges": [{"cursor": c, "node": n} for c, n in zip(cursors, page, strict=True)],
        "pageInfo": {
            "hasNextPage": first is not None and len(page) < len(rest),
            "hasPreviousPage": start > 0 or (last is not None and len(page) < len(rest)),
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
    }


def render(
    value: Any,
    selection: Selection | None,
    type_name: str | None,
    operation: Operation,
    variables: Mapping[str, Any],
    path: tuple[str, ...] = (),
) -> Any:
    """`value` as GraphQL answers it: only the selected fields, nested connections cut to
    their `first` (stored as {"nodes": [...]}), inline fragments merged when they match."""
    if selection is None or value is None or type_name is None:
        return value
    if isinstance(value, list):
        # A plain list with `first` (an order's fulfillments and refunds, a fulfilment's
        # trackingInfo) is cut as Shopify cuts it: silently, without pageInfo.
        limit = operation.argument_at(path, "first", variables)
        kept = value if limit is None else value[: max(0, int(limit))]
        return [render(v, selection, type_name, operation, variables, path) for v in kept]
    if is_connection(type_name) and len(path) > 1:
        first = operation.argument_at(path, "first", variables)
        last = operation.argument_at(path, "last", variables)
        after = operation.argument_at(path, "after", variables)
        value = _connection_page(
            value.get("nodes") or [],
            None if first is None else int(first),
            None if last is None else int(last),
            after if isinstance(after, str) and after else None,
        )
    fields = SCHEMA[type_name]
    answer: dict[str, Any] = {}
    for name, below in selection.items():
        if name == "__typename":
            answer[name] = value.get("__typename") or DEFAULT_IMPLEMENTATION.get(
                type_name, type_name
            )
            continue
        if name.startswith(FRAGMENT):
            fragment_type = name[len(FRAGMENT) :]
            actual_type = value.get("__typename") or DEFAULT_IMPLEMENTATION.get(
                type_name, type_name
            )
            if actual_type == fragment_type:
                answer.update(
                    render(value, below, fragment_type, operation, variables, (*path, name))
                )
            continue
        answer[name] = render(
            value.get(name), below, fields.get(name), operation, variables, (*path, name)
        )
    return answer


def _connection_nodes(selection: Selection) -> tuple[Selection | None, tuple[str, ...]]:
    """The node selection of a connection's selection, and its path below the connection."""
    if selection.get("nodes") is not None:
        return selection["nodes"], ("nodes",)
    edges = selection.get("edges")
    if edges is not None and edges.get("node") is not None:
        return edges["node"], ("edges", "node")
    return None, ()


def static_cost(
    selection: Selection,
    type_name: str,
    operation: Operation,
    variables: Mapping[str, Any],
    path: tuple[str, ...] = (),
) -> float:
    """Shopify's requested cost of a selection, before running it: scalars and enums 0, an
    object 1 plus its selection, a connection 2 plus `first` times the cost of a node (so
    nested connections multiply). Lists of objects that are not connections (an order's
    `fulfillments`, `refunds`, a fulfilment's `trackingInfo`) count as one object here: the
    fake's approximation, which keeps ORDERS_UPDATED_SINCE at 2 + 3 * first."""
    total = 0.0
    fields = SCHEMA[type_name]
    for name, below in selection.items():
        if below is None:
            continue
        if name.startswith(FRAGMENT):
            total += static_cost(below, name[len(FRAGMENT) :], operation, variables, (*path, name))
            continue
        child = fields[name]
        assert child is not None  # check_selection ran first
        if is_connection(child):
            first = int(
                operation.argument_at((*path, name), "first", variables)
                or operation.argument_at((*path, name), "last", variables)
                or 0
            )
            nodes, below_path = _connection_nodes(below)
            node_type = SCHEMA[child]["nodes"]
            assert node_type is not None
            per_node = (
                0.0
                if nodes is None
                else 1
                + static_cost(nodes, node_type, operation, variables, (*path, name, *below_path))
            )
            total += 2 + first * per_node
        else:
            total += 1 + static_cost(below, child, operation, variables, (*path, name))
    return total


def actual_cost(
    answer: Any,
    selection: Selection,
    type_name: str,
    operation: Operation,
    variables: Mapping[str, Any],
    path: tuple[str, ...] = (),
) -> float:
    """What running it cost: like `static_cost`, but a connection counts the nodes it
    returned (2 + their cost) and an object that came back null costs nothing."""
    if not isinstance(answer, dict):
        return 0.0
    total = 0.0
    fields = SCHEMA[type_name]
    for name, below in selection.items():
        if below is None:
            continue
        if name.startswith(FRAGMENT):
            fragment = name[len(FRAGMENT) :]
            total += actual_cost(answer, below, fragment, operation, variables, (*path, name))
            continue
        child = fields[name]
        assert child is not None
        value = answer.get(name)
        if is_connection(child):
            nodes_selection, below_path = _connection_nodes(below)
            node_type = SCHEMA[child]["nodes"]
            assert node_type is not None
            total += 2
            if nodes_selection is not None and isinstance(value, dict):
                returned = value.get("nodes")
                if returned is None:
                    returned = [edge.get("node") for edge in value.get("edges") or []]
                total += sum(
                    1
                    + actual_cost(
                        node,
                        nodes_selection,
                        node_type,
                        operation,
                        variables,
                        (*path, name, *below_path),
                    )
                    for node in returned
                )
        elif isinstance(value, list):
            total += 1 + static_cost(below, child, operation, variables, (*path, name))
        elif value is not None:
            total += 1 + actual_cost(value, below, child, operation, variables, (*path, name))
    return total


# ---------------------------------------------------------------------------------------------
# The shop.


def gid(kind: str, number: int | str) -> str:
    return f"gid://shopify/{kind}/{number}"


def fulfillment(
    number: int,
    *,
    tracking: Sequence[tuple[str, str, str | None]] = (),
    line_items: Sequence[tuple[int, int]] = (),
    status: str = "SUCCESS",
    display_status: str = "FULFILLED",
    updated_at: str = "2026-11-30T09:00:00Z",
) -> dict[str, Any]:
    """A Fulfillment node: tracking as (company, number, url), line items as (id, quantity)."""
    items = [
        {"id": gid("FulfillmentLineItem", i), "quantity": q, "lineItem": None}
        for i, q in line_items
    ]
    return {
        "id": gid("Fulfillment", number),
        "legacyResourceId": str(number),
        "name": f"F{number}",
        "status": status,
        "displayStatus": display_status,
        "createdAt": updated_at,
        "updatedAt": updated_at,
        "deliveredAt": None,
        "estimatedDeliveryAt": None,
        "inTransitAt": None,
        "trackingInfo": [{"company": c, "number": n, "url": u} for c, n, u in tracking],
        "events": {"nodes": []},
        "fulfillmentLineItems": {"nodes": items, "edges": [{"node": i} for i in items]},
    }


def money_bag(amount: Decimal | str, currency: str) -> dict[str, Any]:
    """A MoneyBag as the GraphQL Admin API writes it: decimal strings without trailing zeros
    ("25.0", "19.99"), shop and presentment money alike (the fake has one currency)."""
    text = f"{Decimal(amount).normalize():f}"
    money = {"amount": text if "." in text else f"{text}.0", "currencyCode": currency}
    return {"shopMoney": money, "presentmentMoney": dict(money)}


def bag_amount(bag: Mapping[str, Any] | None) -> Decimal:
    return Decimal(str(bag["shopMoney"]["amount"])) if bag else Decimal(0)


@dataclass(frozen=True)
class Line:
    """A line of an order to be added: `add_order(..., lines=[Line("NW-TEE-M", 2, "25.00")])`."""

    sku: str | None
    quantity: int = 1
    price: str = "25.00"
    name: str = "Trail tee"
    variant: int | None = None
    discount: str = "0.00"


#: The address an order gets unless told otherwise (MailingAddress fields).
DEFAULT_ADDRESS: dict[str, Any] = {
    "firstName": "Sam",
    "lastName": "Shopper",
    "name": "Sam Shopper",
    "address1": "1 Main St",
    "city": "Ottawa",
    "province": "Ontario",
    "provinceCode": "ON",
    "zip": "K2P 1L4",
    "country": "Canada",
    "countryCodeV2": "CA",
}
DEFAULT_LINES = (Line("NW-TEE-001", 1, "25.00", "Trail tee", variant=41),)


@dataclass
class Call:
    """One request that reached the fake."""

    status: int
    #: The operation's name ("OrderCancel"), None if anonymous or unreadable.
    operation: str | None = None
    root: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    #: "ok", "throttled", "fault", "unauthorized", "invalid", "not_found".
    outcome: str = "ok"
    #: The fake clock's time when it arrived.
    at: float = 0.0
    body: Any = None
    #: The cost figures of an answered query (None when it was not run).
    requested_cost: float | None = None
    actual_cost: float | None = None


@dataclass
class _Fault:
    status: int
    retry_after: float | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    stall: float = 0.0
    #: A THROTTLED answer without extensions.cost.
    bare_throttle: bool = False


@dataclass
class Bucket:
    maximum: float = 1000.0
    restore_rate: float = 50.0
    available: float = 1000.0
    read_at: float = 0.0

    def refill(self, now: float) -> None:
        self.available = min(
            self.maximum, self.available + (now - self.read_at) * self.restore_rate
        )
        self.read_at = now

    def status(self) -> dict[str, float]:
        return {
            "maximumAvailable": self.maximum,
            "currentlyAvailable": self.available,
            "restoreRate": self.restore_rate,
        }


def requested_cost(operation: Operation, variables: Mapping[str, Any]) -> float:
    """A mutation 10 points (Shopify's figure); a query its `static_cost` (at least 1)."""
    if operation.kind == "mutation":
        return 10.0
    return max(1.0, static_cost(operation.selection, "QueryRoot", operation, variables))


class FakeShopify:
    def __init__(
        self,
        *,
        access_token: str = ACCESS_TOKEN,
        api_version: str = API_VERSION,
        clock: ManualClock | None = None,
    ) -> None:
        self.access_token = access_token
        self.api_version = api_version
        self.clock = clock or ManualClock()
        self.calls: list[Call] = []
        self.bucket = Bucket()
        #: Shopify's ceiling for one query's requested cost (MAX_COST_EXCEEDED above it).
        self.max_query_cost = 1000.0
        self.orders: dict[str, dict[str, Any]] = {}
        self.returns: dict[str, dict[str, Any]] = {}
        self.products: dict[str, dict[str, Any]] = {}
        #: Sorted, filtered order lists by (search, sort key, the orders' updatedAt values).
        self._listings: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        self.webhook_subscriptions: list[dict[str, Any]] = []
        self._faults: list[_Fault] = []
        self._ids = itertools.count(900_000_001)
        self._lock = threading.RLock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        # A short poll keeps stop() quick: shutdown waits for the loop's next look.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name="fake-shopify", daemon=True
        )

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> FakeShopify:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeShopify:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """What the client takes as base URL: .../admin/api/<version>."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/admin/api/{self.api_version}"

    def client(self, **options: Any) -> Any:
        """A real ShopifyAdminClient pointed here, on this fake's clock, without jitter."""
        from bot.platforms.shopify.admin_api import ShopifyAdminClient

        defaults: dict[str, Any] = {
            "clock": self.clock.monotonic,
            "sleep": self.clock.sleep,
            "jitter": 0.0,
            "timeout": 5.0,
        }
        token = options.pop("access_token", self.access_token)
        return ShopifyAdminClient(self.base_url, token, **{**defaults, **options})

    # -- the shop -------------------------------------------------------------------------------
    def add_order(
        self,
        number: int,
        *,
        name: str | None = None,
        updated_at: str = "2026-11-30T10:00:00Z",
        created_at: str | None = None,
        financial_status: str = "PAID",
        fulfillments: Sequence[dict[str, Any]] = (),
        shipping_address: Mapping[str, Any] | None = None,
        email: str | None = "shopper@example.com",
        lines: Sequence[Line] = DEFAULT_LINES,
        currency: str = "CAD",
        shipping: str = "5.00",
        tax: str = "0.00",
        processed_at: str | None = None,
        gateways: Sequence[str] = ("shopify_payments",),
        customer: Mapping[str, Any] | None = None,
        phone: str | None = None,
    ) -> str:
        """Adds an order to the shop; returns its GID. Every field `map_order` needs has a
        default: one line (DEFAULT_LINES), a customer named after the shipping address with
        `email` (none when `email` is None), CAD money, 5.00 shipping, no tax."""
        order_id = gid("Order", number)
        address = {key: None for key in SCHEMA["MailingAddress"]}
        address.update(DEFAULT_ADDRESS)
        address.update(shipping_address or {})
        placed = created_at or updated_at
        items = [self._line_item(line, currency) for line in lines]
        subtotal = sum(
            (
                bag_amount(i["originalUnitPriceSet"]) * i["quantity"]
                - sum(
                    (bag_amount(d["allocatedAmountSet"]) for d in i["discountAllocations"]),
                    Decimal(0),
                )
                for i in items
            ),
            Decimal(0),
        )
        discounts = sum(
            (bag_amount(d["allocatedAmountSet"]) for i in items for d in i["discountAllocations"]),
            Decimal(0),
        )
        total = subtotal + Decimal(shipping) + Decimal(tax)
        buyer: dict[str, Any] | None = None
        if email is not None:
            buyer = {
                "id": gid("Customer", 500_000 + number),
                "legacyResourceId": str(500_000 + number),
                "firstName": address["firstName"],
                "lastName": address["lastName"],
                "displayName": f"{address['firstName']} {address['lastName']}",
                "email": email,
                "phone": phone,
                "defaultEmailAddress": {"emailAddress": email},
                "defaultPhoneNumber": {"phoneNumber": phone} if phone else None,
                "tags": [],
                "createdAt": placed,
                "updatedAt": placed,
            }
            buyer.update(customer or {})
        with self._lock:
            self.orders[order_id] = {
                "id": order_id,
                "legacyResourceId": str(number),
                "name": name or f"#{number}",
                "number": number,
                "email": email,
                "phone": phone,
                "note": None,
                "createdAt": placed,
                "processedAt": processed_at or placed,
                "updatedAt": updated_at,
                "cancelledAt": None,
                "cancelReason": None,
                "closed": False,
                "closedAt": None,
                "displayFinancialStatus": financial_status,
                "displayFulfillmentStatus": "FULFILLED" if fulfillments else "UNFULFILLED",
                "currencyCode": currency,
                "taxesIncluded": False,
                "subtotalPriceSet": money_bag(subtotal, currency),
                "totalShippingPriceSet": money_bag(shipping, currency),
                "totalTaxSet": money_bag(tax, currency),
                "totalPriceSet": money_bag(total, currency),
                "totalDiscountsSet": money_bag(discounts, currency),
                "paymentGatewayNames": list(gateways),
                "customer": buyer,
                "shippingAddress": address,
                "billingAddress": dict(address),
                "shippingLine": {
                    "title": "Standard",
                    "code": "STANDARD",
                    "originalPriceSet": money_bag(shipping, currency),
                },
                "lineItems": {"nodes": items},
                "fulfillments": [dict(f) for f in fulfillments],
                "refunds": [],
            }
        return order_id

    def _line_item(self, line: Line, currency: str) -> dict[str, Any]:
        number = next(self._ids)
        discount = Decimal(line.discount)
        variant = line.variant
        return {
            "id": gid("LineItem", number),
            "sku": line.sku,
            "name": line.name,
            "title": line.name,
            "quantity": line.quantity,
            "currentQuantity": line.quantity,
            "originalUnitPriceSet": money_bag(line.price, currency),
            "variant": None
            if variant is None
            else {"id": gid("ProductVariant", variant), "legacyResourceId": str(variant)},
            "discountAllocations": [{"allocatedAmountSet": money_bag(discount, currency)}]
            if discount
            else [],
        }

    def add_orders(
        self,
        count: int,
        *,
        first_number: int = 10_001,
        start: datetime = datetime(2026, 11, 1, tzinfo=UTC),
        step_seconds: int = 60,
        **options: Any,
    ) -> list[str]:
        """`count` orders numbered from `first_number`, created (and last updated) one every
        `step_seconds` from `start`; `options` go to add_order. 10,000 take about a
        second."""
        made = []
        for index in range(count):
            at = _stamp(start + timedelta(seconds=index * step_seconds))
            made.append(
                self.add_order(first_number + index, updated_at=at, created_at=at, **options)
            )
        return made

    def order(self, order_gid: str) -> dict[str, Any]:
        with self._lock:
            return json.loads(json.dumps(self.orders[order_gid]))

    # -- changing the shop the way Shopify does: each change moves the order's updatedAt ------
    def _touch(self, order: dict[str, Any]) -> str:
        """A new updatedAt for `order`: the clock's time, but always later than the last one
        (Shopify's times have one-second resolution; two quick changes must still order)."""
        now = self.clock.utc().replace(microsecond=0)
        previous = _instant(order["updatedAt"])
        stamp = _stamp(max(now, previous + timedelta(seconds=1)))
        order["updatedAt"] = stamp
        return stamp

    def fulfil(
        self,
        order_gid: str,
        *,
        tracking: Sequence[tuple[str, str, str | None]] = (
            ("UPS", "1Z999AA10123456784", "https://www.ups.com/track?tracknum=1Z999AA10123456784"),
        ),
        status: str = "SUCCESS",
        display_status: str = "FULFILLED",
        lines: Sequence[tuple[str, int]] | None = None,
    ) -> str:
        """Fulfils `lines` ((line item GID, quantity); default: everything not yet fulfilled)
        with `tracking` ((company, number, url)); returns the fulfilment's GID."""
        with self._lock:
            order = self.orders[order_gid]
            by_id = {item["id"]: item for item in order["lineItems"]["nodes"]}
            done = self._fulfilled_quantities(order)
            if lines is None:
                lines = [
                    (item_id, item["quantity"] - done.get(item_id, 0))
                    for item_id, item in by_id.items()
                    if item["quantity"] > done.get(item_id, 0)
                ]
            stamp = self._touch(order)
            number = next(self._ids)
            created = fulfillment(
                number,
                tracking=tracking,
                status=status,
                display_status=display_status,
                updated_at=stamp,
            )
            created["fulfillmentLineItems"]["nodes"] = items = [
                {
                    "id": gid("FulfillmentLineItem", next(self._ids)),
                    "quantity": quantity,
                    "lineItem": by_id[item_id],
                }
                for item_id, quantity in lines
            ]
            created["fulfillmentLineItems"]["edges"] = [{"node": i} for i in items]
            order["fulfillments"].append(created)
            done = self._fulfilled_quantities(order)
            complete = all(done.get(i, 0) >= item["quantity"] for i, item in by_id.items())
            order["displayFulfillmentStatus"] = "FULFILLED" if complete else "PARTIALLY_FULFILLED"
            return str(created["id"])

    @staticmethod
    def _fulfilled_quantities(order: Mapping[str, Any]) -> dict[str, int]:
        done: dict[str, int] = {}
        for f in order["fulfillments"]:
            if f["status"] == "CANCELLED":
                continue
            for item in f["fulfillmentLineItems"]["nodes"]:
                line = item.get("lineItem")
                if line is not None:
                    done[line["id"]] = done.get(line["id"], 0) + item["quantity"]
        return done

    def set_fulfillment_status(
        self,
        order_gid: str,
        status: str,
        *,
        fulfillment_gid: str | None = None,
        message: str | None = None,
    ) -> str:
        """A carrier event on a fulfilment (default: the order's latest): a FulfillmentEvent
        with `status` (IN_TRANSIT, OUT_FOR_DELIVERY, DELAYED, FAILURE, DELIVERED, ...), which
        becomes the fulfilment's displayStatus; DELIVERED sets deliveredAt. Returns the
        event's GID."""
        with self._lock:
            order = self.orders[order_gid]
            chosen = [f for f in order["fulfillments"] if fulfillment_gid in (None, f["id"])]
            if not chosen:
                raise KeyError(fulfillment_gid)
            target = chosen[-1]
            stamp = self._touch(order)
            event = {
                "id": gid("FulfillmentEvent", next(self._ids)),
                "status": status,
                "happenedAt": stamp,
                "createdAt": stamp,
                "message": message,
                "city": None,
                "province": None,
                "country": None,
            }
            target.setdefault("events", {"nodes": []})["nodes"].append(event)
            target["displayStatus"] = status
            target["updatedAt"] = stamp
            if status == "IN_TRANSIT" and target.get("inTransitAt") is None:
                target["inTransitAt"] = stamp
            if status == "DELIVERED":
                target["deliveredAt"] = stamp
            return str(event["id"])

    def add_refund(
        self,
        order_gid: str,
        amount: str | None = None,
        *,
        gateway: str = "shopify_payments",
        status: str = "SUCCESS",
        return_gid: str | None = None,
        note: str | None = None,
    ) -> str:
        """A refund of `amount` (default: what is left of the total) in one REFUND transaction;
        the order's financial status becomes PARTIALLY_REFUNDED or REFUNDED when it
        succeeded. Returns the refund's GID."""
        with self._lock:
            order = self.orders[order_gid]
            currency = order["currencyCode"]
            total = bag_amount(order["totalPriceSet"])
            refunded = self._refunded(order)
            value = Decimal(amount) if amount is not None else total - refunded
            stamp = self._touch(order)
            number = next(self._ids)
            transaction = {
                "id": gid("OrderTransaction", next(self._ids)),
                "kind": "REFUND",
                "status": status,
                "gateway": gateway,
                "createdAt": stamp,
                "processedAt": stamp,
                "amountSet": money_bag(value, currency),
            }
            linked = self.returns.get(return_gid) if return_gid else None
            order["refunds"].append(
                {
                    "id": gid("Refund", number),
                    "legacyResourceId": str(number),
                    "note": note,
                    "createdAt": stamp,
                    "processedAt": stamp,
                    "updatedAt": stamp,
                    "totalRefundedSet": money_bag(
                        value if status == "SUCCESS" else Decimal(0), currency
                    ),
                    "transactions": {"nodes": [transaction]},
                    "return": None
                    if linked is None
                    else {"id": linked["id"], "name": linked["name"], "status": linked["status"]},
                }
            )
            refunded = self._refunded(order)
            if refunded >= total:
                order["displayFinancialStatus"] = "REFUNDED"
            elif refunded > 0:
                order["displayFinancialStatus"] = "PARTIALLY_REFUNDED"
            return gid("Refund", number)

    @staticmethod
    def _refunded(order: Mapping[str, Any]) -> Decimal:
        return sum((bag_amount(r["totalRefundedSet"]) for r in order["refunds"]), Decimal(0))

    def add_return(
        self,
        order_gid: str,
        lines: Sequence[tuple[str, int]] | None = None,
        *,
        status: str = "REQUESTED",
        reason: str = "OTHER",
    ) -> str:
        """A return of `lines` ((fulfillment line item GID, quantity); default: everything
        fulfilled) with `status` (REQUESTED, OPEN, CLOSED, DECLINED, CANCELED). Returns its
        GID."""
        with self._lock:
            order = self.orders[order_gid]
            fulfilled = {
                item["id"]: item
                for f in order["fulfillments"]
                for item in f["fulfillmentLineItems"]["nodes"]
            }
            chosen = lines or [(item_id, item["quantity"]) for item_id, item in fulfilled.items()]
            items = [
                {
                    "id": gid("ReturnLineItem", next(self._ids)),
                    "quantity": quantity,
                    "returnReason": reason,
                    "customerNote": None,
                    "fulfillmentLineItem": fulfilled[item_id],
                }
                for item_id, quantity in chosen
            ]
            return_id = gid("Return", next(self._ids))
            stamp = self._touch(order)
            self.returns[return_id] = {
                "id": return_id,
                "name": f"{order['name']}-R{len(self.returns) + 1}",
                "status": status,
                "createdAt": stamp,
                "closedAt": stamp if status == "CLOSED" else None,
                "order": order,
                "returnLineItems": {"nodes": items, "edges": [{"node": n} for n in items]},
            }
            return return_id

    def add_product(
        self,
        number: int,
        title: str,
        variants: Sequence[tuple[str | None, str, int]] = (("NW-TEE-001", "25.00", 10),),
        *,
        product_type: str = "Apparel",
        updated_at: str = "2026-11-30T08:00:00Z",
        variant_titles: Sequence[str] | None = None,
    ) -> str:
        """A product with `variants` ((sku, price, inventory quantity)); returns its GID."""
        product_id = gid("Product", number)
        nodes = []
        for index, (sku, price, stock) in enumerate(variants):
            variant, item = next(self._ids), next(self._ids)
            nodes.append(
                {
                    "id": gid("ProductVariant", variant),
                    "legacyResourceId": str(variant),
                    "sku": sku,
                    "title": variant_titles[index] if variant_titles else "Default Title",
                    "price": price,
                    "inventoryQuantity": stock,
                    "createdAt": updated_at,
                    "updatedAt": updated_at,
                    "inventoryItem": {
                        "id": gid("InventoryItem", item),
                        "legacyResourceId": str(item),
                        "sku": sku,
                        "tracked": True,
                    },
                }
            )
        with self._lock:
            self.products[product_id] = {
                "id": product_id,
                "legacyResourceId": str(number),
                "title": title,
                "handle": re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-"),
                "productType": product_type,
                "status": "ACTIVE",
                "createdAt": updated_at,
                "updatedAt": updated_at,
                "variants": {"nodes": nodes},
            }
        return product_id

    def stock_order_skus(self, stock: int = 10) -> list[str]:
        """A product for every order line SKU that has none yet (what an export document
        needs beside the orders); returns the SKUs it added."""
        with self._lock:
            known = {v["sku"] for p in self.products.values() for v in p["variants"]["nodes"]}
            prices: dict[str, str] = {}
            for order in self.orders.values():
                for item in order["lineItems"]["nodes"]:
                    sku = item["sku"]
                    if sku and sku not in known:
                        prices.setdefault(sku, item["originalUnitPriceSet"]["shopMoney"]["amount"])
        for index, (sku, price) in enumerate(sorted(prices.items())):
            self.add_product(
                800_000 + len(self.products) + index, f"Product {sku}", [(sku, price, stock)]
            )
        return sorted(prices)

    def add_long_order(
        self,
        number: int,
        *,
        lines: int = 45,
        parcels: int = 3,
        returns: int = 4,
        return_lines: int = 6,
        transactions: int = 1,
    ) -> str:
        """An order as long as real shops have: `lines` line items of 2 each, fulfilled in
        `parcels` fulfilments of 2 x lines / parcels items each (the lines taken round-robin,
        each line in two parcels; one parcel with everything when `parcels` is 1), `returns`
        requested returns of `return_lines` lines each, and a refund in `transactions`
        transactions. Returns its GID."""
        items = [Line(f"NW-LONG-{n:03d}", 2 if parcels > 1 else 1, "5.00") for n in range(lines)]
        order_gid = self.add_order(number, lines=items)
        ids = [item["id"] for item in self.orders[order_gid]["lineItems"]["nodes"]]
        shares: list[list[tuple[str, int]]] = [[] for _ in range(parcels)]
        for index, line_id in enumerate(ids):
            for turn in range(2 if parcels > 1 else 1):
                shares[(2 * index + turn) % parcels].append((line_id, 1))
        for number_in_order, share in enumerate(shares):
            self.fulfil(
                order_gid,
                lines=share,
                tracking=[
                    (
                        "UPS",
                        f"1Z{number:06d}{number_in_order:04d}",
                        f"https://www.ups.com/track?tracknum=1Z{number:06d}{number_in_order:04d}",
                    )
                ],
            )
        fulfilled = [
            item["id"]
            for f in self.orders[order_gid]["fulfillments"]
            for item in f["fulfillmentLineItems"]["nodes"]
        ]
        for index in range(returns):
            chosen = fulfilled[index * return_lines : (index + 1) * return_lines]
            self.add_return(
                order_gid, [(item_id, 1) for item_id in chosen], reason="SIZE_TOO_SMALL"
            )
        if transactions:
            refund_gid = self.add_refund(order_gid, "1.00")
            with self._lock:
                refund = next(r for r in self.orders[order_gid]["refunds"] if r["id"] == refund_gid)
                first = refund["transactions"]["nodes"][0]
                refund["transactions"]["nodes"] = [
                    {**first, "id": gid("OrderTransaction", next(self._ids))}
                    for _ in range(transactions)
                ]
        return order_gid

    def webhook_body(self, order_gid: str) -> bytes:
        """The order as the REST JSON body Shopify sends on orders/updated (the shape of
        ../shared/fixtures/shopify/webhooks/webhook_orders_create.json), from this fake's
        state: a test signs and delivers it, and it agrees with what the Admin API answers."""
        with self._lock:
            order = self.orders[order_gid]
            returns = [r for r in self.returns.values() if r["order"]["id"] == order_gid]
            return json.dumps(rest_order(order, returns)).encode()

    def set_bucket(
        self,
        *,
        available: float | None = None,
        maximum: float | None = None,
        restore_rate: float | None = None,
    ) -> None:
        with self._lock:
            bucket = self.bucket
            bucket.refill(self.clock.monotonic())
            if maximum is not None:
                bucket.maximum = maximum
            if restore_rate is not None:
                bucket.restore_rate = restore_rate
            if available is not None:
                bucket.available = available

    # -- faults ---------------------------------------------------------------------------------
    def fail_next(
        self, count: int = 1, *, status: int = 503, headers: Mapping[str, str] | None = None
    ) -> None:
        """The next `count` requests are answered `status` (with `headers`), doing nothing."""
        with self._lock:
            self._faults.extend(_Fault(status, headers=dict(headers or {})) for _ in range(count))

    def rate_limit_next(self, count: int = 1, *, retry_after: float | None = 2.0) -> None:
        with self._lock:
            self._faults.extend(_Fault(429, retry_after=retry_after) for _ in range(count))

    def stall_next(self, count: int = 1, *, seconds: float) -> None:
        """The next `count` requests are carried out, and answered `seconds` (real) late."""
        with self._lock:
            self._faults.extend(_Fault(200, stall=seconds) for _ in range(count))

    def throttle_next(self, count: int = 1) -> None:
        with self._lock:
            self._faults.extend(_Fault(200, bare_throttle=True) for _ in range(count))

    # -- what tests look at ---------------------------------------------------------------------
    def operations(self, outcome: str | None = "ok") -> list[str | None]:
        with self._lock:
            return [c.operation for c in self.calls if outcome is None or c.outcome == outcome]

    def cost_spent(self) -> float:
        """The actual cost of every query and mutation answered so far (what a benchmark
        reports as API cost; THROTTLED and failed requests cost nothing)."""
        with self._lock:
            return sum(c.actual_cost or 0.0 for c in self.calls)

    def calls_to(self, root: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.root == root]

    # -- answering ------------------------------------------------------------------------------
    def _take_fault(self) -> _Fault | None:
        with self._lock:
            return self._faults.pop(0) if self._faults else None

    def handle(self, token: str | None, raw: bytes) -> tuple[int, Any, dict[str, str], float]:
        """(status, JSON body, extra headers, real seconds to wait before answering)."""
        call = Call(status=200, at=self.clock.monotonic())
        with self._lock:
            self.calls.append(call)
        fault = self._take_fault()
        if fault is not None and fault.status != 200:
            call.status, call.outcome = fault.status, "fault"
            headers = dict(fault.headers)
            if fault.retry_after is not None:
                headers["Retry-After"] = f"{fault.retry_after:g}"
            body = {"errors": "Exceeded API rate limit"} if fault.status == 429 else None
            return fault.status, body, headers, 0.0
        if token != self.access_token:
            call.status, call.outcome = 401, "unauthorized"
            return 401, UNAUTHORIZED_BODY, {}, 0.0
        try:
            request = json.loads(raw or b"{}")
            document = request["query"]
            variables = request.get("variables") or {}
        except (ValueError, KeyError, TypeError):
            call.status, call.outcome = 400, "invalid"
            return 400, {"errors": {"query": "Required parameter missing or invalid"}}, {}, 0.0
        call.variables = dict(variables)
        if fault is not None and fault.bare_throttle:
            call.outcome = "throttled"
            bare: dict[str, Any] = {
                "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]
            }
            return 200, bare, {}, 0.0
        stall = fault.stall if fault is not None else 0.0
        try:
            operation = parse(document)
            call.operation, call.root = operation.name, operation.root
            self._check(operation, variables)
            body = self._run(operation, variables, call)
        except DocumentError as error:
            call.outcome = "invalid"
            extensions = {"code": error.code, **error.extensions}
            return 200, {"errors": [{"message": str(error), "extensions": extensions}]}, {}, stall
        call.body = body
        return 200, body, {}, stall

    def _check(self, operation: Operation, variables: Mapping[str, Any]) -> None:
        root_type = "Mutation" if operation.kind == "mutation" else "QueryRoot"
        if operation.kind not in ("query", "mutation"):
            raise DocumentError("Only queries and mutations are supported", "parseError")
        check_selection(operation.selection, root_type)
        for name, (type_text, required) in operation.variables.items():
            if required and variables.get(name) is None:
                raise DocumentError(
                    f"Variable ${name} of type {type_text} was provided invalid value",
                    "INVALID_VARIABLE",
                    value=None,
                    problems=[{"path": [], "explanation": "Expected value to not be null"}],
                )
        used = [operation.arguments, *operation.field_arguments.values()]
        for argument in (a for arguments in used for a in arguments.values()):
            if argument.variable and argument.variable not in operation.variables:
                raise DocumentError(
                    f"Variable ${argument.variable} is used by {operation.root} but not declared",
                    "variableNotDefined",
                )
        for name in variables:
            if name not in operation.variables:
                raise DocumentError(
                    f"Variable ${name} is not declared by operation '{operation.name}'",
                    "variableNotDefined",
                )

    def _run(self, operation: Operation, variables: Mapping[str, Any], call: Call) -> Any:
        requested = requested_cost(operation, variables)
        if requested > self.max_query_cost:
            # Shopify refuses such a query outright, whatever the bucket holds.
            raise DocumentError(
                f"Query cost is {requested:g}, which exceeds the single query max cost limit "
                f"({self.max_query_cost:g}).",
                "MAX_COST_EXCEEDED",
                cost=requested,
                maxCost=self.max_query_cost,
            )
        with self._lock:
            self.bucket.refill(self.clock.monotonic())
            if requested > self.bucket.available:
                call.outcome = "throttled"
                return {
                    "errors": [
                        {
                            "message": "Throttled",
                            "extensions": {
                                "code": "THROTTLED",
                                "documentation": "https://shopify.dev/api/usage/rate-limits",
                            },
                        }
                    ],
                    "extensions": self._cost(requested, None),
                }
            data, mutation_cost = self._answer(operation, variables)
            root_type = "Mutation" if operation.kind == "mutation" else "QueryRoot"
            answer = render(data, operation.selection, root_type, operation, variables)
            if operation.kind == "mutation":
                actual = mutation_cost
            else:
                actual = max(
                    1.0, actual_cost(answer, operation.selection, root_type, operation, variables)
                )
            actual = min(actual, requested)
            self.bucket.available -= actual
            call.requested_cost, call.actual_cost = requested, actual
            return {"data": answer, "extensions": self._cost(requested, actual)}

    def _cost(self, requested: float, actual: float | None) -> dict[str, Any]:
        return {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": actual,
                "throttleStatus": self.bucket.status(),
            }
        }

    def _now(self) -> str:
        return self.clock.utc().strftime("%Y-%m-%dT%H:%M:%SZ")

    def _answer(self, op: Operation, variables: Mapping[str, Any]) -> tuple[dict[str, Any], float]:
        """(data, actual cost); called with the lock held."""
        arg = op.argument
        if op.root == "shop":
            shop = {"id": gid("Shop", 1), "name": SHOP_NAME, "myshopifyDomain": SHOP_DOMAIN,
                    "email": "owner@example.com", "currencyCode": "CAD"}  # fmt: skip
            return {"shop": shop}, 1.0
        if op.root == "order":
            order = self.orders.get(str(arg("id", variables)))
            return {"order": None if order is None else self._view(order)}, 1.0
        if op.root in ("fulfillment", "refund", "return"):
            return {op.root: self._part(op.root, str(arg("id", variables)))}, 1.0
        if op.root == "orders":
            connection = self._page(
                "orders",
                arg("first", variables),
                arg("after", variables),
                arg("query", variables),
                arg("sortKey", variables) or "UPDATED_AT",
            )
            connection["nodes"] = [self._view(o) for o in connection["nodes"]]
            connection["edges"] = [
                {"cursor": e["cursor"], "node": n}
                for e, n in zip(connection["edges"], connection["nodes"], strict=True)
            ]
            return {"orders": connection}, 0.0
        if op.root == "products":
            connection = self._page(
                "products",
                arg("first", variables),
                arg("after", variables),
                arg("query", variables),
                arg("sortKey", variables) or "ID",
            )
            return {"products": connection}, 0.0
        if op.root == "webhookSubscriptions":
            connection = self._page(
                "webhookSubscriptions", arg("first", variables), arg("after", variables), None, "ID"
            )
            return {"webhookSubscriptions": connection}, 0.0
        if op.root == "orderCancel":
            return {"orderCancel": self._cancel(op, variables)}, 10.0
        if op.root == "orderUpdate":
            return {"orderUpdate": self._update(arg("input", variables) or {})}, 10.0
        if op.root == "returnRequest":
            return {"returnRequest": self._return(arg("input", variables) or {})}, 10.0
        if op.root == "webhookSubscriptionCreate":
            payload = self._subscribe(
                arg("topic", variables), arg("webhookSubscription", variables) or {}
            )
            return {"webhookSubscriptionCreate": payload}, 10.0
        raise AssertionError(op.root)  # _check let through a root SCHEMA does not have

    def _part(self, root: str, wanted: str) -> dict[str, Any] | None:
        """A fulfilment, refund or return by its GID (None when the shop has none)."""
        if root == "return":
            return self.returns.get(wanted)
        key = "fulfillments" if root == "fulfillment" else "refunds"
        found = (p for o in self.orders.values() for p in o[key] if p["id"] == wanted)
        return next(found, None)

    def _view(self, order: dict[str, Any]) -> dict[str, Any]:
        """An order as answered: with its returns (kept in `self.returns`, as returnRequest
        stores them, not inside the order)."""
        mine = [r for r in self.returns.values() if r["order"]["id"] == order["id"]]
        return {**order, "returns": {"nodes": mine}}

    #: Search fields the fake understands, by root: search name -> node field.
    _SEARCHABLE = {"updated_at": "updatedAt", "created_at": "createdAt"}
    _SORT_FIELDS = {"UPDATED_AT": "updatedAt", "CREATED_AT": "createdAt", "ID": None}

    def _listing(self, root: str, query: str | None, sort_key: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]]
        if root == "orders":
            items = list(self.orders.values())
        elif root == "products":
            items = list(self.products.values())
        else:
            items = list(self.webhook_subscriptions)
        if sort_key not in self._SORT_FIELDS:
            raise DocumentError(f"The fake cannot sort by {sort_key!r}", "BAD_REQUEST")
        # Sorting and filtering 10,000 orders for every page would make a backfill quadratic:
        # the listing is kept until an order's (or product's) updatedAt changes.
        cache_key = (root, query, sort_key, tuple(i.get("updatedAt") for i in items))
        cached = self._listings.get(cache_key)
        if cached is not None:
            return cached
        names = re.fullmatch(r"\s*name:(\S+)((?:\s+OR\s+name:\S+)*)\s*", query or "")
        if names:
            wanted = {names.group(1), *re.findall(r"name:(\S+)", names.group(2))}
            items = [i for i in items if i.get("name") in wanted]
            query = None  # filtered: the listing below only sorts
        match = re.fullmatch(r"\s*(updated_at|created_at):(>=?)'?([^'\s]+)'?\s*", query or "")
        if query and match is None:
            raise DocumentError(f"The fake cannot search {query!r}", "BAD_REQUEST")
        if match:
            key = self._SEARCHABLE[match.group(1)]
            strict, since = match.group(2) == ">", _instant(match.group(3))
            items = [
                i
                for i in items
                if _instant(i[key]) > since or (not strict and _instant(i[key]) == since)
            ]
        sort_field = self._SORT_FIELDS[sort_key]
        legacy = lambda i: int(_legacy(i["id"]) or 0)  # noqa: E731
        if sort_field is None:
            items.sort(key=legacy)
        else:
            items.sort(key=lambda i: (_instant(i[sort_field]), legacy(i)))
        self._listings = {cache_key: items}  # one listing at a time is all a reader needs
        return items

    def _page(
        self, root: str, first: Any, after: Any, query: str | None, sort_key: str
    ) -> dict[str, Any]:
        """One cursor page of a root connection (cursors are positions in the listing)."""
        count = int(first or 0)
        if not 0 < count <= 250:
            raise DocumentError("The 'first' argument must be between 1 and 250", "BAD_REQUEST")
        selected = self._listing(root, query, sort_key)
        start = int(base64.b64decode(after).decode()) if after else 0
        page = selected[start : start + count]
        end = start + len(page)
        cursors = [base64.b64encode(str(start + i + 1).encode()).decode() for i in range(len(page))]
        return {
            "nodes": page,
            "edges": [{"cursor": c, "node": o} for c, o in zip(cursors, page, strict=True)],
            "pageInfo": {
                "hasNextPage": end < len(selected),
                "hasPreviousPage": start > 0,
                "startCursor": cursors[0] if cursors else None,
                "endCursor": cursors[-1] if cursors else None,
            },
        }

    def _cancel(self, op: Operation, variables: Mapping[str, Any]) -> dict[str, Any]:
        order = self.orders.get(str(op.argument("orderId", variables)))
        no_job = {"job": None, "jobResult": None, "userErrors": []}
        if order is None:
            errors = [
                {"field": ["orderId"], "message": "Order does not exist", "code": "NOT_FOUND"}
            ]
            return {**no_job, "orderCancelUserErrors": errors}
        if order["cancelledAt"] is not None:
            message = "Cannot cancel an order that has already been cancelled"
            errors = [{"field": ["orderId"], "message": message, "code": "INVALID"}]
            return {**no_job, "orderCancelUserErrors": errors}
        if any(f["status"] != "CANCELLED" for f in order["fulfillments"]):
            # Shopify cancels only what has not left: a fulfilment must be cancelled first.
            message = "Cannot cancel an order that has been fulfilled"
            errors = [{"field": ["orderId"], "message": message, "code": "INVALID"}]
            return {**no_job, "orderCancelUserErrors": errors}
        order["cancelledAt"] = self._touch(order)
        order["cancelReason"] = op.argument("reason", variables)
        order["closed"] = True
        if op.argument("refund", variables):
            order["displayFinancialStatus"] = "REFUNDED"
        return {
            "job": {"id": gid("Job", uuid.uuid4()), "done": False},
            "jobResult": {"id": gid("OrderCancelJobResult", next(self._ids)), "done": False},
            "orderCancelUserErrors": [],
            "userErrors": [],
        }

    def _update(self, given: Mapping[str, Any]) -> dict[str, Any]:
        order = self.orders.get(str(given.get("id")))
        if order is None:
            return _refused("order", ["id"], "Order does not exist")
        if order["cancelledAt"] is not None and "shippingAddress" in given:
            message = "Shipping address cannot be changed on a cancelled order"
            return _refused("order", ["shippingAddress"], message)
        if "shippingAddress" in given:
            unknown = (
                set(given["shippingAddress"]) - set(SCHEMA["MailingAddress"]) - {"countryCode"}
            )
            if unknown:
                field = ["shippingAddress", sorted(unknown)[0]]
                return _refused("order", field, "is not a valid field")
            address = dict(given["shippingAddress"])
            # Input codes, answered as MailingAddress has them (the names follow the codes).
            if "countryCode" in address:
                address["countryCodeV2"] = address.pop("countryCode")
                address.setdefault("country", address["countryCodeV2"])
            if "provinceCode" in address:
                address.setdefault("province", address["provinceCode"])
            order["shippingAddress"] = {**order["shippingAddress"], **address}
        if "note" in given:
            order["note"] = given["note"]
        self._touch(order)
        return {"order": order, "userErrors": []}

    def _return(self, given: Mapping[str, Any]) -> dict[str, Any]:
        order = self.orders.get(str(given.get("orderId")))
        if order is None:
            return _refused("return", ["input", "orderId"], "Order does not exist", "NOT_FOUND")
        items = {
            item["id"]: item
            for f in order["fulfillments"]
            if f["status"] != "CANCELLED"
            for item in f["fulfillmentLineItems"]["nodes"]
        }
        # Returnable: fulfilled, less what returns that still hold items have (Shopify refuses
        # a second return of the same items).
        fulfilled = {item_id: item["quantity"] for item_id, item in items.items()}
        for earlier in self.returns.values():
            if earlier["order"]["id"] != order["id"] or earlier["status"] not in (
                "REQUESTED",
                "OPEN",
                "CLOSED",
            ):
                continue
            for returned in earlier["returnLineItems"]["nodes"]:
                held = (returned.get("fulfillmentLineItem") or {}).get("id")
                if held in fulfilled:
                    fulfilled[held] -= returned["quantity"]
        lines = []
        for index, line in enumerate(given.get("returnLineItems") or []):
            where = ["input", "returnLineItems", str(index)]
            item_id = line.get("fulfillmentLineItemId")
            if item_id not in fulfilled:
                message = "Fulfillment line item does not exist"
                field = [*where, "fulfillmentLineItemId"]
                return _refused("return", field, message, "INVALID")
            if not 0 < int(line.get("quantity") or 0) <= fulfilled[item_id]:
                message = "Quantity is greater than the returnable quantity"
                field = [*where, "quantity"]
                return _refused("return", field, message, "INVALID")
            lines.append(
                {
                    "id": gid("ReturnLineItem", next(self._ids)),
                    "quantity": int(line["quantity"]),
                    "returnReason": line.get("returnReason"),
                    "customerNote": line.get("customerNote"),
                    "fulfillmentLineItem": items[item_id],
                }
            )
        if not lines:
            where = ["input", "returnLineItems"]
            return _refused("return", where, "can't be blank", "BLANK")
        created = {
            "id": gid("Return", next(self._ids)),
            "name": f"{order['name']}-R{len(self.returns) + 1}",
            "status": "REQUESTED",
            "order": order,
            "returnLineItems": {"nodes": lines, "edges": [{"node": n} for n in lines]},
        }
        self.returns[created["id"]] = created
        self._touch(order)
        return {"return": created, "userErrors": []}

    def _subscribe(self, topic: Any, given: Mapping[str, Any]) -> dict[str, Any]:
        uri = str(given.get("uri") or "")
        if not uri.startswith("https://"):
            message = "Address protocol http:// is not supported"
            return _refused("webhookSubscription", ["webhookSubscription", "callbackUrl"], message)
        if any(s["topic"] == topic and s["uri"] == uri for s in self.webhook_subscriptions):
            message = "Address for this topic has already been taken"
            return _refused("webhookSubscription", ["webhookSubscription", "callbackUrl"], message)
        created = {
            "id": gid("WebhookSubscription", next(self._ids)),
            "topic": topic,
            "filter": given.get("filter"),
            "uri": uri,
            "format": "JSON",
            "createdAt": self._now(),
            "updatedAt": self._now(),
        }
        self.webhook_subscriptions.append(created)
        return {"webhookSubscription": created, "userErrors": []}


def _refused(key: str, field: list[str], message: str, code: str | None = None) -> dict[str, Any]:
    """A mutation payload with nothing under `key` and one user error."""
    error: dict[str, Any] = {"field": field, "message": message}
    if code is not None:
        error["code"] = code
    return {key: None, "userErrors": [error]}


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _stamp(moment: datetime) -> str:
    """Shopify's GraphQL time format: UTC, whole seconds, "Z"."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _legacy(gid_text: str | None) -> int | None:
    """The numeric id at the end of a GID (REST bodies carry these as JSON numbers)."""
    if not gid_text:
        return None
    tail = gid_text.rsplit("/", 1)[-1].split("?", 1)[0]
    return int(tail) if tail.isdigit() else None


def _rest_money(bag: Mapping[str, Any] | None) -> str:
    return f"{bag_amount(bag):.2f}"


def _rest_set(bag: Mapping[str, Any] | None, currency: str) -> dict[str, Any]:
    amount = {"amount": _rest_money(bag), "currency_code": currency}
    return {"shop_money": amount, "presentment_money": dict(amount)}


def _rest_address(address: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not address:
        return None
    return {
        "first_name": address.get("firstName"),
        "last_name": address.get("lastName"),
        "name": address.get("name"),
        "company": address.get("company"),
        "address1": address.get("address1"),
        "address2": address.get("address2"),
        "city": address.get("city"),
        "province": address.get("province"),
        "province_code": address.get("provinceCode"),
        "zip": address.get("zip"),
        "country": address.get("country"),
        "country_code": address.get("countryCodeV2"),
        "phone": address.get("phone"),
    }


def _rest_line(item: Mapping[str, Any], currency: str) -> dict[str, Any]:
    variant = item.get("variant") or {}
    return {
        "id": _legacy(item["id"]),
        "admin_graphql_api_id": item["id"],
        "sku": item.get("sku"),
        "name": item.get("name"),
        "title": item.get("title"),
        "quantity": item.get("quantity"),
        "current_quantity": item.get("currentQuantity"),
        "price": _rest_money(item.get("originalUnitPriceSet")),
        "price_set": _rest_set(item.get("originalUnitPriceSet"), currency),
        "variant_id": _legacy(variant.get("id")),
        "discount_allocations": [
            {
                "amount": _rest_money(d["allocatedAmountSet"]),
                "amount_set": _rest_set(d["allocatedAmountSet"], currency),
            }
            for d in item.get("discountAllocations") or []
        ],
    }


#: GraphQL OrderDisplayFulfillmentStatus -> REST order `fulfillment_status`.
REST_FULFILLMENT_STATUS: dict[str, str | None] = {
    "FULFILLED": "fulfilled",
    "PARTIALLY_FULFILLED": "partial",
    "UNFULFILLED": None,
    "RESTOCKED": "restocked",
}


def _latest_event_status(fulfilment: Mapping[str, Any]) -> str | None:
    events = (fulfilment.get("events") or {}).get("nodes") or []
    if not events:
        return None
    latest = max(events, key=lambda e: (_instant(e["happenedAt"]), events.index(e)))
    return str(latest["status"]).lower()


def _rest_fulfilment(f: Mapping[str, Any], order_id: int | None, currency: str) -> dict[str, Any]:
    tracking = f.get("trackingInfo") or []
    numbers = [t["number"] for t in tracking if t.get("number")]
    urls = [t["url"] for t in tracking if t.get("url")]
    items = (f.get("fulfillmentLineItems") or {}).get("nodes") or []
    return {
        "id": _legacy(f["id"]),
        "admin_graphql_api_id": f["id"],
        "order_id": order_id,
        "name": f.get("name"),
        "status": str(f.get("status") or "").lower() or None,
        # REST's shipment_status is the carrier's last word: the latest fulfilment event.
        "shipment_status": _latest_event_status(f),
        "created_at": f.get("createdAt"),
        "updated_at": f.get("updatedAt"),
        "tracking_company": tracking[0].get("company") if tracking else None,
        "tracking_number": numbers[0] if numbers else None,
        "tracking_numbers": numbers,
        "tracking_url": urls[0] if urls else None,
        "tracking_urls": urls,
        "line_items": [
            {**_rest_line(i["lineItem"], currency), "quantity": i["quantity"]}
            for i in items
            if i.get("lineItem")
        ],
    }


def _rest_refund(r: Mapping[str, Any], order_id: int | None, currency: str) -> dict[str, Any]:
    linked = r.get("return")
    return {
        "id": _legacy(r["id"]),
        "admin_graphql_api_id": r["id"],
        "order_id": order_id,
        "note": r.get("note"),
        "created_at": r.get("createdAt"),
        "processed_at": r.get("processedAt") or r.get("createdAt"),
        "return": None
        if not linked
        else {"id": _legacy(linked["id"]), "admin_graphql_api_id": linked["id"]},
        "refund_line_items": [],
        "transactions": [
            {
                "id": _legacy(t["id"]),
                "admin_graphql_api_id": t["id"],
                "order_id": order_id,
                "kind": str(t.get("kind") or "").lower(),
                "status": str(t.get("status") or "").lower(),
                "gateway": t.get("gateway"),
                "amount": _rest_money(t.get("amountSet")),
                "currency": currency,
                "created_at": t.get("createdAt"),
                "processed_at": t.get("processedAt"),
            }
            for t in (r.get("transactions") or {}).get("nodes") or []
        ],
    }


def _rest_return(r: Mapping[str, Any], currency: str) -> dict[str, Any]:
    lines = []
    for item in (r.get("returnLineItems") or {}).get("nodes") or []:
        fli = item.get("fulfillmentLineItem")
        line = (fli or {}).get("lineItem")
        lines.append(
            {
                "id": _legacy(item["id"]),
                "admin_graphql_api_id": item["id"],
                "quantity": item.get("quantity"),
                "return_reason": str(item.get("returnReason") or "").lower() or None,
                "customer_note": item.get("customerNote"),
                "fulfillment_line_item": None
                if fli is None
                else {
                    "id": _legacy(fli["id"]),
                    "admin_graphql_api_id": fli["id"],
                    "quantity": fli.get("quantity"),
                    "line_item": None if line is None else _rest_line(line, currency),
                },
            }
        )
    return {
        "id": _legacy(r["id"]),
        "admin_graphql_api_id": r["id"],
        "name": r.get("name"),
        "status": str(r.get("status") or "").lower(),
        "return_line_items": lines,
    }


def rest_order(order: Mapping[str, Any], returns: Sequence[Mapping[str, Any]] = ()) -> JSON:
    """An Order node of the fake rendered as Shopify's REST / webhook order body."""
    currency = order["currencyCode"]
    order_id = _legacy(order["id"])
    customer = order.get("customer")
    number = int(order.get("number") or order["legacyResourceId"])
    status = order.get("displayFulfillmentStatus") or "UNFULFILLED"
    return {
        "id": order_id,
        "admin_graphql_api_id": order["id"],
        "name": order["name"],
        "order_number": number,
        "number": number - 1000,
        "email": order.get("email"),
        "contact_email": order.get("email"),
        "phone": order.get("phone"),
        "note": order.get("note"),
        "created_at": order["createdAt"],
        "processed_at": order.get("processedAt"),
        "updated_at": order["updatedAt"],
        "cancelled_at": order.get("cancelledAt"),
        "cancel_reason": (order.get("cancelReason") or "").lower() or None,
        "closed_at": order.get("closedAt"),
        "currency": currency,
        "presentment_currency": currency,
        "financial_status": str(order.get("displayFinancialStatus") or "").lower() or None,
        "fulfillment_status": REST_FULFILLMENT_STATUS.get(status, status.lower()),
        "taxes_included": bool(order.get("taxesIncluded")),
        "subtotal_price": _rest_money(order.get("subtotalPriceSet")),
        "subtotal_price_set": _rest_set(order.get("subtotalPriceSet"), currency),
        "total_shipping_price_set": _rest_set(order.get("totalShippingPriceSet"), currency),
        "total_tax": _rest_money(order.get("totalTaxSet")),
        "total_tax_set": _rest_set(order.get("totalTaxSet"), currency),
        "total_price": _rest_money(order.get("totalPriceSet")),
        "total_price_set": _rest_set(order.get("totalPriceSet"), currency),
        "total_discounts": _rest_money(order.get("totalDiscountsSet")),
        "total_discounts_set": _rest_set(order.get("totalDiscountsSet"), currency),
        "payment_gateway_names": list(order.get("paymentGatewayNames") or []),
        # As in Shopify's sample, the embedded customer has no tags: VIP comes from
        # customers/* webhooks or the Admin API.
        "customer": None
        if not customer
        else {
            "id": _legacy(customer["id"]),
            "admin_graphql_api_id": customer["id"],
            "email": customer.get("email"),
            "phone": customer.get("phone"),
            "first_name": customer.get("firstName"),
            "last_name": customer.get("lastName"),
            "created_at": customer.get("createdAt"),
            "updated_at": customer.get("updatedAt"),
        },
        "billing_address": _rest_address(order.get("billingAddress")),
        "shipping_address": _rest_address(order.get("shippingAddress")),
        "shipping_lines": []
        if not order.get("shippingLine")
        else [
            {
                "title": order["shippingLine"].get("title"),
                "code": order["shippingLine"].get("code"),
                "price": _rest_money(order.get("totalShippingPriceSet")),
                "price_set": _rest_set(order.get("totalShippingPriceSet"), currency),
            }
        ],
        "line_items": [_rest_line(i, currency) for i in order["lineItems"]["nodes"]],
        "fulfillments": [_rest_fulfilment(f, order_id, currency) for f in order["fulfillments"]],
        "refunds": [_rest_refund(r, order_id, currency) for r in order.get("refunds") or []],
        "returns": [_rest_return(r, currency) for r in returns],
    }


def _handler(fake: FakeShopify) -> type[BaseHTTPRequestHandler]:
    path = re.compile(r"/admin/api/(?P<version>[^/]+)/graphql\.json")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out as two writes; with Nagle's algorithm and the client's
        # delayed ACK each answer on a kept-alive connection would wait ~40 ms.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            return

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            match = path.fullmatch(self.path.split("?")[0])
            if match is None or match.group("version") != fake.api_version:
                with fake._lock:
                    fake.calls.append(Call(status=404, outcome="not_found"))
                self._reply(404, {"errors": "Not Found"}, {})
                return
            token = self.headers.get("X-Shopify-Access-Token")
            status, body, headers, stall = fake.handle(token, raw)
            if stall:
                time.sleep(stall)  # the work is done; the answer is what is late
            self._reply(status, body, headers)

        def _reply(self, status: int, body: Any, headers: Mapping[str, str]) -> None:
            if body is None:
                data, kind = b"Service Unavailable", "text/plain"
            else:
                data, kind = json.dumps(body).encode(), "application/json"
            try:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting

    return Handler
