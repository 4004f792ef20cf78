"""`relaydesk connect shopify`: connect the configured shop, safely re-runnable.

1. checks the settings and the token (`connection_check`, the same as `relaydesk shopify check`);
2. registers the webhook subscriptions relaydesk needs (`sync.SUBSCRIBED_TOPICS`), pointing at
   `PUBLIC_URL/webhooks/shopify/webhook`, skipping those Shopify already has for that address;
3. backfills the products (with their variants and inventory items), then the orders created in
   the last `SHOPIFY_BACKFILL_DAYS` days with their customers, fulfilments and tracking, refunds
   and returns, through the same ordering rule as webhooks (a re-run changes only what changed);
4. sets the reconciliation mark to the backfill's start, so the first reconciliation catches
   what changed while the backfill ran.

Progress goes to a callback (the CLI draws a bar); the result is a summary.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.domain.clock import utc_now
from bot.settings import Settings
from bot.store.database import Database
from bot.store.errors import StoreExportError
from bot.store.platform_sync import PlatformSync

from .admin_api import ShopifyAdminClient, ShopifyError
from .connection_check import check_connection
from .mapping import ShopifyPayloadError
from .operations import create_webhook_subscription
from .reader import ShopifyReader
from .sync import PLATFORM, RECONCILE_MARK, SUBSCRIBED_TOPICS, ShopifySync, product_updates

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/shopify/webhook"

#: (what is being done, how many so far, how many in all when known).
Progress = Callable[[str, int, int | None], None]
ClientFactory = Callable[[str, str], ShopifyAdminClient]


def topic_enum(topic: str) -> str:
    """Shopify's GraphQL WebhookSubscriptionTopic: orders/create → ORDERS_CREATE."""
    return topic.replace("/", "_").upper()


def webhook_address(public_url: str) -> str:
    return public_url.rstrip("/") + WEBHOOK_PATH


@dataclass
class ConnectReport:
    ok: bool = True
    lines: list[str] = field(default_factory=list)
    subscriptions_created: int = 0
    subscriptions_kept: int = 0
    products_read: int = 0
    products_changed: int = 0
    orders_read: int = 0
    orders_changed: int = 0
    #: Orders Shopify has that relaydesk could not take (with the reason), by order name.
    orders_refused: dict[str, str] = field(default_factory=dict)
    #: The Admin API's actual query cost of the reads (points; the token check and the
    #: subscriptions add about 10 points each).
    api_cost: float = 0.0
    seconds: float = 0.0

    def fail(self, line: str) -> ConnectReport:
        self.ok = False
        self.lines.append(line)
        return self


def connect_shop(
    settings: Settings,
    database: Database,
    *,
    client_factory: ClientFactory = ShopifyAdminClient,
    progress: Progress = lambda _what, _done, _total: None,
    clock: Callable[[], datetime] = utc_now,
    subscribe: bool = True,
) -> ConnectReport:
    config = settings.shopify
    started = time.monotonic()
    check = check_connection(config, client_factory)
    report = ConnectReport(lines=list(check.lines))
    if not check.ok:
        report.ok = False
        return report
    with client_factory(config.admin_api_url, config.admin_token) as client:
        reader = ShopifyReader(client)
        sync = ShopifySync(PlatformSync(database, clock=clock), reader, clock=clock)
        try:
            if subscribe:
                _subscribe(client, reader, settings.public_url, report)
            backfill_from = clock()
            _backfill_products(reader, sync, report, progress)
            since = backfill_from - timedelta(days=config.backfill_days)
            _backfill_orders(reader, sync, since, report, progress)
            sync.platform_sync.set_state(PLATFORM, RECONCILE_MARK, backfill_from.isoformat())
        except ShopifyError as error:
            report.fail(f"Shopify stopped answering: {error}; re-run to continue (safe)")
        report.api_cost = reader.query_cost
        report.orders_refused.update(reader.refused)
    report.seconds = time.monotonic() - started
    report.lines.append(
        f"products: {report.products_read} variants read, {report.products_changed} new or "
        f"changed; orders since {config.backfill_days} days: {report.orders_read} read, "
        f"{report.orders_changed} new or changed"
        + (f", {len(report.orders_refused)} refused" if report.orders_refused else "")
    )
    for name, reason in list(report.orders_refused.items())[:10]:
        report.lines.append(f"  order {name} not taken: {reason}")
    report.lines.append(
        f"Admin API cost of the reads: {report.api_cost:.0f} points in {report.seconds:.1f} s"
    )
    return report


def _subscribe(
    client: ShopifyAdminClient, reader: ShopifyReader, public_url: str, report: ConnectReport
) -> None:
    address = webhook_address(public_url)
    if not address.startswith("https://"):
        report.fail(
            f"webhooks not registered: Shopify delivers only to https:// addresses, and "
            f"PUBLIC_URL gives {address} (set PUBLIC_URL to the public https address)"
        )
        return
    existing = {(s.topic, s.uri) for s in reader.webhook_subscriptions()}
    for topic in SUBSCRIBED_TOPICS:
        if (topic_enum(topic), address) in existing:
            report.subscriptions_kept += 1
            continue
        result = create_webhook_subscription(client, topic_enum(topic), address)
        if result.user_errors:
            words = "; ".join(error.message for error in result.user_errors)
            report.fail(f"webhook {topic}: Shopify said {words}")
        else:
            report.subscriptions_created += 1
    report.lines.append(
        f"webhooks to {address}: {report.subscriptions_created} registered, "
        f"{report.subscriptions_kept} already there"
    )


def _backfill_products(
    reader: ShopifyReader, sync: ShopifySync, report: ConnectReport, progress: Progress
) -> None:
    for mapped in reader.products():
        results = sync.platform_sync.apply_products(product_updates(mapped, read_now=True))
        report.products_read += len(results)
        report.products_changed += sum(1 for r in results if r.decision.apply)
        progress("products", report.products_read, None)


def _backfill_orders(
    reader: ShopifyReader,
    sync: ShopifySync,
    since: datetime,
    report: ConnectReport,
    progress: Progress,
) -> None:
    for outcome in reader.orders_created_since(since):
        report.orders_read += 1
        try:
            if sync.apply_orders([outcome]):
                report.orders_changed += 1
        except (ShopifyPayloadError, StoreExportError) as error:
            name = outcome.name or outcome.order.record.get("number", "?")
            report.orders_refused[str(name)] = str(error).splitlines()[0]
        progress("orders", report.orders_read, None)
