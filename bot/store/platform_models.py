"""ORM models of what relaydesk keeps about store platforms (Shopify first, docs/shopify.md).

`PlatformWebhook`: the inbox, every verified webhook kept before it is acknowledged and worked
afterwards, at least once; read and written only by `bot.store.platform_inbox` (migration
0007_platform_webhooks). The synced-record tables (id map and versions, stock levels, sync
state, write commands, order events) are read and written by `bot.store.platform_sync` and
`bot.store.platform_commands` (migration 0008_platform_sync). All share `Base` (naming
convention, Alembic history) with the shop models.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Column, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped

from bot.store.column_types import UTCDateTime, vocabulary
from bot.store.models import Base


class WebhookStatus(StrEnum):
    #: Stored and acknowledged; waiting for the processor (also after a retryable failure).
    PENDING = "pending"
    #: Claimed by a processor; taken back by another after the lease ran out (a crash).
    PROCESSING = "processing"
    DONE = "done"
    #: Given up on; `last_error` says why. Not retried automatically.
    FAILED = "failed"


class PlatformWebhook(Base):
    """One webhook delivery, exactly as signed. The unique keys make redeliveries harmless."""

    __tablename__ = "platform_webhooks"
    __table_args__ = (
        # Shopify repeats X-Shopify-Webhook-Id when it retries a delivery.
        UniqueConstraint("platform", "webhook_id"),
        # Only the body is signed: a captured delivery replayed under a made-up webhook id is
        # still the same signed body, and stored once.
        UniqueConstraint("platform", "body_sha256"),
        # The processor's query: the oldest claimable row of a platform.
        Index("ix_platform_webhooks_platform_status", "platform", "status"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    #: "shopify".
    platform: Mapped[str] = Column(String(32), nullable=False)
    #: X-Shopify-Webhook-Id.
    webhook_id: Mapped[str] = Column(String(255), nullable=False)
    #: X-Shopify-Topic, e.g. "orders/updated". Not signed: the body has the facts.
    topic: Mapped[str] = Column(String(100), nullable=False)
    #: X-Shopify-Shop-Domain, normalised ("example.myshopify.com").
    shop_domain: Mapped[str] = Column(String(255), nullable=False)
    #: X-Shopify-API-Version the body is serialised in.
    api_version: Mapped[str] = Column(String(32), nullable=False)
    #: X-Shopify-Triggered-At, if it was sent and readable.
    triggered_at: Mapped[datetime | None] = Column(UTCDateTime, nullable=True)
    #: X-Shopify-Event-Id: shared by the deliveries of one merchant action.
    event_id: Mapped[str | None] = Column(String(255), nullable=True)
    #: The raw body as received (UTF-8 JSON), byte for byte what was signed.
    body: Mapped[str] = Column(Text, nullable=False)
    #: SHA-256 of the raw body, hex.
    body_sha256: Mapped[str] = Column(String(64), nullable=False)
    received_at: Mapped[datetime] = Column(UTCDateTime, nullable=False)
    status: Mapped[WebhookStatus] = Column(vocabulary(WebhookStatus, "status"), nullable=False)
    #: Claims so far; also the claim's token (a late `mark_done` of an expired claim is void).
    attempts: Mapped[int] = Column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = Column(String(500), nullable=True)
    #: When the current claim was taken (PROCESSING rows), for the lease.
    claimed_at: Mapped[datetime | None] = Column(UTCDateTime, nullable=True)
    #: A retry waits until then (PENDING rows after a failure).
    next_attempt_at: Mapped[datetime | None] = Column(UTCDateTime, nullable=True)
    #: When it was done or given up on.
    processed_at: Mapped[datetime | None] = Column(UTCDateTime, nullable=True)


class PlatformRecord(Base):
    """One record relaydesk keeps from a store platform: which local row it is (the id map) and
    which version of it the store holds (the `Stamp` of bot/domain/freshness.py)."""

    __tablename__ = "platform_records"
    __table_args__ = (
        UniqueConstraint("platform", "resource", "external_id"),
        Index("ix_platform_records_local_key", "platform", "resource", "local_key"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    #: "shopify", or "push" for the generic signed webhook.
    platform: Mapped[str] = Column(String(32), nullable=False)
    #: "order", "customer", "product" (one per SKU/variant), "inventory_item".
    resource: Mapped[str] = Column(String(32), nullable=False)
    #: The platform's id (Shopify's numeric id as text; for "push", the natural key itself).
    external_id: Mapped[str] = Column(String(255), nullable=False)
    #: The relaydesk natural key: order number, customer e-mail, SKU.
    local_key: Mapped[str] = Column(String(255), nullable=False)
    #: The GraphQL id ("gid://shopify/Order/1"), for Admin API reads and writes.
    graphql_id: Mapped[str | None] = Column(String(255), nullable=True)
    updated_at: Mapped[datetime | None] = Column(UTCDateTime, nullable=True)
    triggered_at: Mapped[datetime | None] = Column(UTCDateTime, nullable=True)
    event_id: Mapped[str | None] = Column(String(255), nullable=True)
    fingerprint: Mapped[str | None] = Column(String(64), nullable=True)
    #: When relaydesk last had this record's state from the platform itself (a webhook or a
    #: read), whether or not it changed: what "fresh enough to answer from" is measured on.
    synced_at: Mapped[datetime] = Column(UTCDateTime, nullable=False)
    #: The ordering rule could not decide (bot/domain/freshness.py case 8): re-read it.
    needs_refresh: Mapped[bool] = Column(Boolean, nullable=False, default=False)


class PlatformStockLevel(Base):
    """Stock of one inventory item at one location; a product's `stock` is their sum."""

    __tablename__ = "platform_stock_levels"
    __table_args__ = (UniqueConstraint("platform", "inventory_item_id", "location_id"),)

    id: Mapped[int] = Column(Integer, primary_key=True)
    platform: Mapped[str] = Column(String(32), nullable=False)
    inventory_item_id: Mapped[str] = Column(String(255), nullable=False)
    location_id: Mapped[str] = Column(String(255), nullable=False)
    available: Mapped[int] = Column(Integer, nullable=False)
    updated_at: Mapped[datetime | None] = Column(UTCDateTime, nullable=True)


