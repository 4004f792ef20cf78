"""Shopify connection benchmarks: the backfill of a large shop, and a burst of order webhooks.

Both run the real code against the local fake Admin API (tests/platforms/fake_shopify_api.py)
on a real clock (`WallClock`), so the real client's real sleeps are what refill its cost
bucket, and a scratch store (SQLite by default; `--postgres`: a scratch database on
127.0.0.1:5432, created and dropped).

backfill: `relaydesk connect shopify`'s code path (`connect_shop`: token check, webhook
  subscriptions to an https PUBLIC_URL, products, then every order of the window) over
  `--orders` orders. Reports wall time, orders/s, Admin API requests, requested and actual
  cost points, the seconds the client slept waiting on the throttle, and the rows in the
  store. `--bucket standard` (1000 points, 50/s restore: the fake's default, a standard plan),
  `plus` (10,000 points, 500/s: Shopify Plus), `both` (those two) or `unlimited` (no
  throttle: what the store side alone allows).

webhooks: the Shopify webhook endpoint (`ShopifyWebhookInput`, served on Sanic as Rasa mounts
  it, no model) with its inbox worker running (`runtime.inbox_worker`), and a burst of
  `--webhooks` signed deliveries (orders/create and orders/updated alternately, one per order
  of as many distinct orders in the fake, bodies from `fake.webhook_body`) from
  `--concurrency` senders. Reports ack p50/p95/p99/max (POST → 200), webhook → visible
  (the send time → the order's `order_seen` event's `recorded_at`; also → the first poll of
  the orders table that shows it), throughput, and exactly-once checks (every inbox row
  `done` after one attempt, one `order_seen` per order).

    .venv/bin/python bench/shopify_bench.py backfill [--orders 10000] [--bucket plus]
    .venv/bin/python bench/shopify_bench.py webhooks [--webhooks 1000] [--concurrency 20]
    .venv/bin/python bench/shopify_bench.py all --postgres --json results/bench/shopify.json

The fake answers on localhost: no network latency to Shopify is in these figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, select
from sqlalchemy.future import create_engine

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bot.platforms.inbox_worker import InboxWorker  # noqa: E402
from bot.platforms.shopify.admin_api import ShopifyAdminClient  # noqa: E402
from bot.platforms.shopify.connect import connect_shop  # noqa: E402
from bot.platforms.shopify.runtime import inbox_worker, shopify_parts  # noqa: E402
from bot.platforms.shopify.webhook_input import ShopifyWebhookInput  # noqa: E402
from bot.settings import Settings, ShopifySettings  # noqa: E402
from bot.store.database import Database  # noqa: E402
from bot.store.models import Customer, Order, OrderLine, Product, Shipment  # noqa: E402
from bot.store.platform_inbox import PlatformInbox  # noqa: E402
from bot.store.platform_models import OrderEventRow, PlatformRecord, PlatformWebhook  # noqa: E402
from bot.store.repository import StoreRepository  # noqa: E402
from channels.webchat.devserver import WebChatServer  # noqa: E402
from tests.platforms.fake_shopify_api import (  # noqa: E402
    ACCESS_TOKEN,
    SHOP_DOMAIN,
    FakeShopify,
    Line,
    WallClock,
)
from tests.platforms.shopify_webhooks import TEST_SECRET, TEST_SHOP, ShopifySender  # noqa: E402

POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"
PUBLIC_URL = "https://support.bench.example"
#: Shopify's bucket per app and shop: (maximum points, restore points per second).
#: "unlimited" takes the throttle out, to show what the store side alone allows.
BUCKETS = {
    "standard": (1000.0, 50.0),
    "plus": (10_000.0, 500.0),
    "unlimited": (1e9, 1e9),
}
#: Products of the fake shop; the orders' lines use the first few SKUs.
PRODUCTS = 20
ORDER_TOPICS = ("orders/create", "orders/updated")


def percentile(values: list[float], fraction: float) -> float:
    """Nearest rank (p99 of 1,000 samples is the 990th smallest; no interpolation)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def spread(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": round(percentile(values, 0.50), 1),
        "p95": round(percentile(values, 0.95), 1),
        "p99": round(percentile(values, 0.99), 1),
        "max": round(max(values), 1),
    }


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# --------------------------------------------------------------------------------- the stores


