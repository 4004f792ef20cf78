"""Builds the Shopify adapter's parts for one process from the settings, once.

The Rasa server runs the inbox worker (webhooks → store, plus the reconciliation); the action
server reads through `ShopifyStore` (fresh or re-read) and writes through the order changes.
Both get their parts here, so the wiring is the same in every process and in the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.clock import utc_now
from bot.domain.store_policy import StorePolicy
from bot.domain.views import OrderView
from bot.platforms.inbox_worker import InboxWorker, PeriodicJob, prune_job
from bot.settings import ShopifySettings
from bot.store.database import Database
from bot.store.order_commands import OrderCommands
from bot.store.platform_commands import CommandLog
from bot.store.platform_inbox import PlatformInbox
from bot.store.platform_sync import PlatformSync
from bot.store.repository import StoreRepository

from .admin_api import ShopifyAdminClient
from .order_changes import CancelOptions, ShopifyOrderChanges
from .reader import ShopifyReader
from .store import ShopifyStore
from .sync import PLATFORM, ShopifySync

#: A shopper is waiting on a chat-time read: fail over to "cannot check right now" within
#: seconds rather than after the background worker's patient retries.
CHAT_TIMEOUT = 5.0
CHAT_ATTEMPTS = 2
CHAT_MAX_WAIT = 2.0


@dataclass(frozen=True)
class ShopifyParts:
    client: ShopifyAdminClient
    reader: ShopifyReader
    sync: ShopifySync

    def close(self) -> None:
        self.client.close()


def shopify_parts(
    config: ShopifySettings,
    database: Database,
    *,
    for_chat: bool = False,
    clock: Callable[[], datetime] = utc_now,
) -> ShopifyParts:
    """The client, reader and sync of the configured shop (`config.configured` must hold)."""
    if not config.admin_token:
        raise ValueError("SHOPIFY_ADMIN_TOKEN is not set")
    if for_chat:
        client = ShopifyAdminClient(
            config.admin_api_url,
            config.admin_token,
            timeout=CHAT_TIMEOUT,
            max_attempts=CHAT_ATTEMPTS,
            max_wait=CHAT_MAX_WAIT,
        )
    else:
        client = ShopifyAdminClient(config.admin_api_url, config.admin_token)
    reader = ShopifyReader(client)
    sync = ShopifySync(PlatformSync(database, clock=clock), reader, clock=clock)
    return ShopifyParts(client, reader, sync)


def inbox_worker(
    parts: ShopifyParts,
    config: ShopifySettings,
    database: Database,
    *,
    retention_days: int = 30,
) -> InboxWorker:
    """The worker of Shopify's webhook inbox, with the reconciliation and the pruning of
    processed webhooks as its periodic jobs."""
    inbox = PlatformInbox(database)
    jobs = [
        PeriodicJob("reconciliation", config.reconcile_interval_seconds, parts.sync.reconcile),
        prune_job(inbox, PLATFORM, retention_days),
    ]
    return InboxWorker(inbox, PLATFORM, parts.sync.handle, jobs=jobs)


def shopify_store(
    parts: ShopifyParts,
    config: ShopifySettings,
    database: Database,
    *,
    clock: Callable[[], datetime] = utc_now,
) -> ShopifyStore:
    return ShopifyStore(
        StoreRepository(database, clock=clock),
        parts.sync.platform_sync,
        parts.sync,
        max_age=timedelta(seconds=config.order_max_age_seconds),
        inbox=PlatformInbox(database, clock=clock),
        clock=clock,
    )


def shopify_order_changes(
    parts: ShopifyParts, database: Database, policy: StorePolicy
) -> ShopifyOrderChanges:
    """Cancel, address change and return made on Shopify, exactly once (order_changes.py)."""
    local = StoreRepository(database)

    def refresh(number: str) -> OrderView | None:
        parts.sync.refresh_order_number(number)
        return local.find_order(number)

    return ShopifyOrderChanges(
        parts.client,
        CommandLog(database),
        parts.sync.platform_sync,
        refresh,
        local,
        OrderCommands(database),
        CancelOptions.from_policy(policy),
    )
