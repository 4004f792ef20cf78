"""Keeps relaydesk's copy of a Shopify shop current: the inbox handler for Shopify's webhooks,
the re-read of one order from the Admin API, and the periodic reconciliation.

Topics and what each does (docs/shopify.md has the same table):

* orders/create|updated|cancelled|fulfilled|paid|edited: the body is the order's full state;
  mapped and applied in order (an older `updated_at` never overwrites a newer state). A body
  the mappers call incomplete (no e-mail...) is replaced by a read of the order.
* fulfillments/create|update, fulfillment_events/create, refunds/create, returns/*: the body
  names its order; the order is re-read from the Admin API and applied whole, so the parcels,
  tracking events, refunds and returns stay consistent with the order's status.
* customers/update, products/create|update, inventory_levels/update: applied to the customer,
  the products (one per variant/SKU) and the stock per location.
* checkouts/create|update: kept in the inbox as received (the raw body is what abandoned-cart
  messages will read); nothing in the store changes.

Shopify unreachable → `RetryLater` (the webhook stays in the inbox); a body the mappers refuse
→ `Unprocessable` (failed, with its reason, for an operator).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.domain.clock import utc_now
from bot.domain.freshness import Stamp, parse_timestamp
from bot.platforms.inbox_worker import RetryLater, Unprocessable
from bot.store.errors import StoreExportError
from bot.store.platform_inbox import ClaimedWebhook
from bot.store.platform_sync import (
    ORDER,
    CustomerUpdate,
    OrderUpdate,
    PlatformSync,
    ProductUpdate,
    StockLevelUpdate,
    SyncResult,
)

from .admin_api import ShopifyError
from .mapping import (
    IncompletePayloadError,
    MappedOrder,
    MappedProduct,
    ShopifyPayloadError,
    map_customer,
    map_inventory_level,
    map_order,
    map_product,
)

logger = logging.getLogger(__name__)

PLATFORM = "shopify"
#: The reconciliation asks for a little more than "since the last run": Shopify's and our
#: clocks differ, and an update committed while the last run was reading is caught next time.
RECONCILE_OVERLAP = timedelta(minutes=5)
#: Where the reconciliation starts when no run has recorded a mark yet.
FIRST_RECONCILE_WINDOW = timedelta(days=1)
RECONCILE_MARK = "reconciled_until"

ORDER_TOPICS = frozenset(
    {
        "orders/create",
        "orders/updated",
        "orders/cancelled",
        "orders/fulfilled",
        "orders/partially_fulfilled",
        "orders/paid",
    }
)
#: Topics whose body names an order that is then re-read whole.
ORDER_CHILD_TOPICS = frozenset(
    {
        "fulfillments/create",
        "fulfillments/update",
        "fulfillment_events/create",
        "fulfillment_events/delete",
        "refunds/create",
        "returns/request",
        "returns/approve",
        "returns/decline",
        "returns/cancel",
        "returns/close",
        "returns/reopen",
        "returns/process",
        "returns/update",
        # The body describes the edit ({"order_edit": {"order_id": ...}}), not the order.
        "orders/edited",
    }
)
CHECKOUT_TOPICS = frozenset({"checkouts/create", "checkouts/update"})
#: Every topic `relaydesk connect shopify` subscribes to (Shopify's enum spelling is upper
#: case with underscores: orders/create → ORDERS_CREATE).
SUBSCRIBED_TOPICS = (
    "orders/create",
    "orders/updated",
    "orders/cancelled",
    "orders/fulfilled",
    "orders/paid",
    "fulfillments/create",
    "fulfillments/update",
    "fulfillment_events/create",
    "refunds/create",
    "returns/request",
    "returns/approve",
    "returns/decline",
    "returns/cancel",
    "returns/close",
    "customers/update",
    "products/create",
    "products/update",
    "inventory_levels/update",
    "checkouts/create",
    "checkouts/update",
)


class OrderReader(Protocol):
    """What the sync reads from the Admin API (bot/platforms/shopify/reader.py)."""

    def order(self, graphql_id: str) -> MappedOrder | None: ...

    def orders_updated_since(self, since: datetime) -> Iterator[MappedOrder]: ...

    def orders_numbered(self, number: str) -> Iterator[MappedOrder]: ...

    def products_updated_since(self, since: datetime) -> Iterator[MappedProduct]: ...

    @property
    def refused(self) -> dict[str, str]: ...


def order_gid(external_id: str) -> str:
    return f"gid://shopify/Order/{external_id}"


def order_update(
    mapped: MappedOrder,
    *,
    triggered_at: datetime | None = None,
    event_id: str | None = None,
    read_now: bool = False,
) -> OrderUpdate:
    """A mapped Shopify order as the store's platform-neutral update."""
    external_id = mapped.order.external_id
    if external_id is None:
        raise ShopifyPayloadError("order.id", "missing")
    return OrderUpdate(
        platform=PLATFORM,
        external_id=external_id,
        order=mapped.order.record,
        customer=mapped.customer.record,
        stamp=Stamp.parse(mapped.order.updated_at, triggered_at=triggered_at, event_id=event_id),
        graphql_id=mapped.order.admin_graphql_api_id or order_gid(external_id),
        customer_external_id=mapped.customer.external_id,
        read_now=read_now,
    )


