"""Sends webhooks the way Shopify does, for tests: the raw body signed with the app's secret
(X-Shopify-Hmac-Sha256), and the delivery headers of Shopify's webhooks reference
(../shared/fixtures/shopify/webhook_headers.md).

    with serve_intake(database) as intake:                    # the endpoint, over HTTP
        sender = ShopifySender()                              # its secret and shop
        sender.sample("orders_create").post(intake.base_url)  # Shopify's documented sample
        sender.webhook("orders/updated", body).post(intake.base_url)

The samples are Shopify's own (../shared/fixtures/shopify/webhooks/*.json), sent byte for
byte as the files hold them; they are read from there, never copied into this repository.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from rasa.core.channels.channel import UserMessage
from sqlalchemy import select

from bot.platforms.shopify.webhook_auth import (
    API_VERSION_HEADER,
    EVENT_ID_HEADER,
    HMAC_HEADER,
    SHOP_HEADER,
    TOPIC_HEADER,
    TRIGGERED_AT_HEADER,
    WEBHOOK_ID_HEADER,
    signature,
)
from bot.platforms.shopify.webhook_input import ShopifyWebhookInput
from bot.settings import ShopifySettings
from bot.store.database import Database
from bot.store.platform_inbox import PlatformInbox
from bot.store.platform_models import PlatformWebhook
from channels.webchat.devserver import WebChatServer

SHOPIFY_FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "shopify"
WEBHOOK_SAMPLES = SHOPIFY_FIXTURES / "webhooks"
HMAC_VECTOR = SHOPIFY_FIXTURES / "hmac" / "hmac_vector.json"
HMAC_VECTOR_BODY = SHOPIFY_FIXTURES / "hmac" / "hmac_vector.body.bin"
#: Sample name (the file is webhook_<name>.json) → the topic Shopify sends it under.
SAMPLE_TOPICS = {
    "orders_create": "orders/create",
    "fulfillments_update": "fulfillments/update",
    "refunds_create": "refunds/create",
    "inventory_levels_update": "inventory_levels/update",
    "checkouts_create": "checkouts/create",
    "returns_request": "returns/request",
}
WEBHOOK_PATH = "/webhooks/shopify/webhook"
TEST_SECRET = "shpss_test_webhook_secret"
TEST_SHOP = "relaydesk-test.myshopify.com"


def sample_body(name: str) -> bytes:
    """The raw bytes of Shopify's sample payload `name` (a key of SAMPLE_TOPICS)."""
    return (WEBHOOK_SAMPLES / f"webhook_{name}.json").read_bytes()


def hmac_vector() -> tuple[dict[str, Any], bytes]:
    """shopify-app-js's test vector: its description, and the exact body bytes."""
    return json.loads(HMAC_VECTOR.read_text(encoding="utf-8")), HMAC_VECTOR_BODY.read_bytes()


@dataclass(frozen=True)
class ShopifyDelivery:
    """One HTTP request as Shopify makes it."""

    body: bytes
    headers: dict[str, str]
    path: str = WEBHOOK_PATH

    @property
    def webhook_id(self) -> str:
        return self.headers[WEBHOOK_ID_HEADER]

    def post(self, base_url: str, timeout: float = 15) -> requests.Response:
        return requests.post(
            base_url + self.path, data=self.body, headers=self.headers, timeout=timeout
        )

    def with_headers(self, changes: Mapping[str, str | None]) -> ShopifyDelivery:
        """A copy with headers replaced, or removed where `changes` says None."""
        headers = {name: value for name, value in self.headers.items() if name not in changes}
        headers.update({name: value for name, value in changes.items() if value is not None})
        return replace(self, headers=headers)

    def with_body(self, body: bytes) -> ShopifyDelivery:
        """The same headers (signature included) with another body: a tampered delivery."""
        return replace(self, body=body)

    def redelivered(self) -> ShopifyDelivery:
        """Shopify's retry of this delivery: everything the same, the same webhook id."""
        return replace(self, headers=dict(self.headers))


@dataclass
class ShopifySender:
    """Signs and addresses webhooks as Shopify does for one shop's app."""

    secret: str = TEST_SECRET
    shop_domain: str = TEST_SHOP
    api_version: str = "2026-07"
    sent: list[ShopifyDelivery] = field(default_factory=list)

    def webhook(
        self,
        topic: str,
        body: bytes,
        *,
        webhook_id: str | None = None,
        event_id: str | None = None,
        triggered_at: datetime | None = None,
    ) -> ShopifyDelivery:
        moment = triggered_at or datetime.now(UTC)
        headers = {
            "Content-Type": "application/json",
            TOPIC_HEADER: topic,
            HMAC_HEADER: signature(self.secret, body),
            SHOP_HEADER: self.shop_domain,
            API_VERSION_HEADER: self.api_version,
            WEBHOOK_ID_HEADER: webhook_id or str(uuid.uuid4()),
            # Shopify's format: "2025-07-10T16:15:47.000000Z".
            TRIGGERED_AT_HEADER: moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            EVENT_ID_HEADER: event_id or str(uuid.uuid4()),
        }
        delivery = ShopifyDelivery(body, headers)
        self.sent.append(delivery)
        return delivery

    def sample(self, name: str, **options: Any) -> ShopifyDelivery:
        """Shopify's documented sample `name` (SAMPLE_TOPICS), as Shopify would send it."""
        return self.webhook(SAMPLE_TOPICS[name], sample_body(name), **options)


# ---------------------------------------------------------------------- the endpoint, served


@dataclass
class ServedIntake:
    """`ShopifyWebhookInput` on a real Sanic server, mounted where Rasa mounts it."""

    channel: ShopifyWebhookInput
    server: WebChatServer
    database: Database
    #: What the channel handed to the assistant: must stay empty.
    handed_on: list[UserMessage]

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def rows(self) -> list[PlatformWebhook]:
        with self.database.session() as session:
            query = select(PlatformWebhook).order_by(PlatformWebhook.id)
            return list(session.execute(query).scalars())


def intake_settings(**changes: str) -> ShopifySettings:
    values = {"webhook_secret": TEST_SECRET, "shop_domain": TEST_SHOP, **changes}
    return ShopifySettings(**values)


@contextmanager
def serve_intake(
    database: Database, config: ShopifySettings | None = None
) -> Iterator[ServedIntake]:
    """The intake over HTTP on a free local port (no Rasa, no trained model), writing to
    `database` (migrated by the caller)."""
    handed_on: list[UserMessage] = []

    async def assistant(message: UserMessage) -> None:
        handed_on.append(message)

    channel = ShopifyWebhookInput(config or intake_settings(), PlatformInbox(database))
    server = WebChatServer(assistant, channel)  # mounts any InputChannel
    with server:
        yield ServedIntake(channel, server, database, handed_on)
