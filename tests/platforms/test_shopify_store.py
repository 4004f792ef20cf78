"""ShopifyStore: the shopper is told only about a fresh copy of an order, re-read from the Admin
API (the fake, over HTTP, through the real reader and sync) when the copy is too old, and
"cannot check right now" when Shopify cannot be asked."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.platforms.shopify.reader import ShopifyReader
from bot.platforms.shopify.store import ShopifyStore
from bot.platforms.shopify.sync import ShopifySync
from bot.store.database import Database
from bot.store.errors import StoreUnavailableError
from bot.store.platform_inbox import IncomingWebhook, PlatformInbox
from bot.store.platform_sync import PlatformSync
from bot.store.repository import StoreRepository
from tests.platforms.fake_shopify_api import FakeShopify

MAX_AGE = timedelta(minutes=5)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def parts(
    fake_shopify: FakeShopify, database: Database, clock: Clock
) -> Iterator[tuple[ShopifySync, ShopifyStore]]:
    client = fake_shopify.client(max_attempts=2, timeout=0.5)
    sync = ShopifySync(PlatformSync(database, clock=clock), ShopifyReader(client), clock=clock)
    store = ShopifyStore(
        StoreRepository(database), sync.platform_sync, sync, max_age=MAX_AGE, clock=clock
    )
    try:
        yield sync, store
    finally:
        client.close()


def reads(fake: FakeShopify) -> int:
    return len([c for c in fake.calls if c.outcome == "ok" and c.root in ("order", "orders")])


def test_a_fresh_copy_is_answered_without_asking_shopify(
    fake_shopify: FakeShopify, parts: tuple[ShopifySync, ShopifyStore], clock: Clock
) -> None:
    sync, store = parts
    sync.refresh_order(fake_shopify.add_order(20001).rsplit("/", 1)[-1])
    before = reads(fake_shopify)
    clock.now += MAX_AGE - timedelta(seconds=1)
    view = store.find_order("20001")
    assert view is not None and view.status == "paid"
    assert reads(fake_shopify) == before


def test_a_stale_copy_is_re_read_before_it_is_answered(
    fake_shopify: FakeShopify, parts: tuple[ShopifySync, ShopifyStore], clock: Clock
) -> None:
    sync, store = parts
    order = fake_shopify.add_order(20002)
    sync.refresh_order(order.rsplit("/", 1)[-1])
    fake_shopify.fulfil(order)  # and no webhook told relaydesk
    clock.now += MAX_AGE + timedelta(seconds=1)
    view = store.find_order("20002")
    assert view is not None and view.status == "shipped"
    assert view.shipments[0].tracking_number == "1Z999AA10123456784"


@pytest.mark.parametrize("fault", ["503", "stall"])
def test_shopify_unreachable_means_cannot_check_never_the_stale_copy(
    fake_shopify: FakeShopify,
    parts: tuple[ShopifySync, ShopifyStore],
    clock: Clock,
    fault: str,
) -> None:
    sync, store = parts
    sync.refresh_order(fake_shopify.add_order(20003).rsplit("/", 1)[-1])
    clock.now += MAX_AGE + timedelta(seconds=1)
    if fault == "503":
        fake_shopify.fail_next(5, status=503)
    else:
        fake_shopify.stall_next(5, seconds=1.5)
    with pytest.raises(StoreUnavailableError):
        store.find_order("20003")


def test_an_order_never_synced_is_looked_up_on_shopify(
    fake_shopify: FakeShopify, parts: tuple[ShopifySync, ShopifyStore]
) -> None:
    _, store = parts
    fake_shopify.add_order(20004)  # its orders/create webhook was lost
    view = store.find_order("20004")
    assert view is not None and view.number == "20004"
    assert store.find_order("29999") is None


def test_listed_orders_are_re_read_when_stale(
    fake_shopify: FakeShopify, parts: tuple[ShopifySync, ShopifyStore], clock: Clock
) -> None:
    sync, store = parts
    order = fake_shopify.add_order(20005)
    sync.refresh_order(order.rsplit("/", 1)[-1])
    view = store.find_order("20005")
    assert view is not None
    fake_shopify.fulfil(order)
    clock.now += MAX_AGE + timedelta(seconds=1)
    listed = store.orders_for_customer(view.customer.id)
    assert [o.status for o in listed] == ["shipped"]


def test_an_order_too_long_to_read_whole_is_not_presented(
    fake_shopify: FakeShopify, parts: tuple[ShopifySync, ShopifyStore]
) -> None:
    _, store = parts
    fake_shopify.add_long_order(20006, lines=1, parcels=50, returns=0)
    with pytest.raises(StoreUnavailableError):
        store.find_order("20006")


def test_an_order_deleted_on_shopify_is_not_answered_from_the_old_copy(
    fake_shopify: FakeShopify, parts: tuple[ShopifySync, ShopifyStore], clock: Clock
) -> None:
    sync, store = parts
    order = fake_shopify.add_order(20007)
    sync.refresh_order(order.rsplit("/", 1)[-1])
    del fake_shopify.orders[order]
    clock.now += MAX_AGE + timedelta(seconds=1)
    assert store.find_order("20007") is None


def test_a_copy_with_webhooks_waiting_behind_it_is_re_read(
    fake_shopify: FakeShopify, database: Database, clock: Clock
) -> None:
    client = fake_shopify.client(max_attempts=2, timeout=0.5)
    sync = ShopifySync(PlatformSync(database, clock=clock), ShopifyReader(client), clock=clock)
    inbox = PlatformInbox(database, clock=clock)
    store = ShopifyStore(
        StoreRepository(database), sync.platform_sync, sync, max_age=MAX_AGE, inbox=inbox,
        clock=clock,
    )  # fmt: skip
    order = fake_shopify.add_order(20008)
    sync.refresh_order(order.rsplit("/", 1)[-1])
    fake_shopify.fulfil(order)
    clock.now += timedelta(seconds=30)  # fresh by age, but a burst is being worked through
    inbox.accept(
        IncomingWebhook(
            platform="shopify", webhook_id="w-1", topic="orders/fulfilled",
            shop_domain="northwind.myshopify.com", api_version="2026-07",
            body=fake_shopify.webhook_body(order).decode(),
        )
    )  # fmt: skip
    view = store.find_order("20008")
    assert view is not None and view.status == "shipped"
    client.close()
