"""The GraphQL Admin API operations relaydesk sends, as named documents, and thin typed
functions around them. No business logic: whether an order may be cancelled, and what to tell
the shopper, is decided elsewhere; these only ask Shopify and report what it said.

Field names follow Shopify's documented examples (tests/platforms/test_admin_api.py checks
each document against ../shared/fixtures/shopify/graphql/*.graphql). The API version is part of
the client's base URL and is pinned by the caller: `orderCancel` needs 2024-01 or later, its
`jobResult` and `webhookSubscriptionCreate`'s `uri` field are in the versions the fixtures were
read from (2026-07); older versions name the latter `callbackUrl`.

Access scopes (docs/shopify-admin-api.md has the table): SHOP_CHECK none beyond a valid token;
ORDERS_UPDATED_SINCE read_orders (plus read_all_orders for orders older than 60 days);
ORDER_CANCEL and ORDER_UPDATE_SHIPPING_ADDRESS write_orders; RETURN_REQUEST write_returns;
WEBHOOK_SUBSCRIPTION_CREATE the read scope of the topic (read_orders for orders/*);
ORDER / LONG_ORDER / ORDER_LINE_ITEMS / ORDER_RETURNS / FULFILLMENT_LINE_ITEMS /
REFUND_TRANSACTIONS / RETURN_LINE_ITEMS / ORDERS_FULL_UPDATED_SINCE / ORDERS_CREATED_SINCE
read_orders (customers in them also
read_customers, returns read_returns, fulfilments read_fulfillments or a fulfillment-order
scope); PRODUCTS read_products (inventory quantities also read_inventory);
WEBHOOK_SUBSCRIPTIONS none beyond a valid token (the app's own subscriptions). The scopes
other than read_orders are not yet checked against Shopify's access-scope pages.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .admin_api import ShopifyAdminClient, ShopifyRejected, UserError

SHOP_CHECK = """
query ShopCheck {
  shop {
    name
    myshopifyDomain
  }
}
"""

ORDER_CANCEL = """
mutation OrderCancel($orderId: ID!, $notifyCustomer: Boolean, $refund: Boolean!,
    $restock: Boolean!, $reason: OrderCancelReason!, $staffNote: String) {
  orderCancel(orderId: $orderId, notifyCustomer: $notifyCustomer, refund: $refund,
      restock: $restock, reason: $reason, staffNote: $staffNote) {
    job {
      id
      done
    }
    jobResult {
      id
      done
    }
    orderCancelUserErrors {
      field
      message
      code
    }
  }
}
"""

ORDER_UPDATE_SHIPPING_ADDRESS = """
mutation OrderUpdateShippingAddress($input: OrderInput!) {
  orderUpdate(input: $input) {
    order {
      id
      shippingAddress {
        address1
        address2
        city
        province
        zip
        country
      }
    }
    userErrors {
      field
      message
    }
  }
}
"""

RETURN_REQUEST = """
mutation ReturnRequest($input: ReturnRequestInput!) {
  returnRequest(input: $input) {
    return {
      id
      status
      order {
        id
      }
    }
    userErrors {
      field
      message
    }
  }
}
"""

WEBHOOK_SUBSCRIPTION_CREATE = """
mutation WebhookSubscriptionCreate($topic: WebhookSubscriptionTopic!,
    $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription {
      id
      topic
      filter
      uri
    }
    userErrors {
      field
      message
    }
  }
}
"""

#: Orders changed since a time, oldest change first, with what reconciliation compares.
ORDERS_UPDATED_SINCE = """
query OrdersUpdatedSince($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo {
      hasNextPage
      endCursor
    }
    nodes {
      id
      name
      createdAt
      updatedAt
      cancelledAt
      displayFinancialStatus
      displayFulfillmentStatus
      fulfillments(first: 10) {
        id
        status
        updatedAt
        trackingInfo(first: 10) {
          company
          number
          url
        }
      }
    }
  }
}
"""


@dataclass(frozen=True)
class OrderPages:
    """The nested page sizes of a full order document: connections (with pageInfo) and the
    plain lists Shopify cuts at `first` without saying so (fulfillments, refunds,
    trackingInfo: graphql_orders.possibly_cut_lists tells when one may have been cut)."""

    line_items: int
    fulfillments: int
    tracking: int
    fulfillment_line_items: int
    refunds: int
    transactions: int
    returns: int
    return_line_items: int


#: Nested page sizes of a listed order. With them an order costs 179 points as Shopify counts a
#: request (objects 1, a connection 2 + first x its node; lists of objects such as
#: `fulfillments` as one object each, as tests/platforms/fake_shopify_api.py counts them), so
#: a page of FULL_ORDER_PAGE orders stays under the 1000-point ceiling of one query (and the
#: backfill's cost per order stays where bench/ measured it). An order with more is read
#: again alone with LONG_ORDER_PAGES, then page by page (reader.py). Field names checked
#: against the GraphQL Admin reference's Order, Customer, LineItem, Fulfillment,
#: FulfillmentEvent, Refund, Return, ReturnLineItemType, ProductVariant and
#: WebhookSubscription pages.
LISTING_PAGES = OrderPages(
    line_items=10,
    fulfillments=10,
    tracking=10,
    fulfillment_line_items=10,
    refunds=10,
    transactions=5,
    returns=2,
    return_line_items=5,
)
#: One order alone (`order(id:)`): pages as large as the 1000-point ceiling allows, spent
#: where long orders are long (lines, parcels' lines); requested cost 993 by the fake's count
#: (tests/platforms/test_shopify_reader.py checks it). The plain lists get a `first` far above
#: any real order's: they cost one object each whatever `first` is, in the fake's model.
LONG_ORDER_PAGES = OrderPages(
    line_items=80,
    fulfillments=50,
    tracking=50,
    fulfillment_line_items=100,
    refunds=50,
    transactions=10,
    returns=5,
    return_line_items=10,
)
#: What one further page of a connection asks (OrderLineItems, FulfillmentLineItems, ...):
#: 100 nodes (at most 703 points), returns 20 at a time (each with its lines: 663 points).
NEXT_PAGE = 100
NEXT_RETURNS_PAGE = 20
LINE_ITEMS_FIRST = LISTING_PAGES.line_items
FULFILLMENT_LINE_ITEMS_FIRST = LISTING_PAGES.fulfillment_line_items
#: The latest events only (`last`): the newest decides the parcel's status.
EVENTS_LAST = 5
TRANSACTIONS_FIRST = LISTING_PAGES.transactions
RETURNS_FIRST = LISTING_PAGES.returns
RETURN_LINE_ITEMS_FIRST = LISTING_PAGES.return_line_items
FULL_ORDER_PAGE = 5


def _money(field: str) -> str:
    return f"{field} {{ shopMoney {{ amount currencyCode }} }}"


_ADDRESS = (
    "{ firstName lastName name company address1 address2 city province provinceCode zip "
    "country countryCodeV2 phone }"
)
_PAGE_INFO = "pageInfo { hasNextPage endCursor }"
_LINE_ITEM = f"""id
          sku
          name
          quantity
          {_money("originalUnitPriceSet")}
          variant {{ id }}
          discountAllocations {{ {_money("allocatedAmountSet")} }}"""
_FULFILLMENT_LINE_ITEM = "id quantity lineItem { id sku }"
_TRANSACTION = f"id kind status gateway createdAt processedAt {_money('amountSet')}"
_RETURN_LINE_ITEM = """quantity
              returnReason
              ... on ReturnLineItem {
                fulfillmentLineItem { lineItem { id sku } }
              }"""


def order_fields(pages: OrderPages) -> str:
    """Everything map_order needs of an Order (graphql_orders.order_body translates it), with
    nested pages of `pages`. Every connection asks its endCursor, so a cut one can be read
    on from where it stopped."""
    return f"""
      id
      legacyResourceId
      name
      number
      email
      phone
      createdAt
      processedAt
      updatedAt
      cancelledAt
      displayFinancialStatus
      displayFulfillmentStatus
      currencyCode
      taxesIncluded
      {_money("subtotalPriceSet")}
      {_money("totalShippingPriceSet")}
      {_money("totalTaxSet")}
      {_money("totalPriceSet")}
      {_money("totalDiscountsSet")}
      paymentGatewayNames
      customer {{
        id
        firstName
        lastName
        defaultEmailAddress {{ emailAddress }}
        defaultPhoneNumber {{ phoneNumber }}
        tags
        createdAt
        updatedAt
      }}
      shippingAddress {_ADDRESS}
      billingAddress {_ADDRESS}
      shippingLine {{ title }}
      lineItems(first: {pages.line_items}) {{
        {_PAGE_INFO}
        nodes {{
          {_LINE_ITEM}
        }}
      }}
      fulfillments(first: {pages.fulfillments}) {{
        id
        status
        displayStatus
        createdAt
        updatedAt
        deliveredAt
        estimatedDeliveryAt
        trackingInfo(first: {pages.tracking}) {{ company number url }}
        events(last: {EVENTS_LAST}) {{
          nodes {{ status happenedAt message }}
        }}
        fulfillmentLineItems(first: {pages.fulfillment_line_items}) {{
          {_PAGE_INFO}
          nodes {{ {_FULFILLMENT_LINE_ITEM} }}
        }}
      }}
      refunds(first: {pages.refunds}) {{
        id
        createdAt
        processedAt
        {_money("totalRefundedSet")}
        return {{ id }}
        transactions(first: {pages.transactions}) {{
          {_PAGE_INFO}
          nodes {{ {_TRANSACTION} }}
        }}
      }}
      returns(first: {pages.returns}) {{
        {_PAGE_INFO}
        nodes {{
          {_return_fields(pages.return_line_items)}
        }}
      }}
