"""ORM models of the human handoff: tickets, their message log, the delivery queue (outbox) and
the bridge's position in Rasa's event stream.

Everything a handoff needs to survive a restart of any process lives here (docs/handoff.md).
Written and read only by `handoff.store.tickets` and `handoff.store.outbox`. Shares `Base` (naming
convention, Alembic history) with the shop models; migrations 0003_handoff and
0006_handoff_delivery_state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped

from bot.store.column_types import UTCDateTime, vocabulary
from bot.store.models import Base
from handoff.domain.delivery import ReplyState
from handoff.domain.escalation import Priority
from handoff.domain.ticket import DeliveryStatus, Destination, MessageDirection, TicketStatus


class HandoffTicket(Base):
    """One conversation's case for a person. Re-escalating reopens it (one per conversation)."""

    __tablename__ = "handoff_tickets"
    __table_args__ = (
        CheckConstraint("csat_score BETWEEN 1 AND 5", name="csat_score_range"),
        # The queue: unclaimed tickets by priority, oldest first.
        Index("ix_handoff_tickets_status_priority", "status", "priority"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    #: Rasa's sender id.
    conversation_id: Mapped[str] = Column(String(255), nullable=False, unique=True)
    #: The shopper's channel when the case was opened ("webchat", "whatsapp", ...).
    channel: Mapped[str] = Column(String(32), nullable=False)
    status: Mapped[TicketStatus] = Column(vocabulary(TicketStatus, "status"), nullable=False)
    priority: Mapped[Priority] = Column(vocabulary(Priority, "priority"), nullable=False)
    #: Queue the ticket belongs to (handoff.domain.escalation.Route values; channels are config).
    route: Mapped[str] = Column(String(32), nullable=False)
    #: Escalation reason codes, headline first.
    reasons: Mapped[list[str]] = Column(JSON, nullable=False)
    #: What the card shows: masked contact, VIP, orders, intent, sentiment, summary.
    context: Mapped[dict[str, Any]] = Column(JSON, nullable=False)
    customer_id: Mapped[int | None] = Column(
        ForeignKey("customers.id", ondelete="SET NULL"), nullable=True, index=True
    )
    #: "slack:U123" or "cli:maya"; None while unclaimed.
    agent_id: Mapped[str | None] = Column(String(64), nullable=True)
    agent_name: Mapped[str | None] = Column(String(100), nullable=True)
    #: Where the card was posted (set by the bridge once Slack accepted it).
    slack_channel: Mapped[str | None] = Column(String(32), nullable=True)
    slack_ts: Mapped[str | None] = Column(String(32), nullable=True)
    #: Rasa timestamp of the last event already in the thread's transcript: later shopper
    #: messages are relayed live, earlier ones never twice.
    transcript_until: Mapped[float] = Column(Float, nullable=False)
    created_at: Mapped[datetime] = Column(UTCDateTime, nullable=False)
    #: When it was (re)opened: queue order and service-level clock.
    opened_at: Mapped[datetime] = Column(UTCDateTime, nullable=False)
    claimed_at: Mapped[datetime | None] = Column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = Column(UTCDateTime, nullable=True)
    #: When the bot took the conversation back after closing; None while it is paused.
    resumed_at: Mapped[datetime | None] = Column(UTCDateTime, nullable=True)
    reopen_count: Mapped[int] = Column(Integer, nullable=False, default=0)
    sla_alerts: Mapped[int] = Column(Integer, nullable=False, default=0)
    sla_alerted_at: Mapped[datetime | None] = Column(UTCDateTime, nullable=True)
    csat_score: Mapped[int | None] = Column(Integer, nullable=True)
    csat_at: Mapped[datetime | None] = Column(UTCDateTime, nullable=True)


class HandoffMessage(Base):
    """The ticket's own log: what agents see in `relaydesk agent show` and in the thread."""

    __tablename__ = "handoff_messages"

    id: Mapped[int] = Column(Integer, primary_key=True)
    ticket_id: Mapped[int] = Column(
        ForeignKey("handoff_tickets.id", ondelete="CASCADE"), nullable=False, index=True
    )
    direction: Mapped[MessageDirection] = Column(
        vocabulary(MessageDirection, "direction"), nullable=False
    )
    author: Mapped[str | None] = Column(String(100), nullable=True)
    text: Mapped[str] = Column(Text, nullable=False)
    created_at: Mapped[datetime] = Column(UTCDateTime, nullable=False)
    #: Where it came from ("rasa:<message id>", "slack:<channel>:<ts>"): a redelivered event
    #: or a retried Slack request cannot log (and so relay) the same message twice.
    dedupe_key: Mapped[str | None] = Column(String(255), nullable=True, unique=True)


class HandoffDelivery(Base):
    """One queued delivery to Slack or to the shopper (through Rasa), delivered in id order
    per ticket and retried until the other side answers (the transactional outbox)."""

    __tablename__ = "handoff_outbox"
    __table_args__ = (Index("ix_handoff_outbox_destination_status", "destination", "status"),)

    id: Mapped[int] = Column(Integer, primary_key=True)
    ticket_id: Mapped[int] = Column(
        ForeignKey("handoff_tickets.id", ondelete="CASCADE"), nullable=False, index=True
    )
    destination: Mapped[Destination] = Column(
        vocabulary(Destination, "destination"), nullable=False
    )
    #: What to do: "card", "card_update", "thread", "alert", "ephemeral", "reaction",
    #: "say" (a message to the shopper), "close" (resume the bot and ask for a rating).
    kind: Mapped[str] = Column(String(32), nullable=False)
    payload: Mapped[dict[str, Any]] = Column(JSON, nullable=False)
    status: Mapped[DeliveryStatus] = Column(vocabulary(DeliveryStatus, "status"), nullable=False)
    attempts: Mapped[int] = Column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = Column(UTCDateTime, nullable=False)
    last_error: Mapped[str | None] = Column(String(500), nullable=True)
    created_at: Mapped[datetime] = Column(UTCDateTime, nullable=False)
    delivered_at: Mapped[datetime | None] = Column(UTCDateTime, nullable=True)
    #: An agent's reply only: the state the agent was last shown (Slack reactions), from
    #: queued to delivered / withheld / failed (handoff.domain.delivery); None otherwise.
    receipt: Mapped[ReplyState | None] = Column(vocabulary(ReplyState, "receipt"), nullable=True)
    #: When the bridge looks at the reply's channel sends again; None once its state is final.
    follow_at: Mapped[datetime | None] = Column(UTCDateTime, nullable=True, index=True)


class HandoffCursor(Base):
    """How far the bridge has read an event source (e.g. Rasa's SQL event broker table)."""

    __tablename__ = "handoff_cursors"

    name: Mapped[str] = Column(String(64), primary_key=True)
    position: Mapped[int] = Column(Integer, nullable=False)
