"""A stored push → PlatformSync updates, applied in the body's order: the InboxWorker's handler
for platform "push".

Every record of the body is parsed into its update before the first is applied, so a body this
relaydesk cannot use (`Unprocessable`, failed with its reason) changes nothing. Each update is
then applied in its own transaction by PlatformSync; if one fails for a reason time may fix (the
store is down, a unique key taken by other data), the whole body is retried later, and the
records already applied are recognised as the same versions (same delivery id, same content)
and change nothing the second time (a stock level, which PlatformSync stamps with its
`updated_at` only, is written again with the same value).

Versions: `Stamp(updated_at, triggered_at=<signed timestamp>, event_id=<delivery id>)`. The
record's `updated_at` orders versions (bot/domain/freshness.py); the signed timestamp breaks a
tie between two versions with the same `updated_at` (unlike Shopify's triggered-at header it
is signed, so it can be trusted for that); a redelivery of one delivery id is one event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime

from bot.domain.freshness import Stamp
from bot.platforms.inbox_worker import Unprocessable
from bot.platforms.push.records import (
    OrderRecord,
    ProductRecord,
    PushBatch,
    PushBodyError,
    StockRecord,
    parse_body,
)
from bot.store.errors import StoreExportError
from bot.store.platform_inbox import ClaimedWebhook
from bot.store.platform_sync import (
    OrderUpdate,
    PlatformSync,
    ProductUpdate,
    StockLevelUpdate,
    SyncResult,
)

logger = logging.getLogger(__name__)

PLATFORM = "push"

PushUpdate = OrderUpdate | ProductUpdate | StockLevelUpdate


def updates_for(
    batch: PushBatch, *, signed_at: datetime | None, delivery_id: str
) -> list[PushUpdate]:
    """The PlatformSync update of each record, in the body's order."""
    updates: list[PushUpdate] = []
    for record in batch.records:
        stamp = Stamp.parse(record.updated_at, triggered_at=signed_at, event_id=delivery_id)
        if isinstance(record, OrderRecord):
            updates.append(
                OrderUpdate(
                    platform=PLATFORM,
                    external_id=record.number,
                    order=record.order,
                    customer=record.customer,
                    stamp=stamp,
                    line_products=record.products,
                )
            )
        elif isinstance(record, ProductRecord):
            # The SKU is the product's id and its inventory item's: stock levels name SKUs.
            updates.append(
                ProductUpdate(
                    platform=PLATFORM,
                    external_id=record.sku,
                    product=record.product,
                    stamp=stamp,
                    inventory_item_id=record.sku,
                )
            )
        elif isinstance(record, StockRecord):
            updates.append(
                StockLevelUpdate(
                    platform=PLATFORM,
                    inventory_item_id=record.sku,
                    location_id=record.location,
                    available=record.available,
                    stamp=stamp,
                )
            )
    return updates


def parse_stored(body: str) -> PushBatch:
    """The records of a stored body; raises Unprocessable (with the problems) if it has none
    this relaydesk can apply."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise Unprocessable(f"the body is not JSON: {error}") from error
    try:
        return parse_body(data)
    except PushBodyError as error:
        raise Unprocessable("; ".join(error.problems)) from error


class PushHandler:
    """The InboxWorker handler: `handler(claim)` applies one stored push."""

    def __init__(self, sync: PlatformSync) -> None:
        self._sync = sync

    def __call__(self, claim: ClaimedWebhook) -> None:
        results = self.apply(claim)
        applied = sum(result.decision.apply for result in results)
        logger.info("push: delivery %s: %d of %d records applied", claim.webhook_id, applied,
                    len(results))  # fmt: skip

    def apply(self, claim: ClaimedWebhook) -> list[SyncResult]:
        """Applies every record of the claimed push; one result per record, in order."""
        batch = parse_stored(claim.body)
        # The intake stored the signed timestamp as triggered_at and the delivery id as id.
        updates = updates_for(batch, signed_at=claim.triggered_at, delivery_id=claim.webhook_id)
        try:
            return self._apply_all(updates)
        except StoreExportError as error:
            # The loader refused what the intake accepted: no retry can change that.
            raise Unprocessable("; ".join(error.problems)) from error

    def _apply_all(self, updates: Sequence[PushUpdate]) -> list[SyncResult]:
        results: list[SyncResult] = []
        for update in updates:
            if isinstance(update, OrderUpdate):
                results.append(self._sync.apply_order(update))
            elif isinstance(update, ProductUpdate):
                results.extend(self._sync.apply_products([update]))
            else:
                results.append(self._sync.apply_stock_level(update))
        return results
