"""The agents' queue in numbers: active tickets in working order, a ticket's place in the
queue, the typical wait for a person, the unclaimed tickets (SLA re-alerts).

`QueueStats` is a part of `TicketStore` (handoff/store/tickets.py).
"""

from __future__ import annotations

import statistics

from sqlalchemy import case, func, or_, select

from bot.store.database import Database
from handoff.domain.ticket import ACTIVE, TicketStatus
from handoff.domain.ticket_views import TicketView
from handoff.store.models import HandoffTicket
from handoff.store.ticket_reads import ticket_view


class QueueStats:
    """The queue statistics part of `TicketStore`, which sets `_database`."""

    _database: Database

    def tickets(self, *, active_only: bool = True, limit: int = 100) -> list[TicketView]:
        """Unclaimed first, then by priority and age (the order agents should work them)."""
        with self._database.session() as session:
            query = select(HandoffTicket)
            if active_only:
                query = query.where(HandoffTicket.status.in_(ACTIVE))
            rows = session.execute(
                query.order_by(
                    case(
                        (HandoffTicket.status == TicketStatus.OPEN, 0),
                        (HandoffTicket.status == TicketStatus.CLAIMED, 1),
                        else_=2,
                    ),
                    HandoffTicket.priority,
                    HandoffTicket.opened_at,
                ).limit(limit)
            ).scalars()
            return [ticket_view(row) for row in rows]

    def queue_position(self, ticket: TicketView) -> int:
        """1 + unclaimed tickets ahead of this one (higher priority, or same and older)."""
        with self._database.session() as session:
            ahead = session.execute(
                select(func.count(HandoffTicket.id)).where(
                    HandoffTicket.status == TicketStatus.OPEN,
                    HandoffTicket.id != ticket.id,
                    or_(
                        HandoffTicket.priority < ticket.priority,
                        (HandoffTicket.priority == ticket.priority)
                        & (HandoffTicket.opened_at <= ticket.opened_at),
                    ),
                )
            ).scalar_one()
        return int(ahead) + 1

    def typical_wait_minutes(self, sample: int = 20) -> float | None:
        """Median minutes from (re)opening to claim over the latest claimed tickets."""
        with self._database.session() as session:
            rows = session.execute(
                select(HandoffTicket.opened_at, HandoffTicket.claimed_at)
                .where(HandoffTicket.claimed_at.is_not(None))
                .order_by(HandoffTicket.claimed_at.desc())
                .limit(sample)
            ).all()
        waits = [
            (claimed - opened).total_seconds() / 60
            for opened, claimed in rows
            if claimed is not None and claimed >= opened
        ]
        return statistics.median(waits) if waits else None

    def unclaimed(self) -> list[TicketView]:
        with self._database.session() as session:
            rows = session.execute(
                select(HandoffTicket).where(HandoffTicket.status == TicketStatus.OPEN)
            ).scalars()
            return [ticket_view(row) for row in rows]
