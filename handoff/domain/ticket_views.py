"""What the ticket store hands out and takes in: plain, frozen value types. Pure.

A ticket as read (`TicketView`), a line of its log (`MessageView`), what opening one needs
(`TicketRequest`) and what it did (`Opening`), the result of an agent action (`Outcome`), an
agent's reply on its way (`ReplyRecord`), and who acted (`Agent`). Made by handoff/store/, read
by the action server, the bridge and the agent CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from handoff.domain.delivery import ReplyState
from handoff.domain.escalation import REASON_LABELS, EscalationDecision, Reason
from handoff.domain.messages import first_name
from handoff.domain.ticket import DeliveryStatus, MessageDirection, TicketStatus
from handoff.domain.transcript import Line


@dataclass(frozen=True)
class Agent:
    #: "slack:U123" or "cli:maya".
    id: str
    name: str

    @property
    def first_name(self) -> str:
        return first_name(self.name)


@dataclass(frozen=True)
class TicketView:
    id: int
    conversation_id: str
    channel: str
    status: TicketStatus
    priority: str
    route: str
    reasons: tuple[str, ...]
    context: dict[str, Any]
    customer_id: int | None
    agent_id: str | None
    agent_name: str | None
    slack_channel: str | None
    slack_ts: str | None
    transcript_until: float
    created_at: datetime
    opened_at: datetime
    claimed_at: datetime | None
    closed_at: datetime | None
    resumed_at: datetime | None
    reopen_count: int
    sla_alerts: int
    sla_alerted_at: datetime | None
    csat_score: int | None

    @property
    def reason_labels(self) -> list[str]:
        return [REASON_LABELS.get(Reason(code), code) for code in self.reasons]


@dataclass(frozen=True)
class MessageView:
    id: int
    direction: MessageDirection
    author: str | None
    text: str
    created_at: datetime


@dataclass(frozen=True)
class TicketRequest:
    """What `action_handoff` knows when it opens (or reopens) a ticket."""

    conversation_id: str
    channel: str
    decision: EscalationDecision
    context: dict[str, Any]
    customer_id: int | None
    #: The conversation since the ticket's last transcript (all of it for a new ticket).
    transcript: Sequence[Line]
    #: Timestamp of the newest tracker event the transcript covers.
    transcript_until: float


@dataclass(frozen=True)
class Opening:
    ticket: TicketView
    reopened: bool
    #: The ticket was still open (the bot was not paused, e.g. after a failed pause).
    already_open: bool


@dataclass(frozen=True)
class Outcome:
    """The result of an agent action, phrased for the agent (CLI output, Slack ephemeral)."""

    ok: bool
    message: str
    ticket: TicketView | None = None
    #: The queued delivery to the shopper this action caused, if any (the CLI waits on it).
    shopper_delivery_id: int | None = None
    #: The line of the ticket's log it wrote (a reply, a note), if any.
    message_id: int | None = None


@dataclass(frozen=True)
class ReplyRecord:
    """An agent's reply on its way to the shopper: its latest outbox delivery (a retry
    replaces the original)."""

    message_id: int
    delivery_id: int
    status: DeliveryStatus
    last_error: str | None
    receipt: ReplyState | None
    delivered_at: datetime | None
