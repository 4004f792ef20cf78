"""ORM models of the messaging channels (WhatsApp, Messenger, Telegram): what arrived, what was
sent, and the little per-conversation state a connector keeps.

Written and read only by `bot.store.channel_store.ChannelStore`; see docs/channels.md. They share
`Base` (and so the naming convention and Alembic history) with the shop models.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped

from bot.store.column_types import UTCDateTime, vocabulary
from bot.store.models import Base


class InboundStatus(StrEnum):
    #: Acknowledged to the provider, not yet handed to the assistant.
    RECEIVED = "received"
    #: Handed to the assistant; replies may be on their way.
    PROCESSING = "processing"
    PROCESSED = "processed"
    #: The assistant raised; `error` says what. Not retried automatically.
    FAILED = "failed"
    #: Deliberately not handed on (e.g. an edit of an old Telegram message).
    IGNORED = "ignored"


class OutboundStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    #: Gave up: a permanent provider error, or still failing after every retry.
    FAILED = "failed"
    #: Never attempted because the provider would refuse it (WhatsApp's 24-hour rule).
    BLOCKED = "blocked"
    #: The provider stalled past the client's timeout and cannot be asked whether it carried
    #: the request out (Telegram, Messenger): maybe sent, deliberately not repeated.
    UNKNOWN = "unknown"


class ChannelInbound(Base):
    """One delivery from a provider. The unique key is what makes redeliveries harmless."""

    __tablename__ = "channel_inbound"
    __table_args__ = (
        UniqueConstraint("channel", "provider_message_id"),
        # Start-up recovery looks for deliveries that were never finished.
        Index("ix_channel_inbound_status", "status"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    channel: Mapped[str] = Column(String(32), nullable=False)
    #: Twilio MessageSid, Messenger message mid, Telegram update_id.
    provider_message_id: Mapped[str] = Column(String(255), nullable=False)
    #: The provider's stable id of the shopper (WhatsApp number, PSID, Telegram chat id).
    external_id: Mapped[str] = Column(String(255), nullable=False)
    #: The parsed message (`InboundMessage.to_json()`), so recovery can replay it.
    message: Mapped[dict[str, Any]] = Column(JSON, nullable=False)
    status: Mapped[InboundStatus] = Column(vocabulary(InboundStatus, "status"), nullable=False)
    attempts: Mapped[int] = Column(Integer, nullable=False, default=0)
    received_at: Mapped[datetime] = Column(UTCDateTime, nullable=False)
    finished_at: Mapped[datetime | None] = Column(UTCDateTime, nullable=True)
    error: Mapped[str | None] = Column(String(500), nullable=True)


class ChannelOutbound(Base):
    """One message relaydesk sent (or tried to send) through a provider, with its fate."""

    __tablename__ = "channel_outbound"
    __table_args__ = (
        # The provider's id is unique per recipient, not per channel: Telegram numbers messages
        # per chat (Twilio SIDs and Graph mids are global, so for them this is no weaker).
        # Status callbacks (Twilio) find their message by SID.
        UniqueConstraint("channel", "external_id", "provider_message_id"),
        Index("ix_channel_outbound_channel_external_id", "channel", "external_id"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    channel: Mapped[str] = Column(String(32), nullable=False)
    external_id: Mapped[str] = Column(String(255), nullable=False)
    #: The delivery this replies to; None for messages pushed through Rasa's HTTP API.
    inbound_id: Mapped[int | None] = Column(
        ForeignKey("channel_inbound.id", ondelete="SET NULL"), nullable=True, index=True
    )
    #: "text", "image", "template", ... (the provider request's kind).
    kind: Mapped[str] = Column(String(32), nullable=False)
    #: The provider request as sent (without credentials).
    content: Mapped[dict[str, Any]] = Column(JSON, nullable=False)
    status: Mapped[OutboundStatus] = Column(vocabulary(OutboundStatus, "status"), nullable=False)
    attempts: Mapped[int] = Column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = Column(String(500), nullable=True)
    provider_message_id: Mapped[str | None] = Column(String(255), nullable=True)
    created_at: Mapped[datetime] = Column(UTCDateTime, nullable=False)
    sent_at: Mapped[datetime | None] = Column(UTCDateTime, nullable=True)
    #: Latest delivery report from the provider (Twilio: sent, delivered, read, failed, ...).
    delivery_status: Mapped[str | None] = Column(String(32), nullable=True)
    delivery_status_at: Mapped[datetime | None] = Column(UTCDateTime, nullable=True)
    delivery_error_code: Mapped[str | None] = Column(String(32), nullable=True)
    #: Who caused the send, when not the shopper's own turn, e.g. "handoff:<delivery id>";
    #: `ChannelStore.outbound_by_origin` reports on it.
    origin: Mapped[str | None] = Column(String(64), nullable=True, index=True)


class ChannelConversation(Base):
    """Per shopper and channel: when they last wrote, and the choices they were last offered."""

    __tablename__ = "channel_conversations"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = Column(Integer, primary_key=True)
    channel: Mapped[str] = Column(String(32), nullable=False)
    external_id: Mapped[str] = Column(String(255), nullable=False)
    profile_name: Mapped[str | None] = Column(String(200), nullable=True)
    #: Start of WhatsApp's 24-hour customer-service window.
    last_inbound_at: Mapped[datetime | None] = Column(UTCDateTime, nullable=True)
    #: Buttons of the latest bot turn that the channel rendered as a numbered list or that
    #: need a short token (`[{"title": ..., "payload": ...}]`); cleared by the next message.
    choices: Mapped[list[dict[str, str]] | None] = Column(JSON, nullable=True)
    #: When a WhatsApp template last re-opened the conversation outside the window.
    template_sent_at: Mapped[datetime | None] = Column(UTCDateTime, nullable=True)
