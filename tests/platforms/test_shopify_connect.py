"""`relaydesk connect shopify` against the fake Admin API over HTTP: token check, webhook
subscriptions, backfill of products and recent orders, and a re-run that changes nothing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.platforms.shopify.connect import connect_shop, topic_enum
from bot.platforms.shopify.sync import RECONCILE_MARK, SUBSCRIBED_TOPICS
from bot.settings import Settings
from bot.store.database import Database
from bot.store.models import Order, Product
from bot.store.platform_sync import PlatformSync
from bot.store.repository import StoreRepository
from tests.platforms.fake_shopify_api import (
    ACCESS_TOKEN,
    SHOP_DOMAIN,
    FakeShopify,
    Line,
    WallClock,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PUBLIC = "https://support.northwind.example"


def settings_for(fake: FakeShopify, **shopify: Any) -> Settings:
    return Settings.from_env({}).replace(
        public_url=PUBLIC,
        shopify={
            "shop_domain": SHOP_DOMAIN, "admin_token": ACCESS_TOKEN,
            "webhook_secret": "shpss_secret", "api_base_url": fake.base_url,
            "backfill_days": 30, **shopify,
        },
    )  # fmt: skip


def client_of(fake: FakeShopify) -> Any:
    return lambda _url, _token: fake.client()


def stamp(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def shop_with_orders(fake: FakeShopify) -> None:
    fake.add_product(1, "Merino Tee", [("TEE-M", "40.00", 7), ("TEE-L", "40.00", 3)],
                     product_type="tops")  # fmt: skip
    fake.add_order(30001, created_at=stamp(2), updated_at=stamp(1),
                   lines=[Line("TEE-M", 1, "40.00", "Merino Tee - M")])  # fmt: skip
    shipped = fake.add_order(30002, created_at=stamp(10), updated_at=stamp(9))
    fake.fulfil(shipped)
    fake.add_order(30003, created_at=stamp(45), updated_at=stamp(44))  # outside the window


def test_connect_registers_webhooks_and_backfills(
    fake_shopify: FakeShopify, database: Database
) -> None:
    shop_with_orders(fake_shopify)
    seen: list[tuple[str, int]] = []
    report = connect_shop(
        settings_for(fake_shopify), database, client_factory=client_of(fake_shopify),
        progress=lambda what, done, _total: seen.append((what, done)), clock=lambda: NOW,
    )  # fmt: skip
    assert report.ok, report.lines
    assert report.subscriptions_created == len(SUBSCRIBED_TOPICS)
    topics = {(s["topic"], s["uri"]) for s in fake_shopify.webhook_subscriptions}
    assert (topic_enum("orders/updated"), f"{PUBLIC}/webhooks/shopify/webhook") in topics
    assert (report.orders_read, report.orders_changed) == (2, 2)
    store = StoreRepository(database)
    assert store.find_order("30003") is None
    shipped = store.find_order("30002")
    assert shipped is not None and shipped.status == "shipped"
    assert shipped.shipments[0].tracking_number == "1Z999AA10123456784"
    with database.session() as session:
        stock = dict(session.execute(select(Product.sku, Product.stock)).all())
    assert stock["TEE-M"] == 7 and stock["TEE-L"] == 3  # the order did not reset the stock
    assert ("orders", 2) in seen and report.api_cost > 0
    assert PlatformSync(database).state("shopify", RECONCILE_MARK) == NOW.isoformat()
    assert any("Admin API cost" in line for line in report.lines)


def test_re_running_connect_is_safe(fake_shopify: FakeShopify, database: Database) -> None:
    shop_with_orders(fake_shopify)
    settings = settings_for(fake_shopify)
    connect_shop(settings, database, client_factory=client_of(fake_shopify), clock=lambda: NOW)
    again = connect_shop(
        settings, database, client_factory=client_of(fake_shopify), clock=lambda: NOW
    )
    assert again.ok, again.lines
    assert (again.subscriptions_created, again.subscriptions_kept) == (0, len(SUBSCRIBED_TOPICS))
    assert (again.orders_read, again.orders_changed, again.products_changed) == (2, 0, 0)
    assert len(fake_shopify.webhook_subscriptions) == len(SUBSCRIBED_TOPICS)
    with database.session() as session:
        assert session.execute(select(func.count(Order.id))).scalar_one() == 2


def test_a_public_url_without_https_is_refused_for_webhooks(
    fake_shopify: FakeShopify, database: Database
) -> None:
    settings = settings_for(fake_shopify).replace(public_url="http://localhost:5005")
    report = connect_shop(
        settings, database, client_factory=client_of(fake_shopify), clock=lambda: NOW
    )
    assert not report.ok
    assert any("https://" in line and "PUBLIC_URL" in line for line in report.lines)
    assert fake_shopify.webhook_subscriptions == []


def test_a_wrong_token_stops_before_anything_is_written(
    fake_shopify: FakeShopify, database: Database
) -> None:
    shop_with_orders(fake_shopify)
    settings = settings_for(fake_shopify, admin_token="shpat_wrong")
    report = connect_shop(
        settings,
        database,
        client_factory=lambda url, token: fake_shopify.client(access_token=token),
    )
    assert not report.ok and "refused the token" in report.lines[0]
    assert StoreRepository(database).is_empty()


def test_shopify_failing_mid_backfill_says_re_run(
    fake_shopify: FakeShopify, database: Database
) -> None:
    shop_with_orders(fake_shopify)
    original = fake_shopify.handle
    answered = 0

    def flaky(token: str | None, raw: bytes) -> Any:
        nonlocal answered
        answered += 1
        if answered > 4:  # the check, subscriptions list, a few creations...
            fake_shopify.fail_next(10, status=503)
        return original(token, raw)

    fake_shopify.handle = flaky  # type: ignore[method-assign]
    report = connect_shop(
        settings_for(fake_shopify), database,
        client_factory=lambda _u, _t: fake_shopify.client(max_attempts=2), clock=lambda: NOW,
    )  # fmt: skip
    assert not report.ok
    assert any("re-run" in line for line in report.lines)


@pytest.fixture
def wall_clock_shop() -> Iterator[FakeShopify]:
    with FakeShopify(clock=WallClock()) as fake:
        yield fake


def test_the_cli_command_runs(wall_clock_shop: FakeShopify, tmp_path: Path) -> None:
    fake_shopify = wall_clock_shop
    shop_with_orders(fake_shopify)
    env = {
        "PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "PUBLIC_URL": PUBLIC, "SHOPIFY_SHOP_DOMAIN": SHOP_DOMAIN,
        "SHOPIFY_ADMIN_TOKEN": ACCESS_TOKEN, "SHOPIFY_WEBHOOK_SECRET": "shpss_secret",
        "SHOPIFY_API_BASE_URL": fake_shopify.base_url,
    }  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "connect", "shopify", "--days", "400"],
        env=env, capture_output=True, text=True, timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "orders since 400 days: 3 read, 3 new or changed" in done.stdout
    assert f"{len(SUBSCRIBED_TOPICS)} registered" in done.stdout


def test_an_order_relaydesk_cannot_take_is_listed_and_the_rest_are_loaded(
    fake_shopify: FakeShopify, database: Database
) -> None:
    shop_with_orders(fake_shopify)
    # 50 parcels: Shopify's fulfilments list has no pageInfo, so no more can be read.
    order = fake_shopify.add_long_order(30009, lines=1, parcels=50, returns=0)
    fake_shopify.orders[order]["createdAt"] = stamp(3)
    report = connect_shop(
        settings_for(fake_shopify), database, client_factory=client_of(fake_shopify),
        clock=lambda: NOW,
    )  # fmt: skip
    assert report.ok, report.lines
    assert list(report.orders_refused) == ["#30009"]
    assert any("order #30009 not taken" in line for line in report.lines)
    assert StoreRepository(database).find_order("30002") is not None
    assert PlatformSync(database).state("shopify", RECONCILE_MARK) == NOW.isoformat()
