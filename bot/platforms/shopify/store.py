"""The Shopify adapter of `StorePort` (bot/store/ports.py): answers from relaydesk's synced copy,
but only from a fresh one.

Before an order is handed to an action (which then tells the shopper its status), its copy
must be current: synced from Shopify (by a webhook or a read) within `max_age`, and not flagged
for a re-read. Otherwise it is re-read from the Admin API first. If Shopify cannot be reached
then, `StoreUnavailableError` is raised: the bot says it cannot check right now and offers a
person; it never presents a stale copy as current. An order number relaydesk has never synced
is looked up on Shopify too (a webhook may have been lost), when the reader can search by
number.

Customers and chat identities are relaydesk's own (verification links), read locally.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from bot.domain.clock import utc_now
from bot.domain.views import CustomerView, OrderView
from bot.store.errors import StoreUnavailableError
from bot.store.platform_inbox import PlatformInbox
from bot.store.platform_sync import ORDER, PlatformSync, SyncedRecord
from bot.store.repository import StoreRepository

from .admin_api import ShopifyError
from .mapping import ShopifyPayloadError

logger = logging.getLogger(__name__)

PLATFORM = "shopify"
#: How many of a customer's orders are re-checked when they are listed (newest first); older
#: ones are listed as synced, which the listing says nothing time-critical about.
LISTED_ORDERS_CHECKED = 5


class OrderRefresher(Protocol):
    """Re-reads orders from Shopify into the local store (bot/platforms/shopify/sync.py)."""

    def refresh_order(self, external_id: str) -> object | None: ...

    def find_order_number(self, number: str) -> bool:
        """Looks an order up on Shopify by its number and syncs it; False if there is none."""
        ...


class ShopifyStore:
    def __init__(
        self,
        local: StoreRepository,
        sync: PlatformSync,
        refresher: OrderRefresher,
        *,
        max_age: timedelta,
        inbox: PlatformInbox | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._local = local
        self._inbox = inbox
        self._sync = sync
        self._refresher = refresher
        self._max_age = max_age
        self._clock = clock

    def find_order(self, number: str) -> OrderView | None:
        record = self._sync.record_for_key(PLATFORM, ORDER, number)
        try:
            if record is None:
                # Never synced: maybe a lost webhook. Ask Shopify before saying "no such order".
                if not self._refresher.find_order_number(number):
                    return None
            elif self._stale(record) and self._refresher.refresh_order(record.external_id) is None:
                return None  # deleted on Shopify: the old copy is no answer
        except ShopifyError as error:
            logger.warning("shopify: cannot check order %s now: %s", number, error)
            raise StoreUnavailableError(f"Shopify cannot be reached: {error}") from error
        except ShopifyPayloadError as error:
            # Shopify answered, but with an order relaydesk cannot read whole (e.g. more line
            # items than one page): its current state is unknown, so it is not presented.
            logger.warning("shopify: cannot read order %s in full: %s", number, error)
            raise StoreUnavailableError(f"order {number} cannot be read in full") from error
        return self._local.find_order(number)

    def orders_for_customer(self, customer_id: int) -> list[OrderView]:
        orders = self._local.orders_for_customer(customer_id)
        stale = False
        for order in orders[:LISTED_ORDERS_CHECKED]:
            record = self._sync.record_for_key(PLATFORM, ORDER, order.number)
            if record is not None and self._stale(record):
                try:
                    self._refresher.refresh_order(record.external_id)
                except (ShopifyError, ShopifyPayloadError) as error:
                    raise StoreUnavailableError(f"Shopify cannot be asked: {error}") from error
                stale = True
        return self._local.orders_for_customer(customer_id) if stale else orders

    def find_customer_by_email(self, email: str) -> CustomerView | None:
        return self._local.find_customer_by_email(email)

    def find_customer_by_phone(self, phone: str) -> CustomerView | None:
        return self._local.find_customer_by_phone(phone)

    def customer_for_identity(self, channel: str, external_id: str) -> CustomerView | None:
        return self._local.customer_for_identity(channel, external_id)

    def link_identity(self, channel: str, external_id: str, customer_id: int) -> None:
        self._local.link_identity(channel, external_id, customer_id)

    def is_empty(self) -> bool:
        return self._local.is_empty()

    def _stale(self, record: SyncedRecord) -> bool:
        if record.needs_refresh or self._clock() - record.synced_at > self._max_age:
            return True
        return self._inbox is not None and self._inbox.waiting_since(PLATFORM, record.synced_at)
