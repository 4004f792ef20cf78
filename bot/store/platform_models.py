"""ORM model of the store platforms' webhook inbox: every verified webhook (Shopify first), kept
before it is acknowledged and worked afterwards, at least once (docs/shopify.md).

Written and read only by `bot.store.platform_inbox.PlatformInbox`. Shares `Base` (naming
convention, Alembic history) with the shop models; migration 0007_platform_webhooks.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, Integer, String, Text, UniqueConstraint
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
