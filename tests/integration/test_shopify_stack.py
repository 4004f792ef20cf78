"""The Shopify connection end to end: a running stack (Rasa with the Shopify webhook endpoint
and its inbox worker, the action server reading and writing through Shopify, the bridge) whose
shop is the fake Admin API (tests/platforms/fake_shopify_api.py), with webhooks signed as
Shopify signs them (tests/platforms/shopify_webhooks.py).

The stack answers from its synced copy for an hour (SHOPIFY_ORDER_MAX_AGE_SECONDS=3600), so
what a shopper hears here came by webhook or by the reconciliation (every 2 s), not by the
re-read before answering; tests/platforms/test_shopify_store.py covers that re-read.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from bot.settings import Settings
from bot.store.database import Database
from bot.store.platform_sync import PlatformSync
from bot.store.repository import StoreRepository
from tests.conftest import SLACK_AGENTS, RunningStack, free_port, running_stack
from tests.handoff.fake_slack import FakeSlack
from tests.integration.conversation import texts
from tests.platforms.fake_shopify_api import ACCESS_TOKEN, SHOP_DOMAIN, FakeShopify, WallClock
from tests.platforms.shopify_webhooks import WEBHOOK_PATH, ShopifySender

pytestmark = pytest.mark.integration

SECRET = "shpss_stack_webhook_secret"
EMAIL = "shopper@example.com"


@pytest.fixture(scope="module")
def shop() -> Iterator[FakeShopify]:
    with FakeShopify(clock=WallClock()) as fake:
        yield fake


@pytest.fixture(scope="module")
def shopify_stack(
    trained_model: Path,
    tmp_path_factory: pytest.TempPathFactory,
    fake_slack: FakeSlack,
    json_api_secret: str,
    shop: FakeShopify,
) -> Iterator[RunningStack]:
    workdir = tmp_path_factory.mktemp("shopify-stack")
    rasa_port = free_port()
    settings = Settings.from_env({}).replace(
        database_url=f"sqlite:///{workdir / 'store.db'}",
        tracker_db_path=workdir / "tracker.db",
        rasa_port=rasa_port,
        action_port=free_port(),
        bridge_port=free_port(),
        rasa_token=uuid.uuid4().hex,
        json_api={"secret": json_api_secret},
        public_url=f"http://127.0.0.1:{rasa_port}",
        shopify={
            "shop_domain": SHOP_DOMAIN,
            "admin_token": ACCESS_TOKEN,
            "webhook_secret": SECRET,
            "api_base_url": shop.base_url,
            "order_max_age_seconds": 3600.0,
            "reconcile_interval_seconds": 2.0,
        },
    )
    settings = fake_slack.configure(settings, workdir, agents=frozenset(SLACK_AGENTS))
    with running_stack(settings, workdir) as stack:
        yield stack


@pytest.fixture
def sender() -> ShopifySender:
    return ShopifySender(secret=SECRET, shop_domain=SHOP_DOMAIN)


@pytest.fixture
def number() -> Iterator[int]:
    yield _numbers.pop()


# Each test its own order; "#1xxx" numbers exercise the 4-digit form Shopify starts with.
_numbers = list(range(1001, 1100))


def deliver(stack: RunningStack, sender: ShopifySender, topic: str, body: bytes) -> dict:
    response = sender.webhook(topic, body).post(stack.rasa_url)
    assert response.status_code == 200, response.text
    return dict(response.json())


def eventually(check: Callable[[], object], timeout: float = 20.0) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {check.__doc__ or check}")
        time.sleep(0.1)


def stored_status(stack: RunningStack, number: int) -> str | None:
    database = Database(stack.settings.database_url)
    try:
        view = StoreRepository(database).find_order(str(number))
        return None if view is None else str(view.status)
    finally:
        database.dispose()


def recorded_events(stack: RunningStack, number: int) -> list[tuple[str, str]]:
    database = Database(stack.settings.database_url)
    try:
        events = PlatformSync(database).events(order_number=str(number))
        return [(str(e.event.kind), e.event.after) for e in events]
    finally:
        database.dispose()


def ask_status(stack: RunningStack, who: str, number: int) -> str:
    stack.say(who, f"where is my order #{number}")
    return texts(stack.say(who, EMAIL))


def test_an_order_created_in_the_shop_arrives_by_webhook_and_the_shopper_gets_its_status(
    shopify_stack: RunningStack, shop: FakeShopify, sender: ShopifySender, number: int
) -> None:
    order = shop.add_order(number, updated_at=_now())
    assert deliver(shopify_stack, sender, "orders/create", shop.webhook_body(order)) == {
        "status": "accepted"
    }
    eventually(lambda: stored_status(shopify_stack, number) == "paid")
    reply = ask_status(shopify_stack, f"shopper-{uuid.uuid4().hex[:8]}", number)
    assert f"#{number}" in reply and "being prepared" in reply, reply
    assert recorded_events(shopify_stack, number) == [("order_seen", "paid")]


def test_the_shopper_cancels_once_on_shopify_and_the_webhook_confirms_it(
    shopify_stack: RunningStack, shop: FakeShopify, sender: ShopifySender, number: int
) -> None:
    order = shop.add_order(number, updated_at=_now())
    deliver(shopify_stack, sender, "orders/create", shop.webhook_body(order))
    eventually(lambda: stored_status(shopify_stack, number) == "paid")
    who = f"shopper-{uuid.uuid4().hex[:8]}"
    shopify_stack.say(who, f"I want to cancel my order #{number}")
    question = texts(shopify_stack.say(who, EMAIL))
    assert "Shall I cancel it?" in question, question
    done = texts(shopify_stack.say(who, "yes"))
    assert "is cancelled" in done, done
    cancels = [c for c in shop.calls_to("orderCancel") if c.outcome == "ok"]
    assert len(cancels) == 1
    # Shopify's orders/cancelled webhook arrives (and arrives twice).
    body = shop.webhook_body(order)
    deliver(shopify_stack, sender, "orders/cancelled", body)
    deliver(shopify_stack, sender, "orders/cancelled", body)
    eventually(lambda: stored_status(shopify_stack, number) == "cancelled")
    # A second attempt, in another conversation: already cancelled, nothing sent to Shopify.
    other = f"shopper-{uuid.uuid4().hex[:8]}"
    shopify_stack.say(other, f"cancel my order #{number}")
    again = texts(shopify_stack.say(other, EMAIL))
    assert "already cancelled" in again, again
    assert len([c for c in shop.calls_to("orderCancel") if c.outcome == "ok"]) == 1
    assert ("order_status_changed", "cancelled") in recorded_events(shopify_stack, number)


def test_forged_and_replayed_webhooks_change_nothing(
    shopify_stack: RunningStack, shop: FakeShopify, sender: ShopifySender, number: int
) -> None:
    order = shop.add_order(number, updated_at=_now())
    delivery = sender.webhook("orders/create", shop.webhook_body(order))
    assert delivery.post(shopify_stack.rasa_url).json() == {"status": "accepted"}
    eventually(lambda: stored_status(shopify_stack, number) == "paid")
    # Someone without the secret claims the order was cancelled.
    claim = json.loads(shop.webhook_body(order))
    claim.update(cancelled_at=_now(), financial_status="refunded", updated_at=_later())
    forged = ShopifySender(secret="not-the-secret", shop_domain=SHOP_DOMAIN)
    refused = forged.webhook("orders/cancelled", json.dumps(claim).encode())
    assert refused.post(shopify_stack.rasa_url).status_code == 401
    # A captured genuine delivery sent again under a new webhook id.
    replayed = delivery.with_headers({"X-Shopify-Webhook-Id": str(uuid.uuid4())})
    assert replayed.post(shopify_stack.rasa_url).json() == {"status": "duplicate"}
    time.sleep(1.5)
    assert stored_status(shopify_stack, number) == "paid"
    assert recorded_events(shopify_stack, number) == [("order_seen", "paid")]


def test_a_lost_webhook_is_repaired_by_the_reconciliation(
    shopify_stack: RunningStack, shop: FakeShopify, sender: ShopifySender, number: int
) -> None:
    order = shop.add_order(number, updated_at=_now())
    deliver(shopify_stack, sender, "orders/create", shop.webhook_body(order))
    eventually(lambda: stored_status(shopify_stack, number) == "paid")
    shop.fulfil(order)  # the fulfilments/create and orders/updated webhooks are lost
    eventually(lambda: stored_status(shopify_stack, number) == "shipped", timeout=30)
    reply = ask_status(shopify_stack, f"shopper-{uuid.uuid4().hex[:8]}", number)
    assert "1Z999AA10123456784" in reply, reply


def test_the_same_update_twice_or_out_of_order_leaves_the_newer_state(
    shopify_stack: RunningStack, shop: FakeShopify, sender: ShopifySender, number: int
) -> None:
    order = shop.add_order(number, updated_at=_now())
    created = shop.webhook_body(order)
    shop.fulfil(order)
    fulfilled = shop.webhook_body(order)
    deliver(shopify_stack, sender, "orders/fulfilled", fulfilled)
    deliver(shopify_stack, sender, "orders/fulfilled", fulfilled)
    deliver(shopify_stack, sender, "orders/create", created)  # delivered late
    eventually(lambda: stored_status(shopify_stack, number) == "shipped")
    time.sleep(1.5)  # the late one has been worked too
    assert stored_status(shopify_stack, number) == "shipped"
    events = recorded_events(shopify_stack, number)
    assert [kind for kind, _ in events].count("order_seen") == 1
    assert ("order_status_changed", "paid") not in events  # never went back


def test_the_webhook_endpoint_is_where_the_readme_says(shopify_stack: RunningStack) -> None:
    health = requests.get(f"{shopify_stack.rasa_url}/webhooks/shopify/", timeout=10)
    assert health.json() == {"status": "ok"}
    assert WEBHOOK_PATH == "/webhooks/shopify/webhook"


def _later() -> str:
    return (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now() -> str:
    # Shopify's updated_at: now, to the second (the reconciliation asks for recent changes).
    return (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_carrier_delay_becomes_an_event_and_the_shopper_hears_it(
    shopify_stack: RunningStack, shop: FakeShopify, sender: ShopifySender, number: int
) -> None:
    order = shop.add_order(number, updated_at=_now())
    fulfilment = shop.fulfil(order)
    shop.set_fulfillment_status(order, "IN_TRANSIT")
    deliver(shopify_stack, sender, "orders/fulfilled", shop.webhook_body(order))
    eventually(lambda: stored_status(shopify_stack, number) == "shipped")
    shop.set_fulfillment_status(order, "DELAYED", message="Weather delay at the hub")
    # fulfillments/update names only the order: relaydesk re-reads it from the Admin API.
    body = {"id": int(fulfilment.rsplit("/", 1)[-1]), "order_id": int(order.rsplit("/", 1)[-1]),
            "status": "success", "shipment_status": "delayed", "updated_at": _now()}  # fmt: skip
    deliver(shopify_stack, sender, "fulfillments/update", json.dumps(body).encode())
    eventually(
        lambda: ("shipment_status_changed", "delayed") in recorded_events(shopify_stack, number)
    )
    reply = ask_status(shopify_stack, f"shopper-{uuid.uuid4().hex[:8]}", number)
    assert "delayed" in reply, reply
