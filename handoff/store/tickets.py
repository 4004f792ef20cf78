"""Ticket commands: opening and reopening, the agent actions, the ticket's log.

The one place that changes `handoff_tickets`. Each method is one transaction that updates the
ticket, logs what happened (`handoff_messages`) and queues the deliveries it causes
(`handoff.store.ticket_outbox`), so the action server, the bridge and the CLI all have the same
effects. Agent actions are compare-and-set updates: a double click or a retried request finds
the ticket already moved and changes nothing.

`TicketStore` is put together from parts in their own modules: the outbox queuing its commands
go through (`handoff.store.ticket_outbox`), reading tickets back (`handoff.store.ticket_reads`)
and the queue statistics (`handoff.store.queue_stats`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.domain.clock import utc_now
from bot.store.database import Database, rows_changed
from handoff.domain.delivery import RETRYABLE, ReplyState, ReplyStatus, presentation
from handoff.domain.escalation import REASON_LABELS, Reason
from handoff.domain.messages import joined_notice, signed
from handoff.domain.ticket import (
    ACTIVE,
    ALLOWED_FROM,
    CLOSED_BY,
    AgentAction,
    MessageDirection,
    TicketStatus,
)
from handoff.domain.ticket_views import Agent, Opening, Outcome, TicketRequest, TicketView
from handoff.domain.transcript import Line
from handoff.mrkdwn import paginate, slack_escape
from handoff.store.models import HandoffDelivery, HandoffMessage, HandoffTicket
from handoff.store.queue_stats import QueueStats
from handoff.store.ticket_outbox import TicketOutbox
from handoff.store.ticket_reads import TicketReads, ticket_view


class TicketStore(TicketOutbox, TicketReads, QueueStats):
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
        return Opening(ticket_view(row), reopened=reopened, already_open=already_open)

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
            return ticket_view(row)

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
                return Outcome(
                    row.agent_id == agent.id, self._refusal(row, agent), ticket_view(row)
                )
            delivery = self._announce_claim(session, row, agent, via=via)
            return Outcome(True, f"You have ticket #{ticket_id}.", ticket_view(row), delivery)

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
                    return Outcome(False, self._refusal(row, agent), ticket_view(row))
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
                return Outcome(
                    True, "Queued for the shopper.", ticket_view(row), delivery, message.id
                )
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
                return Outcome(False, self._refusal(row, agent), ticket_view(row))
            moved = session.execute(
                update(HandoffDelivery)
                .where(HandoffDelivery.id == delivery_id, HandoffDelivery.receipt.in_(RETRYABLE))
                .values(receipt=ReplyState.RETRIED, follow_at=None)
                .execution_options(synchronize_session=False)
            )
            if not rows_changed(moved):
                return Outcome(
                    False,
                    "That reply is not waiting for a retry (already retried?).",
                    ticket_view(row),
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
            return Outcome(True, "Sending it again.", ticket_view(row), delivery)

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
                return Outcome(row.status == status, self._refusal(row, agent), ticket_view(row))
            verb = "resolved" if action is AgentAction.RESOLVE else "handed back to the bot"
            self._log(session, ticket_id, MessageDirection.SYSTEM, f"{agent.name} {verb}")
            if self._slack:
                self._to_slack(session, ticket_id, "card_update")
                self._to_slack(session, ticket_id, "thread", text=f"*{agent.name}* {verb} this.")
            delivery = self._to_shopper(session, ticket_id, "close", outcome=str(status))
            return Outcome(True, f"Ticket #{ticket_id} {verb}.", ticket_view(row), delivery)

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
            return bool(rows_changed(result))

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
        return bool(rows_changed(result))

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