def product_updates(mapped: MappedProduct, *, read_now: bool = False) -> list[ProductUpdate]:
    items = {sku: item for item, sku in mapped.inventory_items.items()}
    return [
        ProductUpdate(
            platform=PLATFORM,
            # A variant without an id (never in practice) is keyed by its SKU.
            external_id=variant.external_id or f"sku:{variant.record['sku']}",
            product=variant.record,
            stamp=Stamp.parse(variant.updated_at),
            inventory_item_id=items.get(variant.record["sku"]),
            read_now=read_now,
        )
        for variant in mapped.variants
    ]


@dataclass(frozen=True)
class ReconcileReport:
    since: datetime
    until: datetime
    orders_read: int = 0
    orders_changed: int = 0
    refreshed: int = 0
    changed_numbers: tuple[str, ...] = field(default=())
    #: Products changed on Shopify since the mark, read and applied (a lost products/update).
    products_read: int = 0
    #: Variants (relaydesk's products, one per SKU) those reads changed in the store.
    products_changed: int = 0


class ShopifySync:
    def __init__(
        self,
        sync: PlatformSync,
        reader: OrderReader,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._sync = sync
        self._reader = reader
        self._clock = clock

    @property
    def platform_sync(self) -> PlatformSync:
        return self._sync

    # ------------------------------------------------------------------ webhooks

    def handle(self, webhook: ClaimedWebhook) -> None:
        """The InboxWorker's handler for Shopify webhooks (see the module docstring)."""
        body = _body(webhook)
        topic = webhook.topic.strip().lower()
        try:
            if topic in ORDER_TOPICS:
                self._order_webhook(webhook, body)
            elif topic in ORDER_CHILD_TOPICS:
                self._child_webhook(topic, body)
            elif topic == "customers/update" or topic == "customers/create":
                self._customer_webhook(webhook, body)
            elif topic in ("products/create", "products/update"):
                self._sync.apply_products(product_updates(map_product(body)))
            elif topic == "inventory_levels/update":
                self._stock_webhook(body)
            elif topic in CHECKOUT_TOPICS:
                logger.debug("shopify: checkout webhook %s kept in the inbox", webhook.webhook_id)
            else:
                raise Unprocessable(f"topic {webhook.topic!r} is not one relaydesk handles")
        except ShopifyError as error:
            raise RetryLater(f"Shopify's Admin API: {error}") from error
        except (ShopifyPayloadError, StoreExportError) as error:
            raise Unprocessable(str(error)) from error

    def _order_webhook(self, webhook: ClaimedWebhook, body: Any) -> None:
        try:
            mapped = map_order(body)
        except IncompletePayloadError as incomplete:
            external_id = _order_id_in(body, "id")
            if external_id is None:
                raise
            logger.info("shopify: %s body incomplete (%s); reading order %s",
                        webhook.topic, incomplete, external_id)  # fmt: skip
            self.refresh_order(external_id)
            return
        _log_warnings(mapped)
        result = self._sync.apply_order(
            order_update(mapped, triggered_at=webhook.triggered_at, event_id=webhook.event_id)
        )
        _log_result(mapped.order.record["number"], result)
        if result.decision.reconcile and mapped.order.external_id is not None:
            self.refresh_order(mapped.order.external_id)

    def _child_webhook(self, topic: str, body: Any) -> None:
        external_id = _child_order_id(body)
        if external_id is None:
            raise ShopifyPayloadError(f"{topic}: order_id", "missing: cannot tell which order")
        self.refresh_order(external_id)

    def _customer_webhook(self, webhook: ClaimedWebhook, body: Any) -> None:
        # Only the name, phone and VIP tag are taken over; a missing created_at (never in
        # customers/update, always in the customer embedded in some order samples) is no reason
        # to refuse the update.
        fallback = body.get("updated_at") if isinstance(body, dict) else None
        mapped = map_customer(body, fallback_created_at=fallback)
        if mapped.external_id is None:
            raise ShopifyPayloadError("customer.id", "missing")
        self._sync.apply_customer(
            CustomerUpdate(
                platform=PLATFORM,
                external_id=mapped.external_id,
                customer=mapped.record,
                stamp=Stamp.parse(
                    mapped.updated_at, triggered_at=webhook.triggered_at, event_id=webhook.event_id
                ),
            )
        )

    def _stock_webhook(self, body: Any) -> None:
        level = map_inventory_level(body)
        self._sync.apply_stock_level(
            StockLevelUpdate(
                platform=PLATFORM,
                inventory_item_id=level.inventory_item_id,
                location_id=level.location_id,
                available=level.available,
                stamp=Stamp.parse(level.updated_at),
            )
        )

    # ------------------------------------------------------------------ reads

    def refresh_order(self, external_id: str) -> SyncResult | None:
        """Reads the order from the Admin API now and applies it; None if Shopify has no such
        order (deleted). Raises ShopifyError when Shopify cannot be asked."""
        mapped = self._reader.order(order_gid(external_id))
        if mapped is None:
            logger.warning("shopify: order %s is not in the shop (deleted?)", external_id)
            return None
        _log_warnings(mapped)
        result = self._sync.apply_order(order_update(mapped, read_now=True))
        _log_result(mapped.order.record["number"], result)
        return result

    def refresh_order_number(self, number: str) -> bool:
        """Re-reads a synced order by its relaydesk number; False if it was never synced."""
        record = self._sync.record_for_key(PLATFORM, ORDER, number)
        if record is None:
            return False
        return self.refresh_order(record.external_id) is not None

    def find_order_number(self, number: str) -> bool:
        """Looks an order relaydesk has never synced up on Shopify by its number and applies
        it; False if Shopify has no such order either."""
        found = False
        for mapped in self._reader.orders_numbered(number):
            if mapped.order.record["number"] == number:
                self._sync.apply_order(order_update(mapped, read_now=True))
                found = True
        refused = self._reader.refused.get(f"#{number}") or self._reader.refused.get(number)
        if not found and refused is not None:
            # Shopify has it, relaydesk cannot read it whole: not "no such order".
            raise ShopifyPayloadError(f"order {number}", refused)
        return found

    def reconcile(self) -> ReconcileReport:
        """Orders and products updated on Shopify since the last run (with an overlap), re-read
        and applied: repairs what a lost webhook left behind. Then orders flagged for a
        re-read. The mark moves only when all of it was read (an error raises first)."""
        started = self._clock()
        mark = parse_timestamp(self._sync.state(PLATFORM, RECONCILE_MARK))
        since = (mark - RECONCILE_OVERLAP) if mark else started - FIRST_RECONCILE_WINDOW
        read = changed = 0
        numbers: list[str] = []
        for mapped in self._reader.orders_updated_since(since):
            read += 1
            result = self._sync.apply_order(order_update(mapped, read_now=True))
            if result.decision.apply:
                changed += 1
                numbers.append(mapped.order.record["number"])
        products_read = products_changed = 0
        for product in self._reader.products_updated_since(since):
            products_read += 1
            results = self._sync.apply_products(product_updates(product, read_now=True))
            products_changed += sum(1 for r in results if r.decision.apply)
        refreshed = 0
        for external_id in self._sync.records_needing_refresh(PLATFORM, ORDER):
            if self.refresh_order(external_id) is not None:
                refreshed += 1
        self._sync.set_state(PLATFORM, RECONCILE_MARK, started.isoformat())
        if changed:
            logger.warning("shopify: reconciliation repaired %d of %d orders updated since %s: %s",
                           changed, read, since.isoformat(), ", ".join(numbers[:20]))  # fmt: skip
        if products_changed:
            logger.warning("shopify: reconciliation repaired %d products of %d updated since %s",
                           products_changed, products_read, since.isoformat())  # fmt: skip
        return ReconcileReport(
            since,
            started,
            read,
            changed,
            refreshed,
            tuple(numbers),
            products_read=products_read,
            products_changed=products_changed,
        )

    def apply_orders(self, orders: Iterable[MappedOrder]) -> int:
        """Applies orders read from the Admin API (a backfill); returns how many changed."""
        changed = 0
        for mapped in orders:
            if self._sync.apply_order(order_update(mapped, read_now=True)).decision.apply:
                changed += 1
        return changed


def _body(webhook: ClaimedWebhook) -> Any:
    try:
        return json.loads(webhook.body)
    except ValueError as error:  # the intake stores only JSON; a hand-edited row is not
        raise Unprocessable(f"the stored body is not JSON: {error}") from error


def _order_id_in(body: Any, key: str) -> str | None:
    if not isinstance(body, dict):
        return None
    value = body.get(key)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int) and value > 0:
        return str(value)
    if isinstance(value, str) and value.strip():
        text = value.strip()
        return text.rsplit("/", 1)[-1] if text.startswith("gid://") else text
    return None


