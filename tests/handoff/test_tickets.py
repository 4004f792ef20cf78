"""Ticket life cycle on a real SQLite store: open, reopen, agent actions, relay rules, queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.store.database import Database
from handoff.domain.escalation import Priority, Reason, Route
from handoff.domain.ticket import AgentAction, Destination, MessageDirection, TicketStatus
from handoff.domain.ticket_views import Agent
from handoff.domain.transcript import Line
from handoff.store.outbox import Outbox
from handoff.store.tickets import TicketStore
from tests.handoff.conftest import open_ticket

MAYA = Agent("slack:W111", "Maya Lopez")
SAM = Agent("slack:W222", "Sam Okoro")


def kinds(database: Database, destination: Destination) -> list[str]:
    return [d.kind for group in Outbox(database).due(destination) for d in group]


def test_a_new_ticket_queues_its_card_then_its_transcript(database: Database) -> None:
    tickets = TicketStore(database, slack_enabled=True)
    ticket = open_ticket(tickets)
    assert ticket.status is TicketStatus.OPEN and ticket.priority == "P2"
    assert kinds(database, Destination.SLACK) == ["card", "thread"]
    assert [m.text for m in tickets.messages(ticket.id)] == ["the jacket arrived torn"]


def test_without_slack_nothing_is_queued_for_slack(database: Database) -> None:
    tickets = TicketStore(database, slack_enabled=False)
    ticket = open_ticket(tickets)
    tickets.claim(ticket.id, MAYA, via="cli")
    assert kinds(database, Destination.SLACK) == []
    assert kinds(database, Destination.SHOPPER) == ["say"]


def test_escalating_again_reopens_the_same_ticket(database: Database) -> None:
    tickets = TicketStore(database, slack_enabled=True)
    first = open_ticket(tickets)
    tickets.claim(first.id, MAYA, via="slack")
    tickets.close(first.id, MAYA, AgentAction.RESOLVE, via="slack")
    tickets.record_csat("shopper-1", 2)

    again = open_ticket(
        tickets, reasons=(Reason.CHARGEBACK,), priority=Priority.P1, route=Route.BILLING,
        lines=(Line(50.0, "shopper", "I'm calling my bank"),),
    )  # fmt: skip

    assert again.id == first.id
    assert again.status is TicketStatus.OPEN and again.reopen_count == 1
    assert again.agent_name is None and again.csat_score is None
    assert again.priority == "P1" and again.reasons == ("chargeback",)
    threads = [
        d.payload.get("text", "") for g in Outbox(database).due(Destination.SLACK) for d in g
    ]
    assert any("Reopened" in text for text in threads)
    assert any("calling my bank" in text for text in threads)


def test_claim_is_first_come_first_served(database: Database) -> None:
    tickets = TicketStore(database, slack_enabled=False)
    ticket = open_ticket(tickets)
    assert tickets.claim(ticket.id, MAYA, via="slack").ok
    again = tickets.claim(ticket.id, MAYA, via="slack")
    taken = tickets.claim(ticket.id, SAM, via="slack")
    assert again.ok and again.message == "You already have ticket #1."
    assert not taken.ok and taken.message == "Ticket #1 is already claimed by Maya Lopez."
    assert kinds(database, Destination.SHOPPER) == ["say"]  # one "joined" notice


def test_closed_tickets_refuse_replies(database: Database) -> None:
    tickets = TicketStore(database, slack_enabled=False)
    ticket = open_ticket(tickets)
    tickets.close(ticket.id, MAYA, AgentAction.HAND_BACK, via="cli")
    reply = tickets.reply(ticket.id, MAYA, "one more thing", via="cli")
    assert not reply.ok and "closed (handed back)" in reply.message
    closed = tickets.get(ticket.id)
    assert closed is not None and closed.agent_name == "Maya Lopez"  # who closed it


def test_shopper_messages_are_relayed_only_while_a_person_has_the_case(
    database: Database,
) -> None:
    tickets = TicketStore(database, slack_enabled=True)
    ticket = open_ticket(tickets)  # transcript up to timestamp 1.0
    assert not tickets.record_shopper_message("shopper-1", "old", 1.0, "k0")  # in transcript
    assert tickets.record_shopper_message("shopper-1", "new", 2.0, "k1")
    assert not tickets.record_shopper_message("shopper-1", "new", 2.0, "k1")  # redelivered
    assert not tickets.record_shopper_message("someone-else", "hi", 3.0, "k2")
    tickets.close(ticket.id, MAYA, AgentAction.RESOLVE, via="cli")
    assert tickets.record_shopper_message("shopper-1", "before resume", 4.0, "k3")
    tickets.mark_resumed(ticket.id)
    assert not tickets.record_shopper_message("shopper-1", "to the bot", 5.0, "k4")
    shopper = [
        m.text for m in tickets.messages(ticket.id) if m.direction is MessageDirection.SHOPPER
    ]
    assert shopper == ["the jacket arrived torn", "new", "before resume"]


def test_queue_position_and_typical_wait(database: Database) -> None:
    now = {"t": datetime(2026, 11, 16, 17, 0, tzinfo=UTC)}
    tickets = TicketStore(database, slack_enabled=False, clock=lambda: now["t"])
    p3 = open_ticket(tickets, "a", (Reason.CUSTOMER_REQUEST,), Priority.P3, Route.GENERAL)
    now["t"] += timedelta(minutes=1)
    p2 = open_ticket(tickets, "b")
    now["t"] += timedelta(minutes=1)
    p1 = open_ticket(tickets, "c", (Reason.FRAUD,), Priority.P1, Route.BILLING)
    assert [tickets.queue_position(t) for t in (p1, p2, p3)] == [1, 2, 3]
    assert tickets.typical_wait_minutes() is None

    now["t"] += timedelta(minutes=4)  # p1 waited 4 minutes, p2 5
    tickets.claim(p1.id, MAYA, via="cli")
    tickets.claim(p2.id, SAM, via="cli")
    assert tickets.typical_wait_minutes() == 4.5  # the median
    assert tickets.queue_position(p3) == 1
    assert [t.id for t in tickets.tickets()] == [p3.id, p1.id, p2.id]  # unclaimed first


def test_rating_is_recorded_on_the_ticket(database: Database) -> None:
    tickets = TicketStore(database, slack_enabled=True)
    ticket = open_ticket(tickets)
    tickets.close(ticket.id, MAYA, AgentAction.RESOLVE, via="slack")
    rated = tickets.record_csat("shopper-1", 5)
    assert rated is not None and rated.csat_score == 5
    assert tickets.record_csat("nobody", 3) is None
