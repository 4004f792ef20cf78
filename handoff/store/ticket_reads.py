"""Reading tickets back: one ticket (by id, conversation or Slack thread), its log and its
replies' latest deliveries, as the value types of handoff.domain.ticket_views.

`ticket_view` is the one row-to-value mapping; every reader of `handoff_tickets` uses it.
`TicketReads` is a part of `TicketStore` (handoff/store/tickets.py).
"""

from __future__ import annotations

from sqlalchemy import select

from bot.store.database import Database
from handoff.domain.delivery import ReplyState
from handoff.domain.ticket import DeliveryStatus, Destination, MessageDirection, TicketStatus
from handoff.domain.ticket_views import MessageView, ReplyRecord, TicketView
from handoff.store.models import HandoffDelivery, HandoffMessage, HandoffTicket


def ticket_view(row: HandoffTicket) -> TicketView:
    return TicketView(
        id=row.id,
        conversation_id=row.conversation_id,
        channel=row.channel,
        status=TicketStatus(row.status),
        priority=str(row.priority),
        route=row.route,
        reasons=tuple(row.reasons),
        context=dict(row.context),
        customer_id=row.customer_id,
        agent_id=row.agent_id,
        agent_name=row.agent_name,
        slack_channel=row.slack_channel,
        slack_ts=row.slack_ts,
        transcript_until=row.transcript_until,
        created_at=row.created_at,
        opened_at=row.opened_at,
        claimed_at=row.claimed_at,
        closed_at=row.closed_at,
        resumed_at=row.resumed_at,
        reopen_count=row.reopen_count,
        sla_alerts=row.sla_alerts,
        sla_alerted_at=row.sla_alerted_at,
        csat_score=row.csat_score,
    )


class TicketReads:
    """The reading part of `TicketStore`, which sets `_database`."""

    _database: Database

    def get(self, ticket_id: int) -> TicketView | None:
        with self._database.session() as session:
            row = session.get(HandoffTicket, ticket_id)
            return ticket_view(row) if row is not None else None

    def for_conversation(self, conversation_id: str) -> TicketView | None:
        with self._database.session() as session:
            row = session.execute(
                select(HandoffTicket).where(HandoffTicket.conversation_id == conversation_id)
            ).scalar_one_or_none()
            return ticket_view(row) if row is not None else None

    def by_slack_thread(self, channel: str, thread_ts: str) -> TicketView | None:
        with self._database.session() as session:
            row = session.execute(
                select(HandoffTicket).where(
                    HandoffTicket.slack_channel == channel, HandoffTicket.slack_ts == thread_ts
                )
            ).scalar_one_or_none()
            return ticket_view(row) if row is not None else None

    def messages(self, ticket_id: int, limit: int = 200) -> list[MessageView]:
        with self._database.session() as session:
            rows = session.execute(
                select(HandoffMessage)
                .where(HandoffMessage.ticket_id == ticket_id)
                .order_by(HandoffMessage.id.desc())
                .limit(limit)
            ).scalars()
            views = [
                MessageView(r.id, MessageDirection(r.direction), r.author, r.text, r.created_at)
                for r in rows
            ]
        return views[::-1]

    def replies(self, ticket_id: int) -> dict[int, ReplyRecord]:
        """Agents' replies of the ticket by log line, each with its latest delivery."""
        with self._database.session() as session:
            rows = session.execute(
                select(HandoffDelivery)
                .where(
                    HandoffDelivery.ticket_id == ticket_id,
                    HandoffDelivery.destination == Destination.SHOPPER,
                    HandoffDelivery.receipt.is_not(None),
                )
                .order_by(HandoffDelivery.id)
            ).scalars()
            records: dict[int, ReplyRecord] = {}
            for row in rows:
                message_id = row.payload.get("message_id")
                if isinstance(message_id, int):
                    records[message_id] = ReplyRecord(
                        message_id, row.id, DeliveryStatus(row.status), row.last_error,
                        ReplyState(row.receipt) if row.receipt else None, row.delivered_at,
                    )  # fmt: skip
            return records
