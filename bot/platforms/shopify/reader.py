"""Full reads from the GraphQL Admin API, mapped by the one set of export rules (mapping.py).

`ShopifyReader` asks for orders (one, changed since, created since), products and the app's
webhook subscriptions, page by page through the client's pacing and retries, translates each
node into the REST-shaped body (graphql_orders.py) and maps it (`map_order`, `map_product`).
It keeps the query cost the reads used (the sum of `extensions.cost.actualQueryCost`, read
from the client's `last_cost` right after each call: exact for one reader on its client, an
estimate when other callers share the client at the same moment).

An order whose nested lists were cut short by the page sizes of a listing (more than ten line
items, say: operations.LISTING_PAGES) is read again alone with the largest pages one query
may ask (LONG_ORDER), then each connection still cut is read on page by page from its
endCursor (OrderLineItems, FulfillmentLineItems, RefundTransactions, OrderReturns,
ReturnLineItems) before the whole node is mapped. Only an order whose plain lists (no
pageInfo: fulfillments, refunds, a fulfilment's trackingInfo) are still full at the long
read's `first` (50) is refused with IncompletePayloadError, never mapped short. A failure
while paging (ShopifyUnavailable after the client's retries) propagates: no partial order is
ever yielded. A page Shopify refuses as too costly (MAX_COST_EXCEEDED) is asked again at
half the size.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.platforms.shopify import operations
from bot.platforms.shopify.admin_api import ShopifyAdminClient, ShopifyRejected
from bot.platforms.shopify.graphql_orders import (
    order_body,
    possibly_cut_lists,
    product_body,
    product_truncated,
    truncated_connections,
)
from bot.platforms.shopify.mapping import (
    IncompletePayloadError,
    MappedOrder,
    MappedProduct,
    ShopifyPayloadError,
    map_order,
    map_product,
)

logger = logging.getLogger(__name__)

#: Shopify's error code for a query over the single-query cost ceiling (1000 points).
MAX_COST_EXCEEDED = "MAX_COST_EXCEEDED"


@dataclass(frozen=True)
class WebhookSubscription:
    id: str
    #: The enum form, "ORDERS_UPDATED".
    topic: str
    uri: str | None
    filter: str | None = None
    format: str | None = None


class ShopifyReader:
    """Reads one shop through `client`. Not thread-safe (its cost counter is plain)."""

    def __init__(
        self,
        client: ShopifyAdminClient,
        *,
        order_page: int = operations.FULL_ORDER_PAGE,
        product_page: int = operations.PRODUCT_PAGE,
    ) -> None:
        self.client = client
        self.order_page = order_page
        self.product_page = product_page
        #: Sum of actualQueryCost over the reads so far (nothing for an answer without one).
        self.query_cost = 0.0
        #: How many GraphQL requests the reads made (answers, not retries).
        self.requests = 0
        #: Page sizes Shopify found too costly, halved, by document: kept for later reads.
        self._shrunk: dict[str, int] = {}
        #: Orders and products a listing skipped because relaydesk cannot take them (more
        #: than 50 fulfilments, refunds or tracking numbers in one fulfilment, lists Shopify
        #: cuts without pageInfo; more than 50 variants; or refused by the mapper), by name or
        #: id, with the reason. One such record must not stop a backfill or a reconciliation
        #: of all the others.
        self.refused: dict[str, str] = {}

    # -- orders ---------------------------------------------------------------------------------
    def order(self, graphql_id: str) -> MappedOrder | None:
        """One order in full (read on when long); None when Shopify has no such order."""
        node = self._order_node(operations.ORDER, graphql_id)
        whole = None if node is None else self._whole(node)
        return None if whole is None else map_order(order_body(whole))

    def orders_updated_since(self, since: datetime) -> Iterator[MappedOrder]:
        """Every order changed after `since`, oldest change first (reconciliation)."""
        return self._orders(
            operations.ORDERS_FULL_UPDATED_SINCE, operations.updated_since_filter(since)
        )

    def orders_created_since(self, since: datetime) -> Iterator[MappedOrder]:
        """Every order created at or after `since`, oldest first (the backfill)."""
        return self._orders(operations.ORDERS_CREATED_SINCE, operations.created_since_filter(since))

    def orders_numbered(self, number: str) -> Iterator[MappedOrder]:
        """The orders whose name is `number` with or without the usual "#" ("1001", "#1001"),
        for a number relaydesk has never synced. Shopify's name search is a search, not a key:
        the caller compares `order.record["number"]` itself. A shop with another prefix
        ("NW-1001") is not found this way."""
        if not (number.isascii() and number.isdigit()):
            raise ValueError(f"not an order number: {number!r}")
        return self._orders(operations.ORDERS_FULL_UPDATED_SINCE, number_filter(number))

    def _orders(self, document: str, query: str) -> Iterator[MappedOrder]:
        for node in self._paginate(document, {"query": query}, ("orders",), self.order_page):
            try:
                whole = self._whole(node)
                if whole is None:
                    # Deleted between its page and its re-read: not in the shop any more.
                    logger.warning("shopify: order %s vanished while it was read", node.get("id"))
                    continue
                mapped = map_order(order_body(whole))
            except ShopifyPayloadError as error:
                self._refuse(node, error)
                continue
            yield mapped

    def _refuse(self, node: dict[str, Any], error: ShopifyPayloadError) -> None:
        name = str(node.get("name") or node.get("title") or node.get("id") or "?")
        self.refused[name] = str(error)
        logger.warning("shopify: %s skipped: %s", name, error)

    def _order_node(self, document: str, graphql_id: str) -> dict[str, Any] | None:
        node = self._execute(document, {"id": graphql_id}).get("order")
        return node if isinstance(node, dict) else None

    def _whole(self, node: dict[str, Any]) -> dict[str, Any] | None:
        """`node` (read with operations.LISTING_PAGES) complete: itself when nothing was cut,
        else the order read again alone and paged on. None if Shopify no longer has it;
        IncompletePayloadError if it cannot be read whole."""
        if not _maybe_cut(node, operations.LISTING_PAGES):
            return node
        graphql_id = node.get("id")
        if not isinstance(graphql_id, str):
            raise IncompletePayloadError("order.id", "missing: a long order cannot be read on")
        pages = operations.LONG_ORDER_PAGES
        try:
            long = self._order_node(operations.LONG_ORDER, graphql_id)
        except ShopifyRejected as error:
            if MAX_COST_EXCEEDED not in error.codes:
                raise
            # Shopify counts the long read higher than the fake: read on from the cursors
            # the listing's own node carries (its plain lists cannot be read further).
            logger.warning("shopify: the long read of %s is too costly; paging on", graphql_id)
            long, pages = node, operations.LISTING_PAGES
        if long is None:
            return None
        lists = possibly_cut_lists(long, pages.fulfillments, pages.refunds, pages.tracking)
        if lists:
            raise IncompletePayloadError(
                f"order {long.get('name') or graphql_id}",
                f"{pages.fulfillments} or more of {', '.join(lists)}: Shopify lists these "
                "without pageInfo, so more cannot be read",
            )
        self._read_on(long, graphql_id)
        return long

    def _read_on(self, order: dict[str, Any], graphql_id: str) -> None:
        """Every connection of `order` still cut, read to its end in place."""
        self._complete(order.get("lineItems"), operations.LINE_ITEM_PAGES, graphql_id)
        for fulfilment in _objects(order.get("fulfillments")):
            self._complete(
                fulfilment.get("fulfillmentLineItems"),
                operations.FULFILLMENT_LINE_ITEM_PAGES,
                fulfilment.get("id"),
            )
        for refund in _objects(order.get("refunds")):
            self._complete(
                refund.get("transactions"), operations.TRANSACTION_PAGES, refund.get("id")
            )
        returns = order.get("returns")
        self._complete(returns, operations.RETURN_PAGES, graphql_id)
        for request in _objects(returns.get("nodes") if isinstance(returns, dict) else None):
            self._complete(
                request.get("returnLineItems"),
                operations.RETURN_LINE_ITEM_PAGES,
                request.get("id"),
            )

    def _complete(self, connection: Any, pages: operations.NextPages, owner_id: Any) -> None:
        """Reads `connection` (a {"pageInfo", "nodes"} answer inside its owner) on from its
        endCursor until it has no next page; the nodes are appended in place."""
        if not isinstance(connection, dict):
            return
        where = f"{pages.root} {owner_id}"
        while _has_next(connection):
            after = connection["pageInfo"].get("endCursor")
            if not isinstance(after, str) or not isinstance(owner_id, str):
                raise IncompletePayloadError(where, f"{pages.connection} cut without a cursor")
            variables = {"id": owner_id, "first": pages.first, "after": after}
            owner = self._execute(pages.document, variables).get(pages.root)
            page = owner.get(pages.connection) if isinstance(owner, Mapping) else None
            if not isinstance(page, Mapping):
                # Deleted while it was read: what was read cannot be taken as whole.
                raise IncompletePayloadError(where, "gone while it was read")
            info = page.get("pageInfo")
            if _has_next(page) and isinstance(info, Mapping) and info.get("endCursor") == after:
                raise ShopifyRejected(
                    f"the cursor of {pages.root}.{pages.connection} does not advance",
                    status=200,
                    messages=[after],
                )
            connection["nodes"] = [*_objects(connection.get("nodes")), *_objects(page.get("nodes"))]
            connection["pageInfo"] = info

    # -- products and subscriptions -------------------------------------------------------------
    def products(self) -> Iterator[MappedProduct]:
        """Every product, one MappedProduct (a record per variant) each."""
        return self._products({})

    def products_updated_since(self, since: datetime) -> Iterator[MappedProduct]:
        """Every product changed after `since` (reconciliation: a lost products/update)."""
        return self._products({"query": operations.updated_since_filter(since)})

    def _products(self, variables: Mapping[str, Any]) -> Iterator[MappedProduct]:
        nodes = self._paginate(operations.PRODUCTS, variables, ("products",), self.product_page)
        for node in nodes:
            try:
                if product_truncated(node):
                    raise IncompletePayloadError(
                        f"product {node.get('id')}",
                        f"more than {operations.VARIANTS_FIRST} variants",
                    )
                mapped = map_product(product_body(node))
            except ShopifyPayloadError as error:
                self._refuse(node, error)
                continue
            yield mapped

    def webhook_subscriptions(self) -> list[WebhookSubscription]:
        """The app's webhook subscriptions (connect compares before it subscribes)."""
        found = []
        nodes = self._paginate(operations.WEBHOOK_SUBSCRIPTIONS, {}, ("webhookSubscriptions",), 50)
        for node in nodes:
            if not isinstance(node.get("id"), str) or not isinstance(node.get("topic"), str):
                raise ShopifyRejected(
                    "a webhook subscription without id or topic", status=200, messages=[str(node)]
                )
            found.append(
                WebhookSubscription(
                    id=node["id"],
                    topic=node["topic"],
                    uri=_text(node.get("uri")),
                    filter=_text(node.get("filter")),
                    format=_text(node.get("format")),
                )
            )
        return found

    # -- calls ----------------------------------------------------------------------------------
    def _execute(self, document: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        before = self.client.last_cost
        data = self.client.execute(document, variables)
        self.requests += 1
        cost = self.client.last_cost
        if cost is not None and cost is not before and cost.actual is not None:
            self.query_cost += cost.actual
        return data

    def _paginate(
        self,
        document: str,
        variables: Mapping[str, Any],
        connection: tuple[str, ...],
        page_size: int,
    ) -> Iterator[dict[str, Any]]:
        # client.paginate does the same walk, but this one counts each page's cost and shrinks
        # the page when Shopify finds it too costly: its cost rules for nested lists are not
        # all documented, so the page sizes are a good guess, not a promise.
        after: str | None = None
        page_size = self._shrunk.get(document, page_size)
        while True:
            try:
                data: Any = self._execute(
                    document, {**variables, "first": page_size, "after": after}
                )
            except ShopifyRejected as error:
                if MAX_COST_EXCEEDED not in error.codes or page_size == 1:
                    raise
                page_size = self._shrunk[document] = max(1, page_size // 2)
                logger.warning(
                    "Shopify: %s too costly; pages of %d from now on",
                    ".".join(connection),
                    page_size,
                )
                continue
            for key in connection:
                data = data.get(key) if isinstance(data, Mapping) else None
            if not isinstance(data, Mapping):
                raise ShopifyRejected(
                    f"no connection at {'.'.join(connection)} in Shopify's answer",
                    status=200,
                    messages=[".".join(connection)],
                )
            nodes = data.get("nodes")
            if nodes is None:
                nodes = [edge.get("node") for edge in data.get("edges") or []]
            yield from (node for node in nodes if isinstance(node, dict))
            info = data.get("pageInfo") or {}
            cursor = info.get("endCursor")
            if not info.get("hasNextPage") or not cursor:
                return
            if cursor == after:
                raise ShopifyRejected(
                    f"the cursor of {'.'.join(connection)} does not advance",
                    status=200,
                    messages=[str(after)],
                )
            after = cursor


def number_filter(number: str) -> str:
    """Shopify's search syntax for an order named `number`, with or without "#"."""
    return f"name:#{number} OR name:{number}"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _objects(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _has_next(connection: Mapping[str, Any]) -> bool:
    info = connection.get("pageInfo")
    return isinstance(info, Mapping) and bool(info.get("hasNextPage"))


def _maybe_cut(node: Mapping[str, Any], pages: operations.OrderPages) -> bool:
    """Whether an order read with `pages` may miss something: a connection says it has more,
    or a plain list came back as long as it was asked for."""
    return bool(
        truncated_connections(node)
        or possibly_cut_lists(node, pages.fulfillments, pages.refunds, pages.tracking)
    )
