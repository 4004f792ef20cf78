"""`relaydesk agent ...`: work tickets from a terminal, without Slack.

The commands change the same database the bridge works from, with the same effects as the
Slack buttons: the bridge delivers the queued messages to the shopper (through Rasa's HTTP API,
with its token) and updates the Slack card if there is one. `reply` waits a few seconds to
report how far the message got: queued, sent, delivered (only where the channel reports it),
withheld by WhatsApp's 24-hour rule, failed; `show` prints the same for every reply, and
`retry` sends the ones the shopper did not get again. Notes are their own command: `reply`
refuses text that looks like one (`--as-is` sends it anyway).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime

from bot.settings import Settings
from bot.store.database import Database
from handoff.domain.delivery import (
    RETRYABLE,
    Presentation,
    ReplyState,
    ReplyStatus,
    presentation,
    reply_status,
)
from handoff.domain.messages import AgentText, classify_agent_text
from handoff.domain.ticket import AgentAction, MessageDirection
from handoff.domain.ticket_views import Agent, Outcome, ReplyRecord, TicketView
from handoff.store.outbox import Outbox
from handoff.store.receipts import ReplySends
from handoff.store.tickets import TicketStore

Print = Callable[[str], None]
HEADER = "ticket prio status      route     channel       age  agent            why"


def _age(moment: datetime) -> str:
    minutes = int((datetime.now(UTC) - moment).total_seconds() // 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h"


def _row(ticket: TicketView) -> str:
    who = ticket.agent_name or "-"
    reason = ticket.reason_labels[0] if ticket.reasons else ""
    return (
        f"#{ticket.id:<5} {ticket.priority}  {ticket.status:<11} {ticket.route:<9} "
        f"{ticket.channel:<9} {_age(ticket.opened_at):>7}  {who:<16} {reason}"
    )


def _way_forward(shown: Presentation, ticket_id: int) -> str:
    retry = f" (from here: relaydesk agent retry {ticket_id})" if shown.retry else ""
    return f"{shown.way_forward}{retry}"


class AgentConsole:
    def __init__(
        self,
        tickets: TicketStore,
        outbox: Outbox,
        agent: Agent,
        say: Print = print,
        *,
        note_prefix: str = "//",
    ) -> None:
        self.tickets = tickets
        self.outbox = outbox
        self.agent = agent
        self.say = say
        self.note_prefix = note_prefix
        self.sends = ReplySends(tickets.database)

    def list(self, show_all: bool) -> int:
        rows = self.tickets.tickets(active_only=not show_all)
        if not rows:
            self.say("No open tickets.")
            return 0
        self.say(HEADER)
        for ticket in rows:
            self.say(_row(ticket))
        return 0

    def show(self, ticket_id: int) -> int:
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            self.say(f"There is no ticket #{ticket_id}.")
            return 1
        self.say(_row(ticket))
        context = ticket.context
        customer = context.get("customer")
        if customer:
            vip = "VIP, " if customer.get("vip") else ""
            self.say(
                f"customer: {customer['name']} {customer['email']} "
                f"({vip}lifetime value {customer['lifetime_value']})"
            )
        for order in context.get("orders") or []:
            parcels = ", ".join(
                f"{s['carrier']} {s['tracking_number']} ({s['status']})"
                for s in order.get("shipments") or []
            )
            self.say(f"order #{order['number']}: {order['status']}, {order['total']} {parcels}")
        self.say("why: " + "; ".join(ticket.reason_labels))
        self.say("-" * 72)
        replies = self.tickets.replies(ticket_id)
        for message in self.tickets.messages(ticket_id):
            author = message.author or message.direction.value
            self.say(f"{message.created_at:%H:%M} {author:>10}: {message.text}")
            if message.direction is MessageDirection.AGENT and message.id in replies:
                shown = self._state(replies[message.id], ticket)
                self.say(f"{'':>17}[{shown.wording}]")
                if shown.way_forward:
                    self.say(f"{'':>17} -> {_way_forward(shown, ticket_id)}")
        return 0

    def _status(self, record: ReplyRecord, ticket: TicketView) -> ReplyStatus:
        trail = self.sends.trail(
            record.delivery_id, record.status, record.last_error, record.receipt,
            record.delivered_at, ticket.channel, datetime.now(UTC),
        )  # fmt: skip
        return reply_status(trail)

    def _state(self, record: ReplyRecord, ticket: TicketView) -> Presentation:
        return presentation(self._status(record, ticket))

    def claim(self, ticket_id: int) -> int:
        return self._report(self.tickets.claim(ticket_id, self.agent, via="cli"))

    def reply(self, ticket_id: int, text: str, wait: float, *, as_is: bool = False) -> int:
        kind = classify_agent_text(text, self.note_prefix)
        if kind is not AgentText.REPLY and not as_is:
            self.say(
                "Not sent: this looks like an internal note. For a note: relaydesk agent note "
                f"{ticket_id} ...; to send it to the shopper as written: reply --as-is."
            )
            return 1
        outcome = self.tickets.reply(ticket_id, self.agent, text, via="cli")
        code = self._report(outcome)
        if outcome.ok and outcome.shopper_delivery_id is not None:
            return self._wait_for(outcome.shopper_delivery_id, ticket_id, wait)
        return code

    def retry(self, ticket_id: int, wait: float) -> int:
        """Send every reply of the ticket that the shopper did not get again."""
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            self.say(f"There is no ticket #{ticket_id}.")
            return 1
        due = [
            record for record in self.tickets.replies(ticket_id).values()
            if record.receipt in RETRYABLE and self._state(record, ticket).retry
        ]  # fmt: skip
        if not due:
            self.say(f"Ticket #{ticket_id} has no reply waiting for a retry.")
            return 1
        code = 0
        for record in due:
            outcome = self.tickets.retry_reply(record.delivery_id, self.agent)
            code = max(code, self._report(outcome))
            if outcome.ok and outcome.shopper_delivery_id is not None:
                code = max(code, self._wait_for(outcome.shopper_delivery_id, ticket_id, wait))
        return code

    def note(self, ticket_id: int, text: str) -> int:
        return self._report(self.tickets.note(ticket_id, self.agent, text, via="cli"))

    def close(self, ticket_id: int, action: AgentAction) -> int:
        return self._report(self.tickets.close(ticket_id, self.agent, action, via="cli"))

    def _report(self, outcome: Outcome) -> int:
        self.say(outcome.message)
        return 0 if outcome.ok else 1

    def _wait_for(self, delivery_id: int, ticket_id: int, seconds: float) -> int:
        """Wait up to `seconds` for the reply to settle; say where it got. 1 when the shopper
        certainly did not get it."""
        deadline = time.monotonic() + seconds
        while True:
            ticket = self.tickets.get(ticket_id)
            replies = self.tickets.replies(ticket_id).values()
            record = next((r for r in replies if r.delivery_id == delivery_id), None)
            if ticket is None or record is None:
                return 1
            status = self._status(record, ticket)
            shown = presentation(status)
            if shown.final or status.state is ReplyState.DELIVERED:
                break
            if time.monotonic() >= deadline:
                if status.state is ReplyState.QUEUED:
                    self.say(
                        "Queued: the bridge delivers it as soon as Rasa answers "
                        "(is `relaydesk run` up?)."
                    )
                    return 0
                break
            time.sleep(0.1)
        self.say(shown.wording)
        if shown.way_forward:
            self.say(f"-> {_way_forward(shown, ticket_id)}")
        return 1 if shown.problem else 0


def add_agent_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    agent = sub.add_parser("agent", help="work handoff tickets from the terminal (no Slack needed)")
    agent.add_argument("--as", dest="agent_name", help="your name (default: $RELAYDESK_AGENT)")
    commands = agent.add_subparsers(dest="agent_command", required=True)
    listing = commands.add_parser("list", help="open tickets, most urgent first")
    listing.add_argument("--all", action="store_true", help="closed tickets too")
    for name, help_text in (
        ("show", "a ticket's context and conversation"),
        ("claim", "take a ticket (the shopper is told a person joined)"),
        ("resolve", "close it; the bot resumes and asks for a rating"),
        ("handback", "hand the conversation back to the bot (asks for a rating too)"),
    ):
        commands.add_parser(name, help=help_text).add_argument("ticket", type=int)
    for name, help_text in (
        ("reply", "send a message to the shopper, signed with your first name"),
        ("note", "an internal note (never sent to the shopper, whatever it starts with)"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("ticket", type=int)
        command.add_argument("text", nargs="+")
        if name == "reply":
            command.add_argument(
                "--wait", type=float, default=5.0, help="seconds to wait for delivery (5)"
            )
            command.add_argument(
                "--as-is", action="store_true",
                help="send it even though it looks like an internal note",
            )  # fmt: skip
    retry = commands.add_parser("retry", help="send the ticket's undelivered replies again")
    retry.add_argument("ticket", type=int)
    retry.add_argument("--wait", type=float, default=5.0, help="seconds to wait (5)")
    agent.set_defaults(func=run_agent_command)


def run_agent_command(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    database = Database(settings.database_url)
    try:
        database.migrate()
        name = args.agent_name or settings.handoff.cli_agent_name or "Support agent"
        console = AgentConsole(
            TicketStore(
                database,
                slack_enabled=settings.handoff.slack_enabled,
                store_name=settings.store_name,
            ),
            Outbox(database),
            Agent(id=f"cli:{name.lower().replace(' ', '.')}", name=name),
            note_prefix=settings.handoff.note_prefix,
        )
        command = args.agent_command
        if command == "list":
            return console.list(args.all)
        if command == "show":
            return console.show(args.ticket)
        if command == "claim":
            return console.claim(args.ticket)
        if command == "reply":
            return console.reply(args.ticket, " ".join(args.text), args.wait, as_is=args.as_is)
        if command == "retry":
            return console.retry(args.ticket, args.wait)
        if command == "note":
            return console.note(args.ticket, " ".join(args.text))
        action = AgentAction.RESOLVE if command == "resolve" else AgentAction.HAND_BACK
        return console.close(args.ticket, action)
    finally:
        database.dispose()
