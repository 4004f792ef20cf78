"""What the store push tests share: push records made from the demo store's orders, a sender
that signs as docs/store-push-webhook.md says, and the intake served over HTTP (no Rasa, no
model). The tests at the bottom check the material itself: a sample push is valid, and its
order records are what the demo export says.

    with serve_push(database) as served:
        sender = PushSender()
        sender.delivery(push_body(order_record("10023"))).post(served.base_url)
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import requests
from rasa.core.channels.channel import UserMessage
from sqlalchemy import select

from bot.platforms.inbox_worker import InboxWorker
from bot.platforms.push.records import parse_body
from bot.platforms.push.signing import DELIVERY_HEADER, SIGNATURE_HEADER, signature_header
from bot.platforms.push.webhook_input import StorePushInput
from bot.settings import StorePushSettings
from bot.store.database import Database
from bot.store.export_validation import validate_export
from bot.store.platform_inbox import PlatformInbox
from bot.store.platform_models import PlatformWebhook
from channels.webchat.devserver import WebChatServer

ROOT = Path(__file__).resolve().parents[2]
DEMO_STORE = ROOT / "bot" / "store" / "demo_store.json"
PUSH_PATH = "/webhooks/store_push/webhook"
TEST_SECRET = "push-test-secret-0123456789abcdef"
JsonObject = dict[str, Any]


@cache
def _demo() -> JsonObject:
    return json.loads(DEMO_STORE.read_text(encoding="utf-8"))


def demo() -> JsonObject:
    """A copy of the demo export the caller may change."""
    return copy.deepcopy(_demo())


def order_record(
    number: str,
    updated_at: str = "2026-11-20T10:00:00Z",
    *,
    change: Callable[[JsonObject], None] | None = None,
    with_products: bool = True,
) -> JsonObject:
    """An order record for the demo order `number`: the order, its customer and its lines'
    products; `change` edits the export order in place first."""
    data = demo()
    order = next(order for order in data["orders"] if order["number"] == number)
    customer = next(c for c in data["customers"] if c["email"] == order["customer"])
    skus = {line["sku"] for line in order["lines"]}
    if change is not None:
        change(order)
    record: JsonObject = {
        "type": "order",
        "updated_at": updated_at,
        "order": order,
        "customer": customer,
    }
    if with_products:
        record["products"] = [p for p in data["products"] if p["sku"] in skus]
    return record


def product_record(
    sku: str, updated_at: str = "2026-11-20T10:00:00Z", **changes: Any
) -> JsonObject:
    product = next(p for p in demo()["products"] if p["sku"] == sku)
    return {"type": "product", "updated_at": updated_at, "product": {**product, **changes}}


def stock_record(
    sku: str, location: str, available: int, updated_at: str = "2026-11-20T10:00:00Z"
) -> JsonObject:
    return {
        "type": "stock",
        "sku": sku,
        "location": location,
        "available": available,
        "updated_at": updated_at,
    }


def push_body(*records: JsonObject) -> bytes:
    return json.dumps({"format_version": 1, "records": list(records)}).encode("utf-8")


@dataclass(frozen=True)
class PushDelivery:
    """One HTTP request as a shop's sender makes it."""

    body: bytes
    headers: dict[str, str]

    @property
    def delivery_id(self) -> str:
        return self.headers[DELIVERY_HEADER]

    def post(self, base_url: str, timeout: float = 30) -> requests.Response:
        return requests.post(base_url + PUSH_PATH, data=self.body, headers=self.headers,
                             timeout=timeout)  # fmt: skip

    def with_headers(self, changes: Mapping[str, str | None]) -> PushDelivery:
        """A copy with headers replaced, or removed where `changes` says None."""
        headers = {name: value for name, value in self.headers.items() if name not in changes}
        headers.update({name: value for name, value in changes.items() if value is not None})
        return replace(self, headers=headers)

    def with_body(self, body: bytes) -> PushDelivery:
        return replace(self, body=body)


@dataclass
class PushSender:
    """Signs pushes with `secrets` (two while rotating) at `clock()`'s time."""

    secrets: tuple[str, ...] = (TEST_SECRET,)
    clock: Callable[[], float] = time.time
    sent: list[PushDelivery] = field(default_factory=list)

    def delivery(
        self, body: bytes, *, delivery_id: str | None = None, timestamp: int | None = None
    ) -> PushDelivery:
        moment = int(self.clock()) if timestamp is None else timestamp
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(self.secrets, moment, body),
            DELIVERY_HEADER: delivery_id or str(uuid.uuid4()),
        }
        delivery = PushDelivery(body, headers)
        self.sent.append(delivery)
        return delivery


# ---------------------------------------------------------------------- the endpoint, served


@dataclass
class ServedPush:
    channel: StorePushInput
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


def push_settings(**changes: Any) -> StorePushSettings:
    return StorePushSettings(**{"secret": TEST_SECRET, **changes})


@contextmanager
def serve_push(
    database: Database,
    config: StorePushSettings | None = None,
    *,
    worker: InboxWorker | None = None,
) -> Iterator[ServedPush]:
    """The push intake over HTTP on a free local port, writing to `database` (migrated by the
    caller); with `worker`, the worker is started by the server as in Rasa."""
    handed_on: list[UserMessage] = []

    async def assistant(message: UserMessage) -> None:
        handed_on.append(message)

    channel = StorePushInput(config or push_settings(), PlatformInbox(database), worker=worker)
    server = WebChatServer(assistant, channel)  # mounts any InputChannel
    with server:
        yield ServedPush(channel, server, database, handed_on)


# ---------------------------------------------------------------------- the material, checked


def test_a_push_of_every_record_type_is_valid() -> None:
    body = json.loads(push_body(order_record("10023"), product_record("NW-GC-050"),
                                stock_record("NW-GC-050", "reno", 3)))  # fmt: skip
    kinds = [type(record).__name__ for record in parse_body(body).records]
    assert kinds == ["OrderRecord", "ProductRecord", "StockRecord"]


def test_an_order_record_is_the_demo_exports_order() -> None:
    record = order_record("10028")
    document = {
        "format_version": 1,
        "reference_date": "2026-11-20",
        "customers": [record["customer"]],
        "products": record["products"],
        "orders": [record["order"]],
    }
    assert validate_export(document) == []
    assert record["order"]["status"] == "partially_shipped"
    assert {p["sku"] for p in record["products"]} == {
        line["sku"] for line in record["order"]["lines"]
    }
