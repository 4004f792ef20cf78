"""Tickets: opening and reopening, the agent actions, the ticket's log, queue statistics.

The one place that changes `handoff_tickets`. Each method is one transaction that updates the
ticket, logs what happened (`handoff_messages`) and queues the deliveries it causes
(`handoff.store.outbox`), so the action server, the bridge and the CLI all have the same effects.
Agent actions are compare-and-set updates: a double click or a retried request finds the
ticket already moved and changes nothing.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.domain.clock import utc_now
from bot.store.database import Database
from handoff.domain.delivery import RETRYABLE, ReplyState, ReplyStatus, presentation
from handoff.domain.escalation import REASON_LABELS, EscalationDecision, Reason
from handoff.domain.messages import first_name, joined_notice, signed
from handoff.domain.ticket import (
    ALLOWED_FROM,
    CLOSED_BY,
    AgentAction,
    DeliveryStatus,
    Destination,
    MessageDirection,
    TicketStatus,
)
from handoff.domain.transcript import Line, paginate, slack_escape
from handoff.store.models import HandoffDelivery, HandoffMessage, HandoffTicket
from handoff.store.outbox import enqueue

logger = logging.getLogger(__name__)

ACTIVE = (TicketStatus.OPEN, TicketStatus.CLAIMED)


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


def _view(row: HandoffTicket) -> TicketView:
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


class TicketStore:
    def __init__(
        self,
        database: Database,
        *,
        slack_enabled: bool,
        store_name: str = "Northwind Outfitters",
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._database = database
        self._slack = slack_enabled
        self._store_name = store_name
        self._clock = clock

    @property
    def database(self) -> Database:
        return self._database

    @property
    def slack_enabled(self) -> bool:
        return self._slack

    # -- opening (action server) ------------------------------------------------------------
    def open(self, request: TicketRequest) -> Opening:
        # Rasa runs one action per conversation at a time, but two processes could still race
        # on the first insert; the loser's retry finds the winner's row.
        for attempt in (1, 2):
            try:
                with self._database.session() as session:
                    return self._open(session, request)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _open(self, session: Session, request: TicketRequest) -> Opening:
        now, decision = self._clock(), request.decision
        assert decision.priority is not None and decision.route is not None
        row = session.execute(
            select(HandoffTicket).where(HandoffTicket.conversation_id == request.conversation_id)
        ).scalar_one_or_none()
        reopened = already_open = False
        if row is None:
            row = HandoffTicket(
                conversation_id=request.conversation_id,
                status=TicketStatus.OPEN,
                created_at=now,
                opened_at=now,
                reopen_count=0,
                sla_alerts=0,
            )
            session.add(row)
        elif TicketStatus(row.status).is_active:
            already_open = True
        else:
            reopened = True
            row.status = TicketStatus.OPEN
            row.opened_at, row.reopen_count = now, row.reopen_count + 1
            row.agent_id = row.agent_name = None
            row.claimed_at = row.closed_at = row.resumed_at = row.csat_score = None
            row.sla_alerts, row.sla_alerted_at = 0, None
        # A case already with a person keeps its reasons unless the new ones are more urgent.
        if not already_open or decision.priority < row.priority:
            row.priority, row.route = decision.priority, decision.route
            row.reasons = [str(reason) for reason in decision.reasons]
        row.channel, row.context = request.channel, request.context
        row.customer_id = request.customer_id
        row.transcript_until = request.transcript_until
        session.flush()
        self._log_lines(session, row.id, request.transcript)
        if self._slack:
            self._to_slack(session, row.id, "card" if row.slack_ts is None else "card_update")
            if reopened:
                reason = REASON_LABELS[Reason(row.reasons[0])]
                self._to_slack(
                    session, row.id, "thread",
                    text=f":repeat: *Reopened* ({reason}): the shopper needs a person again.",
                    broadcast=True,
                )  # fmt: skip
            for page in paginate(request.transcript):
                self._to_slack(session, row.id, "thread", text=page)
        return Opening(_view(row), reopened=reopened, already_open=already_open)

    def record_bot_message(self, ticket_id: int, text: str) -> None:
        """What the bot told the shopper about the handoff (shown in the thread too)."""
        with self._database.session() as session:
            self._log(session, ticket_id, MessageDirection.BOT, text, author="bot")
            if self._slack:
                self._to_slack(session, ticket_id, "thread", text=f"*Bot:* {slack_escape(text)}")

    # -- the shopper's side (bridge relay, action server) ------------------------------------
    def record_shopper_message(
        self, conversation_id: str, text: str, timestamp: float, dedupe_key: str
    ) -> bool:
        """Log (and relay to the thread) a shopper message sent while a person has the case.

        False when there is no such case or the message was logged before (a redelivered
        event). Messages up to `transcript_until` are already in the transcript.
        """
        try:
            with self._database.session() as session:
                row = session.execute(
                    select(HandoffTicket).where(HandoffTicket.conversation_id == conversation_id)
                ).scalar_one_or_none()
                # Between closing and the bot resuming, messages still go to the agent.
                if row is None or not (TicketStatus(row.status).is_active or not row.resumed_at):
                    return False
                if timestamp <= row.transcript_until:
                    return False
                self._log(session, row.id, MessageDirection.SHOPPER, text, dedupe_key=dedupe_key)
                session.flush()
                if self._slack:
                    shown = f"*Shopper:* {slack_escape(text)}"
                    self._to_slack(session, row.id, "thread", text=shown)
                return True
        except IntegrityError:
            return False

    def record_csat(self, conversation_id: str, score: int | None) -> TicketView | None:
        with self._database.session() as session:
            row = session.execute(
                select(HandoffTicket).where(HandoffTicket.conversation_id == conversation_id)
            ).scalar_one_or_none()
            if row is None:
                return None
            text = f"Shopper rated the help {score}/5" if score else "Shopper skipped the rating"
            if score:
                row.csat_score, row.csat_at = score, self._clock()
            self._log(session, row.id, MessageDirection.SYSTEM, text)
            if self._slack:
                self._to_slack(session, row.id, "card_update")
                self._to_slack(session, row.id, "thread", text=f":star: {text}.")
            return _view(row)

    # -- agent actions (Slack, CLI) -------------------------------------------------------
    def claim(self, ticket_id: int, agent: Agent, *, via: str) -> Outcome:
        with self._database.session() as session:
            claimed = self._compare_and_set(
                session, ticket_id, ALLOWED_FROM[AgentAction.CLAIM],
                status=TicketStatus.CLAIMED, agent_id=agent.id, agent_name=agent.name,
                claimed_at=self._clock(),
            )  # fmt: skip
            row = session.get(HandoffTicket, ticket_id)
            if row is None:
                return Outcome(False, f"There is no ticket #{ticket_id}.")
            if not claimed:
                return Outcome(row.agent_id == agent.id, self._refusal(row, agent), _view(row))
            delivery = self._announce_claim(session, row, agent, via=via)
            return Outcome(True, f"You have ticket #{ticket_id}.", _view(row), delivery)

    def reply(
        self,
        ticket_id: int,
        agent: Agent,
        text: str,
        *,
        via: str,
        dedupe_key: str | None = None,
        slack_ref: dict[str, str] | None = None,
    ) -> Outcome:
        """Send `text` to the shopper, signed; an unclaimed ticket is claimed first."""
        try:
            with self._database.session() as session:
                row = session.get(HandoffTicket, ticket_id)
                if row is None:
                    return Outcome(False, f"There is no ticket #{ticket_id}.")
                if TicketStatus(row.status) not in ALLOWED_FROM[AgentAction.REPLY]:
                    return Outcome(False, self._refusal(row, agent), _view(row))
                if row.status == TicketStatus.OPEN and self._compare_and_set(
                    session, ticket_id, ALLOWED_FROM[AgentAction.CLAIM],
                    status=TicketStatus.CLAIMED, agent_id=agent.id, agent_name=agent.name,
                    claimed_at=self._clock(),
                ):  # fmt: skip
                    session.refresh(row)
                    self._announce_claim(session, row, agent, via=via)
                message = self._log(
                    session, ticket_id, MessageDirection.AGENT, text, author=agent.name,
                    dedupe_key=dedupe_key,
                )  # fmt: skip
                session.flush()
                if self._slack and via != "slack":
                    shown = f"*{agent.name} ({via}):* {slack_escape(text)}"
                    self._to_slack(session, ticket_id, "thread", text=shown)
                delivery = self._queue_reply(
                    session, ticket_id, signed(text, agent.first_name), agent.first_name,
                    message.id, slack_ref,
                )  # fmt: skip
                return Outcome(True, "Queued for the shopper.", _view(row), delivery, message.id)
        except IntegrityError:
            return Outcome(True, "Already sent (duplicate delivery ignored).")

    def note(
        self, ticket_id: int, agent: Agent, text: str, *, via: str, dedupe_key: str | None = None
    ) -> Outcome:
        """An internal note: logged, shown to agents, never sent to the shopper. From a thread
        message (`via="slack"`) it is already in the thread; from anywhere else (the CLI, the
        card's *Add note* form) it is posted there."""
        try:
            with self._database.session() as session:
                if session.get(HandoffTicket, ticket_id) is None:
                    return Outcome(False, f"There is no ticket #{ticket_id}.")
                message = self._log(
                    session, ticket_id, MessageDirection.NOTE, text, author=agent.name,
                    dedupe_key=dedupe_key,
                )  # fmt: skip
                session.flush()
                if self._slack and via != "slack":
                    shown = f":memo: *{agent.name} (note):* {slack_escape(text)}"
                    self._to_slack(session, ticket_id, "thread", text=shown)
                return Outcome(True, "Note saved (not sent to the shopper).", message_id=message.id)
        except IntegrityError:
            return Outcome(True, "Already saved.")

    def send_note(self, note_id: int, agent: Agent) -> Outcome:
        """Send a held-back thread message (a near miss, kept as a note) to the shopper after
        all, as the agent wrote it. Twice sends once (the reply's dedupe key)."""
        with self._database.session() as session:
            note = session.get(HandoffMessage, note_id)
            if note is None or note.direction != MessageDirection.NOTE:
                return Outcome(False, "That message is not a held-back note.")
            ticket_id, text, key = note.ticket_id, note.text, note.dedupe_key or ""
        slack_ref = None
        if key.startswith("slack:"):
            _, channel, ts = key.split(":", 2)
            slack_ref = {"channel": channel, "ts": ts}
        outcome = self.reply(
            ticket_id, agent, text, via="slack", dedupe_key=f"held:{note_id}",
            slack_ref=slack_ref,
        )  # fmt: skip
        if outcome.ok and outcome.message_id is not None:
            if slack_ref:  # no longer "stayed internal"
                self.queue_reaction(ticket_id, slack_ref, remove=["memo"])
            return Outcome(True, "Sent to the shopper after all.", outcome.ticket,
                           outcome.shopper_delivery_id, outcome.message_id)  # fmt: skip
        return outcome

    def retry_reply(self, delivery_id: int, agent: Agent) -> Outcome:
        """Send a reply the shopper did not get again, as a new delivery. Only from a state
        the shopper certainly (or possibly) lacks it in, and once: a double click finds the
        old delivery already marked retried (compare-and-set)."""
        with self._database.session() as session:
            old = session.get(HandoffDelivery, delivery_id)
            if old is None or old.kind != "say" or old.receipt is None:
                return Outcome(False, "There is no such reply to retry.")
            row = session.get(HandoffTicket, old.ticket_id)
            assert row is not None
            if not TicketStatus(row.status).is_active:
                return Outcome(False, self._refusal(row, agent), _view(row))
            moved = session.execute(
                update(HandoffDelivery)
                .where(HandoffDelivery.id == delivery_id, HandoffDelivery.receipt.in_(RETRYABLE))
                .values(receipt=ReplyState.RETRIED, follow_at=None)
                .execution_options(synchronize_session=False)
            )
            if not moved.rowcount:
                return Outcome(
                    False, "That reply is not waiting for a retry (already retried?).", _view(row)
                )
            payload = dict(old.payload)
            shown = presentation(ReplyStatus(ReplyState(old.receipt), row.channel)).reactions
            slack_ref = payload.get("slack_ref")
            if self._slack and slack_ref:
                self._to_slack(session, row.id, "reaction", **slack_ref, remove=list(shown))
            self._log(session, row.id, MessageDirection.SYSTEM, f"{agent.name} retried a reply")
            delivery = self._queue_reply(
                session, row.id, payload["text"], payload.get("agent"),
                payload.get("message_id"), slack_ref, retry_of=delivery_id,
            )  # fmt: skip
            return Outcome(True, "Sending it again.", _view(row), delivery)

    def close(self, ticket_id: int, agent: Agent, action: AgentAction, *, via: str) -> Outcome:
        """Resolve or hand back: the bot resumes and asks the shopper for a rating."""
        status = CLOSED_BY[action]
        with self._database.session() as session:
            now = self._clock()
            closed = self._compare_and_set(
                session, ticket_id, ALLOWED_FROM[action], status=status, closed_at=now,
                agent_id=func.coalesce(HandoffTicket.agent_id, agent.id),
                agent_name=func.coalesce(HandoffTicket.agent_name, agent.name),
            )  # fmt: skip
            row = session.get(HandoffTicket, ticket_id)
            if row is None:
                return Outcome(False, f"There is no ticket #{ticket_id}.")
            if not closed:
                return Outcome(row.status == status, self._refusal(row, agent), _view(row))
            verb = "resolved" if action is AgentAction.RESOLVE else "handed back to the bot"
            self._log(session, ticket_id, MessageDirection.SYSTEM, f"{agent.name} {verb}")
            if self._slack:
                self._to_slack(session, ticket_id, "card_update")
                self._to_slack(session, ticket_id, "thread", text=f"*{agent.name}* {verb} this.")
            delivery = self._to_shopper(session, ticket_id, "close", outcome=str(status))
            return Outcome(True, f"Ticket #{ticket_id} {verb}.", _view(row), delivery)

    # -- bridge bookkeeping ------------------------------------------------------------------
    def set_card(self, ticket_id: int, channel: str, ts: str) -> None:
        with self._database.session() as session:
            session.execute(
                update(HandoffTicket)
                .where(HandoffTicket.id == ticket_id)
                .values(slack_channel=channel, slack_ts=ts)
            )

    def mark_resumed(self, ticket_id: int) -> None:
        with self._database.session() as session:
            session.execute(
                update(HandoffTicket)
                .where(HandoffTicket.id == ticket_id, HandoffTicket.status.notin_(ACTIVE))
                .values(resumed_at=self._clock())
            )

    def mark_alerted(self, ticket_id: int, alerts_seen: int, at: datetime) -> bool:
        """Count an SLA re-alert; False if someone else already did (compare-and-set)."""
        with self._database.session() as session:
            result = session.execute(
                update(HandoffTicket)
                .where(HandoffTicket.id == ticket_id, HandoffTicket.sla_alerts == alerts_seen)
                .values(sla_alerts=alerts_seen + 1, sla_alerted_at=at)
            )
            return bool(result.rowcount)

    def queue_alert(self, ticket_id: int, text: str, channel: str) -> None:
        with self._database.session() as session:
            self._to_slack(session, ticket_id, "alert", text=text, channel=channel)

    def queue_reaction(
        self,
        ticket_id: int,
        message: dict[str, str],
        name: str | None = None,
        *,
        remove: Sequence[str] = (),
    ) -> None:
        """Add a reaction to an agent's Slack message (`message`: channel and ts) and/or take
        others off (a note: a memo; a reply's state: see handoff.domain.delivery)."""
        if self._slack:
            with self._database.session() as session:
                self._to_slack(
                    session, ticket_id, "reaction", **message, add=[name] if name else [],
                    remove=list(remove),
                )  # fmt: skip

    def queue_prompt(
        self,
        ticket_id: int,
        channel: str,
        user: str,
        thread_ts: str,
        text: str,
        blocks: list[dict[str, Any]],
    ) -> None:
        """An ephemeral question with buttons, in the ticket's thread (a held-back message)."""
        if self._slack:
            with self._database.session() as session:
                self._to_slack(
                    session, ticket_id, "prompt", channel=channel, user=user,
                    thread_ts=thread_ts, text=text, blocks=blocks,
                )  # fmt: skip

    def queue_ephemeral(self, ticket_id: int, channel: str, user: str, text: str) -> None:
        """A message only `user` sees in `channel` (refusals, "already claimed")."""
        if self._slack:
            with self._database.session() as session:
                if session.get(HandoffTicket, ticket_id) is None:
                    # A forged or stale button naming no ticket: the outbox row would break
                    # its foreign key after the ack, and bolt would then answer Slack 404.
                    logger.warning("no ticket %s for an ephemeral to %s; not sent", ticket_id, user)
                    return
                self._to_slack(
                    session, ticket_id, "ephemeral", channel=channel, user=user, text=text
                )

    # -- reading ---------------------------------------------------------------------------
    def get(self, ticket_id: int) -> TicketView | None:
        with self._database.session() as session:
            row = session.get(HandoffTicket, ticket_id)
            return _view(row) if row is not None else None

    def for_conversation(self, conversation_id: str) -> TicketView | None:
        with self._database.session() as session:
            row = session.execute(
                select(HandoffTicket).where(HandoffTicket.conversation_id == conversation_id)
            ).scalar_one_or_none()
            return _view(row) if row is not None else None

    def by_slack_thread(self, channel: str, thread_ts: str) -> TicketView | None:
        with self._database.session() as session:
            row = session.execute(
                select(HandoffTicket).where(
                    HandoffTicket.slack_channel == channel, HandoffTicket.slack_ts == thread_ts
                )
            ).scalar_one_or_none()
            return _view(row) if row is not None else None

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
            return [_view(row) for row in rows]

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
            return [_view(row) for row in rows]

    # -- helpers ---------------------------------------------------------------------------
    def _compare_and_set(
        self, session: Session, ticket_id: int, allowed: frozenset[TicketStatus], **values: Any
    ) -> bool:
        result = session.execute(
            update(HandoffTicket)
            .where(HandoffTicket.id == ticket_id, HandoffTicket.status.in_(allowed))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        session.expire_all()
        return bool(result.rowcount)

    def _announce_claim(
        self, session: Session, row: HandoffTicket, agent: Agent, *, via: str
    ) -> int | None:
        self._log(session, row.id, MessageDirection.SYSTEM, f"{agent.name} claimed the ticket")
        if self._slack:
            self._to_slack(session, row.id, "card_update")
            if via != "slack":
                self._to_slack(session, row.id, "thread", text=f"*{agent.name}* claimed this.")
        return self._to_shopper(
            session, row.id, "say",
            text=joined_notice(agent.first_name, self._store_name), agent=agent.first_name,
        )  # fmt: skip

    @staticmethod
    def _refusal(row: HandoffTicket, agent: Agent) -> str:
        status = TicketStatus(row.status)
        if status is TicketStatus.CLAIMED:
            if row.agent_id == agent.id:
                return f"You already have ticket #{row.id}."
            return f"Ticket #{row.id} is already claimed by {row.agent_name}."
        if status is TicketStatus.OPEN:
            return f"Ticket #{row.id} is open."
        return f"Ticket #{row.id} is closed ({status.replace('_', ' ')})."

    def _log(
        self,
        session: Session,
        ticket_id: int,
        direction: MessageDirection,
        text: str,
        *,
        author: str | None = None,
        dedupe_key: str | None = None,
        at: datetime | None = None,
    ) -> HandoffMessage:
        message = HandoffMessage(
            ticket_id=ticket_id,
            direction=direction,
            author=author,
            text=text,
            created_at=at or self._clock(),
            dedupe_key=dedupe_key,
        )
        session.add(message)
        return message

    def _log_lines(self, session: Session, ticket_id: int, lines: Sequence[Line]) -> None:
        directions = {"shopper": MessageDirection.SHOPPER, "bot": MessageDirection.BOT,
                      "agent": MessageDirection.AGENT}  # fmt: skip
        for line in lines:
            at = datetime.fromtimestamp(line.timestamp, UTC) if line.timestamp else None
            self._log(session, ticket_id, directions[line.speaker], line.text, at=at)

    def _to_slack(self, session: Session, ticket_id: int, kind: str, **payload: Any) -> None:
        enqueue(session, ticket_id, Destination.SLACK, kind, payload, now=self._clock())

    def _to_shopper(
        self,
        session: Session,
        ticket_id: int,
        kind: str,
        *,
        receipt: ReplyState | None = None,
        **payload: Any,
    ) -> int:
        row = enqueue(
            session, ticket_id, Destination.SHOPPER, kind, payload, now=self._clock(),
            receipt=receipt,
        )  # fmt: skip
        session.flush()
        return row.id

    def _queue_reply(
        self,
        session: Session,
        ticket_id: int,
        text: str,
        agent_first_name: str | None,
        message_id: int | None,
        slack_ref: dict[str, str] | None,
        **extra: Any,
    ) -> int:
        """An agent's reply for the shopper, followed until it arrives (its `receipt`); its
        Slack message shows that it is queued until the bridge learns more."""
        if self._slack and slack_ref:
            self._to_slack(
                session, ticket_id, "reaction", **slack_ref, name="hourglass_flowing_sand"
            )
        return self._to_shopper(
            session, ticket_id, "say", receipt=ReplyState.QUEUED, text=text,
            agent=agent_first_name, slack_ref=slack_ref, message_id=message_id, **extra,
        )  # fmt: skip