@contextmanager
def scratch_store(postgres: bool) -> Iterator[tuple[Database, str]]:
    """A migrated, empty store: a SQLite file in a temporary directory, or a scratch
    PostgreSQL database (dropped afterwards). Yields it and a label."""
    if not postgres:
        with tempfile.TemporaryDirectory(prefix="shopify-bench-") as workdir:
            database = Database(f"sqlite:///{Path(workdir) / 'store.db'}")
            database.migrate()
            try:
                yield database, "sqlite"
            finally:
                database.dispose()
        return
    admin = create_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    name = f"relaydesk_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    database = Database(f"{POSTGRES_SERVER}/{name}")
    try:
        database.migrate()
        yield database, "postgresql"
    finally:
        database.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def row_counts(database: Database) -> dict[str, int]:
    tables = {
        "orders": Order, "order_lines": OrderLine, "customers": Customer, "products": Product,
        "shipments": Shipment, "platform_records": PlatformRecord, "order_events": OrderEventRow,
        "platform_webhooks": PlatformWebhook,
    }  # fmt: skip
    with database.session() as session:
        return {
            name: session.execute(select(func.count()).select_from(model)).scalar_one()
            for name, model in tables.items()
        }


# ----------------------------------------------------------------------------------- the shop


def stock_shop(fake: FakeShopify, orders: int, *, first_number: int = 10_001) -> list[str]:
    """PRODUCTS products and `orders` orders (one a minute from 2026-11-01); one order in
    three fulfilled with tracking, so the backfill also maps shipments."""
    for number in range(1, PRODUCTS + 1):
        fake.add_product(number, f"Product {number}", [(f"SKU-{number:03}", "25.00", 50)])
    lines = [
        (Line("SKU-001", 1, "25.00", "Product 1", variant=None),),
        (Line("SKU-002", 2, "25.00", "Product 2"), Line("SKU-003", 1, "25.00", "Product 3")),
    ]
    start = datetime(2026, 11, 1, tzinfo=UTC)
    made = []
    for index in range(orders):  # add_orders, but each order with its own shopper
        at = (start + timedelta(minutes=index)).strftime("%Y-%m-%dT%H:%M:%SZ")
        number = first_number + index
        made.append(
            fake.add_order(
                number, created_at=at, updated_at=at, lines=lines[index % 2],
                email=f"shopper{number}@example.com",
            )
        )  # fmt: skip
    for order_gid in made[::3]:
        tracking = f"1ZBENCH{order_gid.rsplit('/', 1)[-1]:0>11}"
        url = f"https://www.ups.com/track?tracknum={tracking}"  # a parcel needs one
        fake.fulfil(order_gid, tracking=[("UPS", tracking, url)])
    return made


def shop_settings(fake: FakeShopify, database: Database, **shopify: Any) -> Settings:
    return Settings.from_env({}).replace(
        database_url=str(database.engine.url.render_as_string(hide_password=False)),
        public_url=PUBLIC_URL,
        shopify={
            "shop_domain": SHOP_DOMAIN, "admin_token": ACCESS_TOKEN,
            "webhook_secret": TEST_SECRET, "api_base_url": fake.base_url,
            "backfill_days": 365, **shopify,
        },
    )  # fmt: skip


