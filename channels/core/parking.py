"""Deliveries parked until the action server answers again, kept in `channel_inbound`.

A turn whose custom actions could not run (channels/core/turn_outcome.py) is undone and its
delivery goes back to `received`, with what happened in `error`:

    awaiting actions [undone=1 told=0 up_failures=0]: action_order_status: Couldn't connect...

- `undone`: how many user events of this delivery the tracker holds, all of them undone
  attempts. Start-up recovery compares it with the tracker: one more means the latest attempt
  reached the assistant and was not undone (the process stopped after it), so it is not
  replayed; as many means it is.
- `told`: the shopper was told the answer has to wait (told once per conversation).
- `up_failures`: attempts that failed although the action server answered its health check
  (a bug in an action, not an outage); after a few the delivery is given up.

No schema change: the row stays what it was (received, attempts counted by `claim`), so
`ChannelStore.unfinished` finds it at start-up like any delivery never finished. The helpers
are synchronous (SQLAlchemy), like the store; callers run them in a worker thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select, update

from bot.store.channel_models import ChannelInbound, ChannelOutbound, InboundStatus, OutboundStatus
from bot.store.database import Database
from channels.core.messages import InboundMessage

MARKER = "awaiting actions"
_STATE = re.compile(
    r"^awaiting actions \[undone=(\d+) told=([01]) up_failures=(\d+)\]: ?(.*)$", re.DOTALL
)
#: Sends that may have reached the shopper (a "pending" one may have been under way when the
#: process stopped; an "unknown" one the provider may have carried out).
_MAYBE_DELIVERED = (OutboundStatus.SENT, OutboundStatus.UNKNOWN, OutboundStatus.PENDING)


@dataclass(frozen=True)
class ParkState:
    undone: int = 0
    told: bool = False
    up_failures: int = 0
    reason: str = ""

    def encode(self) -> str:
        head = (
            f"{MARKER} [undone={self.undone} told={int(self.told)} up_failures={self.up_failures}]"
        )
        return f"{head}: {self.reason}"[:500]

    @classmethod
    def decode(cls, error: str | None) -> ParkState | None:
        match = _STATE.match(error or "")
        if match is None:
            return None
        undone, told, up_failures, reason = match.groups()
        return cls(int(undone), told == "1", int(up_failures), reason)

    def telling(self) -> ParkState:
        return replace(self, told=True)


@dataclass(frozen=True)
class ParkedDelivery:
    inbound_id: int
    message: InboundMessage
    state: ParkState


def park(database: Database, inbound_id: int, state: ParkState) -> None:
    """Back to `received`, for the retry when the action server answers again."""
    with database.session() as session:
        session.execute(
            update(ChannelInbound)
            .where(ChannelInbound.id == inbound_id)
            .values(status=InboundStatus.RECEIVED, error=state.encode(), finished_at=None)
        )


def parked(database: Database, channel: str) -> list[ParkedDelivery]:
    """The channel's parked deliveries, oldest first (arrival order)."""
    with database.session() as session:
        rows = session.execute(
            select(ChannelInbound.id, ChannelInbound.message, ChannelInbound.error)
            .where(
                ChannelInbound.channel == channel,
                ChannelInbound.status == InboundStatus.RECEIVED,
                ChannelInbound.error.like(f"{MARKER} [%"),
            )
            .order_by(ChannelInbound.id)
        ).all()
    result = []
    for inbound_id, message, error in rows:
        state = ParkState.decode(error)
        if state is not None:
            result.append(ParkedDelivery(inbound_id, InboundMessage.from_json(message), state))
    return result


def state_of(database: Database, inbound_id: int) -> ParkState | None:
    with database.session() as session:
        error = session.execute(
            select(ChannelInbound.error).where(ChannelInbound.id == inbound_id)
        ).scalar_one_or_none()
    return ParkState.decode(error)


def delivered_requests(database: Database, inbound_id: int) -> list[tuple[str, Any]]:
    """(kind, content) of the replies to a delivery that may have reached the shopper, in
    order; sends with an `origin` (not the assistant's turn) are left out."""
    with database.session() as session:
        rows = session.execute(
            select(ChannelOutbound.kind, ChannelOutbound.content)
            .where(
                ChannelOutbound.inbound_id == inbound_id,
                ChannelOutbound.origin.is_(None),
                ChannelOutbound.status.in_(list(_MAYBE_DELIVERED)),
            )
            .order_by(ChannelOutbound.id)
        ).all()
    return [(kind, content) for kind, content in rows]