class PlatformSyncState(Base):
    """Small named values a platform's sync keeps between runs (the reconciliation mark)."""

    __tablename__ = "platform_sync_state"
    __table_args__ = (UniqueConstraint("platform", "name"),)

    id: Mapped[int] = Column(Integer, primary_key=True)
    platform: Mapped[str] = Column(String(32), nullable=False)
    name: Mapped[str] = Column(String(64), nullable=False)
    value: Mapped[str] = Column(Text, nullable=False)
    updated_at: Mapped[datetime] = Column(UTCDateTime, nullable=False)


class CommandStatus(StrEnum):
    #: Recorded, not yet sent (or sent and the process died before it heard back).
    PENDING = "pending"
    #: The platform answered yes.
    DONE = "done"
    #: The platform said no (userErrors); `last_error` has its words.
    REFUSED = "refused"
    #: Sent, and no answer came: a read of the order decides before anything is sent again.
    UNKNOWN = "unknown"


class PlatformCommand(Base):
    """One write relaydesk makes on a store platform (cancel, address change, return), keyed so
    a repeated "yes" or a retried action finds the first one instead of sending a second."""

    __tablename__ = "platform_commands"
    __table_args__ = (UniqueConstraint("platform", "key"),)

    id: Mapped[int] = Column(Integer, primary_key=True)
    platform: Mapped[str] = Column(String(32), nullable=False)
    #: "cancel:10023", "address:10023:<digest of the address>", "return:10023:<sku>".
    key: Mapped[str] = Column(String(255), nullable=False)
    kind: Mapped[str] = Column(String(32), nullable=False)
    order_number: Mapped[str] = Column(String(20), nullable=False, index=True)
    status: Mapped[CommandStatus] = Column(vocabulary(CommandStatus, "status"), nullable=False)
    #: What was asked, JSON.
    request: Mapped[str] = Column(Text, nullable=False)
    #: What the platform answered (ids, job), JSON.
    response: Mapped[str | None] = Column(Text, nullable=True)
    attempts: Mapped[int] = Column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = Column(String(500), nullable=True)
    created_at: Mapped[datetime] = Column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = Column(UTCDateTime, nullable=False)


class OrderEventRow(Base):
    """Something that happened to an order, as seen by comparing the stored state before and
    after a sync (bot/domain/order_events.py): shipped, out for delivery, delayed, delivered,
    cancelled, refunded, return opened... Proactive messages and reports read these."""

    __tablename__ = "order_events"
    __table_args__ = (Index("ix_order_events_order_number", "order_number"),)

    id: Mapped[int] = Column(Integer, primary_key=True)
    order_number: Mapped[str] = Column(String(20), nullable=False)
    #: bot.domain.order_events.OrderEventKind.
    kind: Mapped[str] = Column(String(40), nullable=False)
    #: What within the order: a tracking number, refund reference or RMA number ("" for the
    #: order itself).
    subject: Mapped[str] = Column(String(64), nullable=False)
    before: Mapped[str | None] = Column(String(40), nullable=True)
    after: Mapped[str] = Column(String(40), nullable=False)
    #: The platform whose sync saw it: "shopify", "push".
    source: Mapped[str] = Column(String(32), nullable=False)
    recorded_at: Mapped[datetime] = Column(UTCDateTime, nullable=False, index=True)
