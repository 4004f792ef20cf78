"""A handoff ticket's life: statuses and which agent actions are allowed in each. Pure.

    open ──claim──▶ claimed ──resolve / hand back──▶ resolved | handed_back
      └──────────resolve / hand back───────────────────▲          │
      ▲────────────────── the shopper escalates again ────────────┘ (reopen)

Every transition is also written as a compare-and-set in SQL (handoff/store/tickets.py), so double
clicks and Slack's retries find the ticket already moved and change nothing.
"""

from __future__ import annotations

from enum import StrEnum


class TicketStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    RESOLVED = "resolved"
    HANDED_BACK = "handed_back"

    @property
    def is_active(self) -> bool:
        """A person has (or will have) the conversation; the bot stays paused."""
        return self in (TicketStatus.OPEN, TicketStatus.CLAIMED)


#: The statuses `TicketStatus.is_active` holds for, as a tuple the store can query with.
ACTIVE = (TicketStatus.OPEN, TicketStatus.CLAIMED)


class AgentAction(StrEnum):
    CLAIM = "claim"
    REPLY = "reply"
    RESOLVE = "resolve"
    HAND_BACK = "hand_back"


#: The statuses each action may start from.
ALLOWED_FROM: dict[AgentAction, frozenset[TicketStatus]] = {
    AgentAction.CLAIM: frozenset({TicketStatus.OPEN}),
    AgentAction.REPLY: frozenset({TicketStatus.OPEN, TicketStatus.CLAIMED}),
    AgentAction.RESOLVE: frozenset({TicketStatus.OPEN, TicketStatus.CLAIMED}),
    AgentAction.HAND_BACK: frozenset({TicketStatus.OPEN, TicketStatus.CLAIMED}),
}

#: Where a closing action leaves the ticket.
CLOSED_BY: dict[AgentAction, TicketStatus] = {
    AgentAction.RESOLVE: TicketStatus.RESOLVED,
    AgentAction.HAND_BACK: TicketStatus.HANDED_BACK,
}


class MessageDirection(StrEnum):
    """Who wrote a line of the ticket's log (handoff_messages)."""

    SHOPPER = "shopper"
    BOT = "bot"
    AGENT = "agent"
    NOTE = "note"
    SYSTEM = "system"


class Destination(StrEnum):
    """Where a queued delivery goes (handoff_outbox)."""

    SLACK = "slack"
    SHOPPER = "shopper"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    #: Refused permanently (or too often); kept for inspection, never retried.
    FAILED = "failed"