def _child_order_id(body: Any) -> str | None:
    """The order a fulfilment, refund, return or order-edit body names. Webhook bodies are the
    resource itself ({"order_id": ...}); a return names {"order": {"id": ...}}; an order edit
    and a REST read wrap it ({"order_edit": {...}}, {"refund": {...}})."""
    found = _order_id_in(body, "order_id") or _nested_order_id(body)
    if found is None and isinstance(body, dict):
        for inner in body.values():
            if isinstance(inner, dict):
                found = _order_id_in(inner, "order_id") or _nested_order_id(inner)
                if found is not None:
                    break
    return found


def _nested_order_id(body: Any) -> str | None:
    """returns/* bodies name the order as {"order": {"id": ...}} (or admin_graphql_api_id)."""
    if isinstance(body, dict) and isinstance(body.get("order"), dict):
        order = body["order"]
        return _order_id_in(order, "id") or _order_id_in(order, "admin_graphql_api_id")
    return None


def _log_warnings(mapped: MappedOrder) -> None:
    warnings = [*mapped.order.warnings, *mapped.customer.warnings]
    if warnings:
        logger.warning("shopify: order %s not carried over exactly: %s",
                       mapped.order.record["number"], "; ".join(warnings))  # fmt: skip


def _log_result(number: str, result: SyncResult) -> None:
    if result.decision.apply:
        kinds = ", ".join(f"{e.kind}:{e.subject or '-'}={e.after}" for e in result.events)
        logger.info("shopify: order %s synced (%s)%s", number, result.decision.reason,
                    f"; events {kinds}" if kinds else "")  # fmt: skip
    else:
        logger.info("shopify: order %s unchanged (%s)", number, result.decision.reason)
