"""The delivery queue (transactional outbox) between the handoff and the outside world.

Whatever must reach Slack or the shopper is first written to `handoff_outbox`, in the same
transaction as the state change that causes it (a ticket opened, a message logged). The
bridge's workers then deliver rows per ticket in id order and retry until the other side
answers. So a crash, a Slack outage or a Rasa restart delays a message but never loses or
reorders it.

An agent's reply is followed further once Rasa has taken it: `follow_at` says when the bridge
looks at the shopper's channel again, `receipt` what the agent was last shown (`ReplyFollower`
in handoff/bridge/reply_follower.py), until the reply is delivered, read, or certainly not coming.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.domain.clock import utc_now
from bot.store.database import Database, rows_changed
from handoff.domain.delivery import ReplyState
from handoff.domain.ticket import DeliveryStatus, Destination
from handoff.store.models import HandoffDelivery


@dataclass(frozen=True)
class Delivery:
    id: int
    ticket_id: int
    destination: Destination
    kind: str
    payload: dict[str, Any]
    attempts: int
    next_attempt_at: datetime
    #: When it was queued: one queued before this process started may have been handed on
    #: by the previous one, which died before it could mark it done.
    created_at: datetime


@dataclass(frozen=True)
class FollowUp:
    """An agent's reply whose state is due to be looked at again."""

    id: int
    ticket_id: int
    payload: dict[str, Any]
    status: DeliveryStatus
    last_error: str | None
    receipt: ReplyState | None
    created_at: datetime
    delivered_at: datetime | None


def enqueue(
    session: Session,
    ticket_id: int,
    destination: Destination,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    now: datetime,
    receipt: ReplyState | None = None,
) -> HandoffDelivery:
    """Queue a delivery inside the caller's transaction (commits or rolls back with it).
    `receipt` marks an agent's reply, whose state is then followed to the shopper."""
    row = HandoffDelivery(
        ticket_id=ticket_id,
        destination=destination,
        kind=kind,
        payload=payload or {},
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        receipt=receipt,
    )
    session.add(row)
    return row