"""


def _return_fields(lines: int) -> str:
    return f"""id
          name
          status
          createdAt
          returnLineItems(first: {lines}) {{
            {_PAGE_INFO}
            nodes {{
              {_RETURN_LINE_ITEM}
            }}
          }}"""


#: A listed order's fields (the listings below and ORDER).
ORDER_FIELDS = order_fields(LISTING_PAGES)

#: One order in full (the freshness re-read before answering a shopper).
ORDER = f"""
query Order($id: ID!) {{
  order(id: $id) {{{ORDER_FIELDS}  }}
}}
"""

#: One order alone with the largest nested pages (a listed or single-read order that did not
#: fit LISTING_PAGES).
LONG_ORDER = f"""
query LongOrder($id: ID!) {{
  order(id: $id) {{{order_fields(LONG_ORDER_PAGES)}  }}
}}
"""

#: The next pages of a long order's connections, each read on from its endCursor.
ORDER_LINE_ITEMS = f"""
query OrderLineItems($id: ID!, $first: Int!, $after: String) {{
  order(id: $id) {{
    lineItems(first: $first, after: $after) {{
      {_PAGE_INFO}
      nodes {{
        {_LINE_ITEM}
      }}
    }}
  }}
}}
"""

ORDER_RETURNS = f"""
query OrderReturns($id: ID!, $first: Int!, $after: String) {{
  order(id: $id) {{
    returns(first: $first, after: $after) {{
      {_PAGE_INFO}
      nodes {{
        {_return_fields(LONG_ORDER_PAGES.return_line_items)}
      }}
    }}
  }}
}}
"""

FULFILLMENT_LINE_ITEMS = f"""
query FulfillmentLineItems($id: ID!, $first: Int!, $after: String) {{
  fulfillment(id: $id) {{
    fulfillmentLineItems(first: $first, after: $after) {{
      {_PAGE_INFO}
      nodes {{ {_FULFILLMENT_LINE_ITEM} }}
    }}
  }}
}}
"""

REFUND_TRANSACTIONS = f"""
query RefundTransactions($id: ID!, $first: Int!, $after: String) {{
  refund(id: $id) {{
    transactions(first: $first, after: $after) {{
      {_PAGE_INFO}
      nodes {{ {_TRANSACTION} }}
    }}
  }}
}}
"""

RETURN_LINE_ITEMS = f"""
query ReturnLineItems($id: ID!, $first: Int!, $after: String) {{
  return(id: $id) {{
    returnLineItems(first: $first, after: $after) {{
      {_PAGE_INFO}
      nodes {{
        {_RETURN_LINE_ITEM}
      }}
    }}
  }}
}}
"""


@dataclass(frozen=True)
class NextPages:
    """A page document and where its connection is: `root(id:) { connection(first, after) }`."""

    document: str
    root: str
    connection: str
    first: int = NEXT_PAGE


LINE_ITEM_PAGES = NextPages(ORDER_LINE_ITEMS, "order", "lineItems")
RETURN_PAGES = NextPages(ORDER_RETURNS, "order", "returns", NEXT_RETURNS_PAGE)
FULFILLMENT_LINE_ITEM_PAGES = NextPages(
    FULFILLMENT_LINE_ITEMS, "fulfillment", "fulfillmentLineItems"
)
TRANSACTION_PAGES = NextPages(REFUND_TRANSACTIONS, "refund", "transactions")
RETURN_LINE_ITEM_PAGES = NextPages(RETURN_LINE_ITEMS, "return", "returnLineItems")


#: Pages of full orders changed since a time, oldest change first (reconciliation).
ORDERS_FULL_UPDATED_SINCE = f"""
query OrdersFullUpdatedSince($first: Int!, $after: String, $query: String) {{
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    pageInfo {{
      hasNextPage
      endCursor
    }}
    nodes {{{ORDER_FIELDS}    }}
  }}
}}
"""

#: Pages of full orders created since a time, oldest first (the backfill of connect).
ORDERS_CREATED_SINCE = f"""
query OrdersCreatedSince($first: Int!, $after: String, $query: String) {{
  orders(first: $first, after: $after, query: $query, sortKey: CREATED_AT) {{
    pageInfo {{
      hasNextPage
      endCursor
    }}
    nodes {{{ORDER_FIELDS}    }}
  }}
}}
"""

#: Variants per product page; a product with more is refused rather than cut short.
VARIANTS_FIRST = 50
PRODUCT_PAGE = 8

#: Pages of products with their variants and inventory items (map_product's input).
PRODUCTS = f"""
query Products($first: Int!, $after: String, $query: String) {{
  products(first: $first, after: $after, query: $query, sortKey: ID) {{
    pageInfo {{
      hasNextPage
      endCursor
    }}
    nodes {{
      id
      title
      productType
      updatedAt
      variants(first: {VARIANTS_FIRST}) {{
        pageInfo {{ hasNextPage }}
        nodes {{
          id
          sku
          title
          price
          inventoryQuantity
          updatedAt
          inventoryItem {{ id }}
        }}
      }}
    }}
  }}
}}
"""

#: The app's webhook subscriptions (connect looks before it subscribes, so a re-run is safe).
WEBHOOK_SUBSCRIPTIONS = """
query WebhookSubscriptions($first: Int!, $after: String) {
  webhookSubscriptions(first: $first, after: $after) {
    pageInfo {
      hasNextPage
      endCursor
    }
    nodes {
      id
      topic
      filter
      uri
      format
    }
  }
}
"""

#: Every document above by its operation name (the fake Shopify and the tests use it).
DOCUMENTS: Mapping[str, str] = {
    "ShopCheck": SHOP_CHECK,
    "OrderCancel": ORDER_CANCEL,
    "OrderUpdateShippingAddress": ORDER_UPDATE_SHIPPING_ADDRESS,
    "ReturnRequest": RETURN_REQUEST,
    "WebhookSubscriptionCreate": WEBHOOK_SUBSCRIPTION_CREATE,
    "OrdersUpdatedSince": ORDERS_UPDATED_SINCE,
}

#: The full reads of reader.py by operation name (tests/platforms/test_shopify_reader.py runs
#: each against the fake; kept apart from DOCUMENTS, whose operations test_admin_api runs).
READ_DOCUMENTS: Mapping[str, str] = {
    "Order": ORDER,
    "LongOrder": LONG_ORDER,
    "OrderLineItems": ORDER_LINE_ITEMS,
    "OrderReturns": ORDER_RETURNS,
    "FulfillmentLineItems": FULFILLMENT_LINE_ITEMS,
    "RefundTransactions": REFUND_TRANSACTIONS,
    "ReturnLineItems": RETURN_LINE_ITEMS,
    "OrdersFullUpdatedSince": ORDERS_FULL_UPDATED_SINCE,
    "OrdersCreatedSince": ORDERS_CREATED_SINCE,
    "Products": PRODUCTS,
    "WebhookSubscriptions": WEBHOOK_SUBSCRIPTIONS,
}

CANCEL_REASONS = frozenset({"CUSTOMER", "DECLINED", "FRAUD", "INVENTORY", "OTHER", "STAFF"})


@dataclass(frozen=True)
class ShopInfo:
    name: str
    myshopify_domain: str


@dataclass(frozen=True)
class CancelResult:
    """orderCancel's answer. Shopify cancels in a background job: `job_done` false means the
    cancel was accepted, not finished (the orders/cancelled webhook or a later read tells)."""

    job_id: str | None
    job_done: bool
    job_result_id: str | None
    user_errors: tuple[UserError, ...]

    @property
    def accepted(self) -> bool:
        return not self.user_errors and (self.job_id or self.job_result_id) is not None


@dataclass(frozen=True)
class OrderUpdateResult:
    order_id: str | None
    shipping_address: Mapping[str, Any] | None
    user_errors: tuple[UserError, ...]


@dataclass(frozen=True)
class ReturnLine:
    fulfillment_line_item_id: str
    quantity: int
    #: A ReturnReason value, e.g. "WRONG_ITEM", "SIZE_TOO_SMALL", "DEFECTIVE", "OTHER".
    reason: str
    customer_note: str | None = None


@dataclass(frozen=True)
class ReturnResult:
    return_id: str | None
    status: str | None
    user_errors: tuple[UserError, ...]


@dataclass(frozen=True)
class WebhookSubscriptionResult:
    subscription_id: str | None
    topic: str | None
    user_errors: tuple[UserError, ...]


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _node(payload: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = payload.get(key)
    return value if isinstance(value, Mapping) else {}


def check_shop(client: ShopifyAdminClient) -> ShopInfo:
    """The shop the token belongs to: the cheapest call that proves the token works."""
    shop = client.execute(SHOP_CHECK).get("shop")
    if not isinstance(shop, Mapping):
        raise ShopifyRejected("Shopify's answer has no shop", status=200, messages=["shop"])
    return ShopInfo(
        name=str(shop.get("name") or ""), myshopify_domain=str(shop.get("myshopifyDomain") or "")
    )


def cancel_order(
    client: ShopifyAdminClient,
    order_gid: str,
    *,
    reason: str,
    refund: bool,
    restock: bool,
    notify_customer: bool,
    staff_note: str | None = None,
) -> CancelResult:
    if reason not in CANCEL_REASONS:
        raise ValueError(f"not an OrderCancelReason: {reason!r}")
    outcome = client.mutate(
        ORDER_CANCEL,
        {
            "orderId": order_gid,
            "reason": reason,
            "refund": refund,
            "restock": restock,
            "notifyCustomer": notify_customer,
            "staffNote": staff_note,
        },
        root="orderCancel",
        errors_key="orderCancelUserErrors",
    )
    job, job_result = _node(outcome.payload, "job"), _node(outcome.payload, "jobResult")
    return CancelResult(
        job_id=_str(job.get("id")),
        job_done=bool(job.get("done") or job_result.get("done")),
        job_result_id=_str(job_result.get("id")),
        user_errors=outcome.user_errors,
    )


def update_shipping_address(
    client: ShopifyAdminClient, order_gid: str, address: Mapping[str, str]
) -> OrderUpdateResult:
    """Replace an order's shipping address. `address` is a MailingAddressInput: address1,
    address2, city, province (or provinceCode), zip, country (or countryCode), firstName,
    lastName, phone, company."""
    outcome = client.mutate(
        ORDER_UPDATE_SHIPPING_ADDRESS,
        {"input": {"id": order_gid, "shippingAddress": dict(address)}},
        root="orderUpdate",
    )
    order = _node(outcome.payload, "order")
    shipping = order.get("shippingAddress")
    return OrderUpdateResult(
        order_id=_str(order.get("id")),
        shipping_address=shipping if isinstance(shipping, Mapping) else None,
        user_errors=outcome.user_errors,
    )


def request_return(
    client: ShopifyAdminClient, order_gid: str, lines: Sequence[ReturnLine]
) -> ReturnResult:
    """Ask for a return the merchant approves or declines (status REQUESTED)."""
    outcome = client.mutate(
        RETURN_REQUEST,
        {
            "input": {
                "orderId": order_gid,
                "returnLineItems": [
                    {
                        "fulfillmentLineItemId": line.fulfillment_line_item_id,
                        "quantity": line.quantity,
                        "returnReason": line.reason,
                        **({"customerNote": line.customer_note} if line.customer_note else {}),
                    }
                    for line in lines
                ],
            }
        },
        root="returnRequest",
    )
    created = _node(outcome.payload, "return")
    return ReturnResult(
        return_id=_str(created.get("id")),
        status=_str(created.get("status")),
        user_errors=outcome.user_errors,
    )


def create_webhook_subscription(
    client: ShopifyAdminClient, topic: str, uri: str, *, filter: str | None = None
) -> WebhookSubscriptionResult:
    """Subscribe `uri` to `topic` (the enum form: "ORDERS_UPDATED" for orders/updated)."""
    subscription: dict[str, str] = {"uri": uri}
    if filter:
        subscription["filter"] = filter
    outcome = client.mutate(
        WEBHOOK_SUBSCRIPTION_CREATE,
        {"topic": topic, "webhookSubscription": subscription},
        root="webhookSubscriptionCreate",
    )
    created = _node(outcome.payload, "webhookSubscription")
    return WebhookSubscriptionResult(
        subscription_id=_str(created.get("id")),
        topic=_str(created.get("topic")),
        user_errors=outcome.user_errors,
    )


def updated_since_filter(since: datetime) -> str:
    """Shopify's search syntax for "changed after `since`" (UTC, second precision)."""
    if since.tzinfo is None:
        raise ValueError("an aware datetime is needed: Shopify compares in UTC")
    stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"updated_at:>'{stamp}'"


def created_since_filter(since: datetime) -> str:
    """Shopify's search syntax for "created at or after `since`" (UTC, second precision)."""
    if since.tzinfo is None:
        raise ValueError("an aware datetime is needed: Shopify compares in UTC")
    stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"created_at:>='{stamp}'"


def orders_updated_since(
    client: ShopifyAdminClient, since: datetime, *, page_size: int = 50
) -> Iterator[dict[str, Any]]:
    """Every order changed after `since`, oldest change first, page by page."""
    return client.paginate(
        ORDERS_UPDATED_SINCE,
        {"query": updated_since_filter(since)},
        connection=("orders",),
        page_size=page_size,
    )
