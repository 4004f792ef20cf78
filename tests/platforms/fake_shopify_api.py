"""A local stand-in for one shop's Shopify GraphQL Admin API, for tests: the real client
(bot/platforms/shopify/admin_api.py) talks to it over HTTP once its base URL points here.

    POST /admin/api/<version>/graphql.json     X-Shopify-Access-Token: <token>

It is a small shop, not a GraphQL engine, but it reads the documents it is sent: a tokenizer and
a recursive-descent reader take out the operation, its variable definitions, the root field
and its arguments, and the selection tree. Each selected field is checked against a schema
subset (SCHEMA below, field names as in Shopify's documentation), so a misspelt field or a
missing required variable gets Shopify's kind of GraphQL error, and each answer carries only
the fields selected, as a real one does.

What it answers: `shop`, `order(id:)`, `orders(first:, after:, query: "updated_at:>'...'")`
(cursor pages, oldest change first), and the mutations `orderCancel` (marks the order
cancelled, or orderCancelUserErrors NOT_FOUND / INVALID), `orderUpdate` (changes the shipping
address and note), `returnRequest` (creates a REQUESTED return for fulfilled line items) and
`webhookSubscriptionCreate`.

Rate limit: a bucket of points (1000, refilling 50 per second unless set otherwise) on the
fake's own clock (`ManualClock`, which tests share with the client so waits take no real
time). A query whose requested cost is more than the bucket holds is answered THROTTLED with
`extensions.cost`, as Shopify does; otherwise the actual cost is taken from the bucket and the
answer carries the cost figures.

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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

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

#: Selection tree: field name -> the selection under it (None for a scalar).
Selection = dict[str, "Selection | None"]


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

    def argument(self, name: str, variables: Mapping[str, Any]) -> Any:
        arg = self.arguments.get(name)
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

    def selection(self) -> tuple[Selection, dict[str, dict[str, Argument]]]:
        """A selection set; also the arguments of each field in it (by response key)."""
        self.take("{")
        selected: Selection = {}
        arguments: dict[str, dict[str, Argument]] = {}
        while self.peek() != "}":
            if self.peek() == "...":
                raise DocumentError("Fragments are not supported by the fake", "parseError")
            name = self.take()[1]
            if self.peek() == ":":  # an alias: the fake answers under the field's own name
                self.take(":")
                name = self.take()[1]
            arguments[name] = self.arguments()
            selected[name] = self.selection()[0] if self.peek() == "{" else None
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
    return Operation(kind, name, variables, root, arguments[root], selection)


# ---------------------------------------------------------------------------------------------
# The schema subset: type name -> fields (a field's value is its type name, or None: scalar).

_S = None
SCHEMA: dict[str, dict[str, str | None]] = {
    "QueryRoot": {"shop": "Shop", "order": "Order", "orders": "OrderConnection"},
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
        "email": _S,
        "note": _S,
        "createdAt": _S,
        "updatedAt": _S,
        "cancelledAt": _S,
        "cancelReason": _S,
        "closed": _S,
        "displayFinancialStatus": _S,
        "displayFulfillmentStatus": _S,
        "shippingAddress": "MailingAddress",
        "fulfillments": "Fulfillment",
    },
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
    "Fulfillment": {
        "id": _S,
        "name": _S,
        "status": _S,
        "displayStatus": _S,
        "createdAt": _S,
        "updatedAt": _S,
        "deliveredAt": _S,
        "estimatedDeliveryAt": _S,
        "inTransitAt": _S,
        "trackingInfo": "FulfillmentTrackingInfo",
        "fulfillmentLineItems": "FulfillmentLineItemConnection",
    },
    "FulfillmentTrackingInfo": {"company": _S, "number": _S, "url": _S},
    "FulfillmentLineItemConnection": {"nodes": "FulfillmentLineItem", "edges": "FLIEdge"},
    "FLIEdge": {"cursor": _S, "node": "FulfillmentLineItem"},
    "FulfillmentLineItem": {"id": _S, "quantity": _S},
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
        "order": "Order",
        "returnLineItems": "ReturnLineItemConnection",
    },
    "ReturnLineItemConnection": {"nodes": "ReturnLineItem", "edges": "ReturnLineItemEdge"},
    "ReturnLineItemEdge": {"cursor": _S, "node": "ReturnLineItem"},
    "ReturnLineItem": {"id": _S, "quantity": _S, "returnReason": _S, "customerNote": _S},
    "WebhookSubscriptionCreatePayload": {
        "webhookSubscription": "WebhookSubscription",
        "userErrors": "UserError",
    },
    "WebhookSubscription": {"id": _S, "topic": _S, "filter": _S, "uri": _S, "format": _S},
}


def check_selection(selection: Selection, type_name: str, path: tuple[str, ...] = ()) -> None:
    fields = SCHEMA[type_name]
    for name, below in selection.items():
        if name == "__typename":
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
    items = [{"id": gid("FulfillmentLineItem", i), "quantity": q} for i, q in line_items]
    return {
        "id": gid("Fulfillment", number),
        "name": f"F{number}",
        "status": status,
        "displayStatus": display_status,
        "createdAt": updated_at,
        "updatedAt": updated_at,
        "deliveredAt": None,
        "estimatedDeliveryAt": None,
        "inTransitAt": None,
        "trackingInfo": [{"company": c, "number": n, "url": u} for c, n, u in tracking],
        "fulfillmentLineItems": {"nodes": items, "edges": [{"node": i} for i in items]},
    }


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


#: Requested cost by root field, as the fake computes it (Shopify's own sums differ per
#: query; these are round numbers of the same order: objects cost 1, mutations 10).
def requested_cost(operation: Operation, variables: Mapping[str, Any]) -> float:
    if operation.kind == "mutation":
        return 10.0
    if operation.root == "orders":
        first = operation.argument("first", variables) or 0
        return 2.0 + 3.0 * int(first)
    return 1.0


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
        self.orders: dict[str, dict[str, Any]] = {}
        self.returns: dict[str, dict[str, Any]] = {}
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
    ) -> str:
        """Adds an order to the shop; returns its GID."""
        order_id = gid("Order", number)
        address = {key: None for key in SCHEMA["MailingAddress"]}
        address.update(
            shipping_address
            or {"address1": "1 Main St", "city": "Ottawa", "zip": "K2P 1L4", "country": "Canada"}
        )
        with self._lock:
            self.orders[order_id] = {
                "id": order_id,
                "legacyResourceId": str(number),
                "name": name or f"#{number}",
                "email": email,
                "note": None,
                "createdAt": created_at or updated_at,
                "updatedAt": updated_at,
                "cancelledAt": None,
                "cancelReason": None,
                "closed": False,
                "displayFinancialStatus": financial_status,
                "displayFulfillmentStatus": "FULFILLED" if fulfillments else "UNFULFILLED",
                "shippingAddress": address,
                "fulfillments": [dict(f) for f in fulfillments],
            }
        return order_id

    def order(self, order_gid: str) -> dict[str, Any]:
        with self._lock:
            return json.loads(json.dumps(self.orders[order_gid]))

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
            body = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}
            return 200, body, {}, 0.0
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
        for name in operation.arguments.values():
            if name.variable and name.variable not in operation.variables:
                raise DocumentError(
                    f"Variable ${name.variable} is used by {operation.root} but not declared",
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
            data, actual = self._answer(operation, variables)
            self.bucket.available -= min(actual, requested)
            return {
                "data": prune(data, operation.selection),
                "extensions": self._cost(requested, min(actual, requested)),
            }

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
            return {"order": self.orders.get(str(arg("id", variables)))}, 1.0
        if op.root == "orders":
            return self._orders(
                int(arg("first", variables) or 0),
                arg("after", variables),
                arg("query", variables),
            )
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

    def _orders(
        self, first: int, after: str | None, query: str | None
    ) -> tuple[dict[str, Any], float]:
        if not 0 < first <= 250:
            raise DocumentError("The 'first' argument must be between 1 and 250", "BAD_REQUEST")
        selected = sorted(self.orders.values(), key=lambda o: (o["updatedAt"], o["id"]))
        match = re.fullmatch(r"\s*updated_at:(>=?)'?([^'\s]+)'?\s*", query or "")
        if query and match is None:
            raise DocumentError(f"The fake cannot search {query!r}", "BAD_REQUEST")
        if match:
            strict, since = match.group(1) == ">", _instant(match.group(2))
            selected = [
                o
                for o in selected
                if _instant(o["updatedAt"]) > since
                or (not strict and _instant(o["updatedAt"]) == since)
            ]
        start = int(base64.b64decode(after).decode()) if after else 0
        page = selected[start : start + first]
        end = start + len(page)
        cursors = [base64.b64encode(str(start + i + 1).encode()).decode() for i in range(len(page))]
        connection = {
            "nodes": page,
            "edges": [{"cursor": c, "node": o} for c, o in zip(cursors, page, strict=True)],
            "pageInfo": {
                "hasNextPage": end < len(selected),
                "hasPreviousPage": start > 0,
                "startCursor": cursors[0] if cursors else None,
                "endCursor": cursors[-1] if cursors else None,
            },
        }
        return {"orders": connection}, 2.0 + 3.0 * len(page)

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
        order["cancelledAt"] = order["updatedAt"] = self._now()
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
            order["shippingAddress"] = {**order["shippingAddress"], **given["shippingAddress"]}
        if "note" in given:
            order["note"] = given["note"]
        order["updatedAt"] = self._now()
        return {"order": order, "userErrors": []}

    def _return(self, given: Mapping[str, Any]) -> dict[str, Any]:
        order = self.orders.get(str(given.get("orderId")))
        if order is None:
            return _refused("return", ["input", "orderId"], "Order does not exist", "NOT_FOUND")
        fulfilled = {
            item["id"]: item["quantity"]
            for f in order["fulfillments"]
            for item in f["fulfillmentLineItems"]["nodes"]
        }
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
        order["updatedAt"] = self._now()
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


def _handler(fake: FakeShopify) -> type[BaseHTTPRequestHandler]:
    path = re.compile(r"/admin/api/(?P<version>[^/]+)/graphql\.json")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

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