class Outbox:
    def __init__(self, database: Database, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._database = database
        self._clock = clock

    def due(self, destination: Destination, limit: int = 200) -> list[list[Delivery]]:
        """Pending deliveries, grouped per ticket in id order; a ticket whose oldest pending
        row is waiting for its retry time is left out entirely (order within a ticket)."""
        now = self._clock()
        with self._database.session() as session:
            rows = session.execute(
                select(HandoffDelivery)
                .where(
                    HandoffDelivery.destination == destination,
                    HandoffDelivery.status == DeliveryStatus.PENDING,
                )
                .order_by(HandoffDelivery.id)
                .limit(limit)
            ).scalars()
            groups: dict[int, list[Delivery]] = {}
            for row in rows:
                groups.setdefault(row.ticket_id, []).append(
                    Delivery(
                        row.id,
                        row.ticket_id,
                        row.destination,
                        row.kind,
                        dict(row.payload),
                        row.attempts,
                        row.next_attempt_at,
                        row.created_at,
                    )
                )
        return [group for group in groups.values() if group[0].next_attempt_at <= now]

    def delivered(self, delivery_id: int, **payload_updates: Any) -> None:
        with self._database.session() as session:
            row = session.get(HandoffDelivery, delivery_id)
            if row is None:
                return
            row.status = DeliveryStatus.DELIVERED
            row.delivered_at = self._clock()
            row.attempts += 1
            if payload_updates:
                row.payload = {**row.payload, **payload_updates}

    def retry_later(self, delivery_id: int, error: str, delay: float) -> None:
        with self._database.session() as session:
            session.execute(
                update(HandoffDelivery)
                .where(HandoffDelivery.id == delivery_id)
                .values(
                    attempts=HandoffDelivery.attempts + 1,
                    last_error=error[:500],
                    next_attempt_at=self._clock() + timedelta(seconds=delay),
                )
            )

    def failed(self, delivery_id: int, error: str) -> None:
        with self._database.session() as session:
            session.execute(
                update(HandoffDelivery)
                .where(HandoffDelivery.id == delivery_id)
                .values(
                    status=DeliveryStatus.FAILED,
                    attempts=HandoffDelivery.attempts + 1,
                    last_error=error[:500],
                )
            )

    def save_progress(self, delivery_id: int, **payload_updates: Any) -> None:
        """Remember a finished step of a multi-step delivery, so a retry skips it."""
        with self._database.session() as session:
            row = session.get(HandoffDelivery, delivery_id)
            if row is not None:
                row.payload = {**row.payload, **payload_updates}

    def pending(self, destination: Destination | None = None) -> int:
        with self._database.session() as session:
            query = select(func.count(HandoffDelivery.id)).where(
                HandoffDelivery.status == DeliveryStatus.PENDING
            )
            if destination is not None:
                query = query.where(HandoffDelivery.destination == destination)
            return int(session.execute(query).scalar_one())

    def status_of(self, delivery_id: int) -> DeliveryStatus | None:
        with self._database.session() as session:
            row = session.get(HandoffDelivery, delivery_id)
            return row.status if row is not None else None

    # -- following agents' replies to the shopper ---------------------------------------------
    def follow(self, delivery_id: int) -> None:
        """Look at this reply's state now (Rasa took it, or it was parked)."""
        with self._database.session() as session:
            session.execute(
                update(HandoffDelivery)
                .where(HandoffDelivery.id == delivery_id, HandoffDelivery.receipt.is_not(None))
                .values(follow_at=self._clock())
            )

    def follow_ups(self, limit: int = 100) -> list[FollowUp]:
        """Replies due to be looked at again, oldest due first."""
        with self._database.session() as session:
            rows = session.execute(
                select(HandoffDelivery)
                .where(HandoffDelivery.follow_at <= self._clock())
                .order_by(HandoffDelivery.follow_at, HandoffDelivery.id)
                .limit(limit)
            ).scalars()
            return [_follow_up(row) for row in rows]

    def next_follow_up(self) -> datetime | None:
        """When the earliest followed reply is due (None: nothing is followed)."""
        with self._database.session() as session:
            return session.execute(select(func.min(HandoffDelivery.follow_at))).scalar_one()

    def record_receipt(
        self,
        delivery_id: int,
        seen: ReplyState | None,
        receipt: ReplyState,
        follow_at: datetime | None,
        slack: Sequence[tuple[str, dict[str, Any]]] = (),
    ) -> bool:
        """Store a reply's new state and queue what shows it in Slack, in one transaction.

        Compare-and-set on the state last seen: False (nothing changed, nothing queued) when
        someone else moved it meanwhile, e.g. an agent pressed Retry.
        """
        with self._database.session() as session:
            result = session.execute(
                update(HandoffDelivery)
                .where(HandoffDelivery.id == delivery_id, _receipt_is(seen))
                .values(receipt=receipt, follow_at=follow_at)
            )
            if not rows_changed(result):
                return False
            row = session.get(HandoffDelivery, delivery_id)
            assert row is not None
            for kind, payload in slack:
                enqueue(session, row.ticket_id, Destination.SLACK, kind, payload, now=self._clock())
            return True

    def retry_now(self, destination: Destination) -> None:
        """Bring every waiting retry forward (the other side has just answered again)."""
        now = self._clock()
        with self._database.session() as session:
            session.execute(
                update(HandoffDelivery)
                .where(
                    HandoffDelivery.destination == destination,
                    HandoffDelivery.status == DeliveryStatus.PENDING,
                    HandoffDelivery.next_attempt_at > now,
                )
                .values(next_attempt_at=now)
            )


def _follow_up(row: HandoffDelivery) -> FollowUp:
    receipt = ReplyState(row.receipt) if row.receipt else None
    return FollowUp(
        row.id, row.ticket_id, dict(row.payload), DeliveryStatus(row.status), row.last_error,
        receipt, row.created_at, row.delivered_at,
    )  # fmt: skip


def _receipt_is(seen: ReplyState | None) -> Any:
    if seen is None:
        return HandoffDelivery.receipt.is_(None)
    return HandoffDelivery.receipt == seen