class SleepLog:
    """The client's sleeps, taken for real and added up (its waits on the throttle)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.seconds += max(0.0, seconds)
            self.count += 1
        time.sleep(seconds)


# ----------------------------------------------------------------------------------- backfill


def run_backfill(orders: int, bucket: str, postgres: bool) -> dict[str, Any]:
    maximum, restore = BUCKETS[bucket]
    before = load()
    with FakeShopify(clock=WallClock()) as fake, scratch_store(postgres) as (database, backend):
        print(f"backfill: {orders} orders, {bucket} bucket ({maximum:g} points, "
              f"{restore:g}/s), {backend}; load before {before}", flush=True)  # fmt: skip
        stock_shop(fake, orders)
        fake.set_bucket(maximum=maximum, restore_rate=restore, available=maximum)
        sleeps = SleepLog()

        def client(url: str, token: str) -> ShopifyAdminClient:
            # The production client (default timeouts, retries and jitter) with its sleeps
            # counted; time.monotonic and real sleeps, as the fake's WallClock.
            return ShopifyAdminClient(url, token, sleep=sleeps)

        last = [0.0]

        def progress(what: str, done: int, _total: int | None) -> None:
            if what == "orders" and time.monotonic() - last[0] > 30:
                last[0] = time.monotonic()
                print(f"  ... {done} orders ({len(fake.calls)} requests, "
                      f"load {load()[0]})", flush=True)  # fmt: skip

        started = time.perf_counter()
        report = connect_shop(
            shop_settings(fake, database), database, client_factory=client, progress=progress
        )
        wall = time.perf_counter() - started
        after = load()
        calls = list(fake.calls)
        by_root: dict[str, int] = {}
        for call in calls:
            by_root[call.root or call.outcome] = by_root.get(call.root or call.outcome, 0) + 1
        order_calls = [c for c in calls if c.root == "orders" and c.outcome == "ok"]
        result = {
            "part": "backfill",
            "backend": backend,
            "bucket": {"name": bucket, "maximum": maximum, "restore_per_s": restore},
            "orders": orders,
            "ok": report.ok,
            "report_lines": report.lines,
            "wall_s": round(wall, 2),
            "orders_per_s": round(report.orders_read / wall, 1),
            "orders_read": report.orders_read,
            "orders_changed": report.orders_changed,
            "orders_refused": len(report.orders_refused),
            "products_read": report.products_read,
            "requests": len(calls),
            "requests_by_root": by_root,
            "throttled_answers": sum(1 for c in calls if c.outcome == "throttled"),
            "requested_cost": round(sum(c.requested_cost or 0 for c in calls), 1),
            "actual_cost": round(fake.cost_spent(), 1),
            "client_reported_cost": round(report.api_cost, 1),
            "orders_pages": len(order_calls),
            "orders_per_page": round(orders / max(1, len(order_calls)), 2),
            "actual_cost_per_order": round(
                sum(c.actual_cost or 0 for c in order_calls) / max(1, orders), 2
            ),
            "throttle_sleep_s": round(sleeps.seconds, 2),
            "throttle_sleeps": sleeps.count,
            "store_rows": row_counts(database),
            "load_before": before,
            "load_after": after,
        }
    print(
        f"  {result['wall_s']} s, {result['orders_per_s']} orders/s, {result['requests']} "
        f"requests ({result['throttled_answers']} throttled), cost requested "
        f"{result['requested_cost']:.0f} / actual {result['actual_cost']:.0f} points, "
        f"{result['throttle_sleep_s']} s asleep on the throttle; load after {after}",
        flush=True,
    )
    return result


# ----------------------------------------------------------------------------------- webhooks


@dataclass
class Sent:
    number: str
    topic: str
    sent_at: float  # time.time()
    ack_ms: float = 0.0
    status: int = 0
    answer: str = ""


class VisiblePoller:
    """Polls the orders table every `interval` s from its own thread; first time each order
    number shows up (time.time())."""

    def __init__(self, database: Database, interval: float = 0.02) -> None:
        self.first_seen: dict[str, float] = {}
        self._database = database
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="visible-poller", daemon=True)

    def __enter__(self) -> VisiblePoller:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._database.session() as session:
                numbers = session.execute(select(Order.number)).scalars().all()
            now = time.time()
            for number in numbers:
                self.first_seen.setdefault(str(number), now)
            self._stop.wait(self._interval)


async def send_burst(base_url: str, deliveries: list[tuple[Sent, Any]], concurrency: int) -> float:
    queue: asyncio.Queue[tuple[Sent, Any]] = asyncio.Queue()
    for item in deliveries:
        queue.put_nowait(item)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def sender() -> None:
            while not queue.empty():
                sent, delivery = queue.get_nowait()
                sent.sent_at = time.time()
                started = time.perf_counter()
                async with http.post(base_url + delivery.path, data=delivery.body,
                                     headers=delivery.headers) as response:  # fmt: skip
                    sent.answer = await response.text()
                    sent.ack_ms = (time.perf_counter() - started) * 1000
                    sent.status = response.status

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        return time.perf_counter() - started


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def run_webhooks(count: int, concurrency: int, postgres: bool) -> dict[str, Any]:
    before = load()
    with FakeShopify(clock=WallClock()) as fake, scratch_store(postgres) as (database, backend):
        print(f"webhooks: {count} signed order webhooks, {concurrency} concurrent senders, "
              f"{backend}; load before {before}", flush=True)  # fmt: skip
        made = stock_shop(fake, count, first_number=20_001)
        settings = shop_settings(fake, database, backfill_days=0)
        # The products, as `relaydesk connect shopify` leaves them (no order is that recent).
        setup = connect_shop(settings, database, subscribe=False)
        assert setup.ok and setup.orders_read == 0, setup.lines
        config = ShopifySettings(
            shop_domain=TEST_SHOP, admin_token=ACCESS_TOKEN, webhook_secret=TEST_SECRET,
            api_base_url=fake.base_url,
        )  # fmt: skip
        calls_before = len(fake.calls)
        workers: list[InboxWorker] = []

        def worker() -> InboxWorker:
            built = inbox_worker(shopify_parts(config, database), config, database)
            workers.append(built)
            return built

        sender = ShopifySender(secret=TEST_SECRET, shop_domain=TEST_SHOP)
        deliveries = []
        for index, order_gid in enumerate(made):
            topic = ORDER_TOPICS[index % 2]
            number = fake.order(order_gid)["name"].lstrip("#")
            delivery = sender.webhook(topic, fake.webhook_body(order_gid))
            deliveries.append((Sent(number, topic, 0.0), delivery))
        channel = ShopifyWebhookInput(config, PlatformInbox(database), worker)

        async def nobody(_message: Any) -> None:
            raise AssertionError("the Shopify intake handed a message to the assistant")

        with WebChatServer(nobody, channel) as server, VisiblePoller(database) as poller:
            # One warm-up delivery of an order outside the burst (first request of a process).
            warm = fake.add_order(99_999)
            sender.webhook("orders/create", fake.webhook_body(warm)).post(server.base_url)
            wait_until(lambda: "99999" in poller.first_seen, 30)
            burst_s = asyncio.run(send_burst(server.base_url, deliveries, concurrency))
            acked = time.time()
            inbox = PlatformInbox(database)

            def drained() -> bool:
                counts = inbox.counts("shopify")
                return sum(counts.values()) - counts.get("done", 0) - counts.get("failed", 0) == 0

            drained_in_time = wait_until(drained, 600)
            drained_at = time.time()
            wait_until(lambda: all(s.number in poller.first_seen for s, _ in deliveries), 5)
            for built in workers:
                built.stop()
        after = load()
        sent = [s for s, _ in deliveries]
        numbers = {s.number for s in sent}
        with database.session() as session:
            seen_rows = session.execute(
                select(OrderEventRow.order_number, OrderEventRow.recorded_at).where(
                    OrderEventRow.kind == "order_seen"
                )
            ).all()
            inbox_rows = session.execute(
                select(PlatformWebhook.status, PlatformWebhook.attempts, func.count())
                .group_by(PlatformWebhook.status, PlatformWebhook.attempts)
            ).all()  # fmt: skip
        seen_count: dict[str, int] = {}
        recorded: dict[str, float] = {}
        for number, at in seen_rows:
            seen_count[number] = seen_count.get(number, 0) + 1
            moment = at if at.tzinfo else at.replace(tzinfo=UTC)
            recorded[number] = moment.timestamp()
        store = StoreRepository(database)
        found = sum(1 for n in numbers if store.find_order(n) is not None)
        visible = [(recorded[s.number] - s.sent_at) * 1000 for s in sent if s.number in recorded]
        polled = [
            (poller.first_seen[s.number] - s.sent_at) * 1000
            for s in sent
            if s.number in poller.first_seen
        ]
        statuses: dict[str, int] = {}
        for s in sent:
            key = f"{s.status} {json.loads(s.answer).get('status', s.answer)[:20]}"
            statuses[key] = statuses.get(key, 0) + 1
        first_sent = min(s.sent_at for s in sent)
        last_recorded = max(recorded.values()) if recorded else drained_at
        admin_calls = fake.calls[calls_before:]
        result = {
            "part": "webhooks",
            "backend": backend,
            "webhooks": count,
            "concurrency": concurrency,
            "answers": statuses,
            "ack_ms": spread([s.ack_ms for s in sent]),
            "visible_ms_recorded_at": spread(visible) if visible else None,
            "visible_ms_polled": spread(polled) if polled else None,
            "poll_interval_ms": 20,
            "burst_send_s": round(burst_s, 2),
            "acks_per_s": round(count / burst_s, 1),
            "last_ack_to_last_visible_s": round(last_recorded - acked, 2),
            "first_send_to_last_visible_s": round(last_recorded - first_sent, 2),
            "processed_per_s": round(len(recorded) / (last_recorded - first_sent), 1),
            "drained": drained_in_time,
            "inbox_rows": {
                f"{status} attempts={attempts}": n for status, attempts, n in inbox_rows
            },
            "orders_with_one_order_seen": sum(1 for n in numbers if seen_count.get(n) == 1),
            "orders_with_several_order_seen": sum(1 for n in numbers if seen_count.get(n, 0) > 1),
            "orders_found_by_store": found,
            "admin_api_calls_during_burst": len(admin_calls),
            "store_rows": row_counts(database),
            "load_before": before,
            "load_after": after,
        }
    exactly_once = (
        result["inbox_rows"] == {"done attempts=1": count + 1}
        and result["orders_with_one_order_seen"] == count
        and result["orders_found_by_store"] == count
    )
    result["exactly_once"] = exactly_once
    ack, vis = result["ack_ms"], result["visible_ms_recorded_at"] or {}
    print(
        f"  ack p50 {ack['p50']} p95 {ack['p95']} p99 {ack['p99']} max {ack['max']} ms; "
        f"visible p50 {vis.get('p50')} p99 {vis.get('p99')} max {vis.get('max')} ms; "
        f"{result['acks_per_s']} acks/s, {result['processed_per_s']} processed/s; "
        f"exactly once: {exactly_once}; load after {after}",
        flush=True,
    )
    return result


# ------------------------------------------------------------------------------------- output


def table(results: list[dict[str, Any]]) -> str:
    rows = []
    for r in results:
        if r["part"] == "backfill":
            rows.append(
                f"| backfill {r['orders']} orders | {r['backend']} | {r['bucket']['name']} "
                f"({r['bucket']['maximum']:g} pts, {r['bucket']['restore_per_s']:g}/s) | "
                f"{r['wall_s']} s, {r['orders_per_s']} orders/s | {r['requests']} requests, "
                f"{r['throttled_answers']} throttled | requested {r['requested_cost']:.0f}, "
                f"actual {r['actual_cost']:.0f} pts | {r['throttle_sleep_s']} s throttle sleep "
                f"| {r['store_rows']['orders']} orders, {r['store_rows']['shipments']} parcels, "
                f"{r['store_rows']['platform_records']} "
                f"records | {r['load_before'][0]} → {r['load_after'][0]} |"
            )
        else:
            a, v = r["ack_ms"], r["visible_ms_recorded_at"] or {}
            rows.append(
                f"| webhooks {r['webhooks']} x {r['concurrency']} senders | {r['backend']} | "
                f"ack p50 {a['p50']} / p95 {a['p95']} / p99 {a['p99']} / max {a['max']} ms | "
                f"visible p50 {v.get('p50')} / p99 {v.get('p99')} / max {v.get('max')} ms | "
                f"{r['acks_per_s']} acks/s, {r['processed_per_s']} processed/s | exactly once "
                f"{r['exactly_once']} | | | {r['load_before'][0]} → {r['load_after'][0]} |"
            )
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", choices=("backfill", "webhooks", "all"))
    parser.add_argument("--orders", type=int, default=10_000, help="backfill: orders in the shop")
    parser.add_argument(
        "--bucket", choices=(*BUCKETS, "both"), default="plus",
        help="standard at 10,000 orders takes ~4.5 h (throttle-bound); plus ~27 min",
    )  # fmt: skip
    parser.add_argument("--webhooks", type=int, default=1000, help="burst: one per order")
    parser.add_argument("--concurrency", type=int, default=20, help="burst: concurrent senders")
    parser.add_argument("--postgres", action="store_true", help=f"store on {POSTGRES_SERVER}")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()

    started = datetime.now(UTC)
    results = []
    if args.part in ("backfill", "all"):
        for bucket in ("standard", "plus") if args.bucket == "both" else (args.bucket,):
            results.append(run_backfill(args.orders, bucket, args.postgres))
    if args.part in ("webhooks", "all"):
        results.append(run_webhooks(args.webhooks, args.concurrency, args.postgres))
    print()
    print(f"{started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load (1/5/15 min) now {load()}")
    print(table(results))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        document = {"started": started.isoformat(), "cpus": os.cpu_count(), "results": results}
        args.json.write_text(json.dumps(document, indent=2) + "\n")
        print(f"written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
