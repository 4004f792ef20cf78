"""The handoff actions over a real SQLite store with the demo shop, without Rasa: trackers are
built the way rasa-sdk hands them to actions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import (
    ActionAssessEscalation,
    ActionHandoff,
    ActionHandoffClosed,
    ActionRecordCsat,
    HandoffServices,
    ValidateCsatForm,
)
from actions.services import Services
from bot.domain.verification import VerificationPolicy
from bot.settings import Settings
from bot.store.database import Database
from bot.store.repository import StoreRepository
from handoff.domain.escalation import EscalationPolicy
from handoff.domain.hours import BusinessHours
from handoff.domain.ticket import AgentAction, TicketStatus
from handoff.domain.ticket_views import Agent
from handoff.store.tickets import TicketStore

MONDAY_NOON_LA = datetime(2026, 11, 16, 20, 0, tzinfo=UTC)
SATURDAY_NIGHT_LA = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)


def services(database: Database, now: datetime = MONDAY_NOON_LA) -> HandoffServices:
    return HandoffServices(
        services=Services(
            settings=Settings.from_env({}),
            store=StoreRepository(database),
            verification=VerificationPolicy(max_attempts=3),
            now=lambda: datetime(2026, 11, 20, 18, 0, tzinfo=UTC),
        ),
        tickets=TicketStore(database, slack_enabled=True),
        policy=EscalationPolicy(),
        hours=BusinessHours.parse("Mon-Fri 09:00-18:00", "America/Los_Angeles"),
        sla_minutes={"P1": 5, "P2": 15, "P3": 60},
        clock=lambda: now,
    )


def user(text: str, intent: str, confidence: float = 0.95, ts: float = 10.0) -> dict[str, Any]:
    return {
        "event": "user", "text": text, "timestamp": ts, "input_channel": "webchat",
        "parse_data": {"intent": {"name": intent, "confidence": confidence}, "text": text},
    }  # fmt: skip


def tracker(
    sender: str,
    events: list[dict[str, Any]],
    slots: dict[str, Any] | None = None,
    *,
    paused: bool = False,
    active_loop: str | None = None,
) -> Tracker:
    latest = next(e for e in reversed(events) if e["event"] == "user")
    message = {**latest["parse_data"], "text": latest["text"]}
    loop = {"name": active_loop} if active_loop else {}
    return Tracker(sender, slots or {}, message, events, paused, None, loop, "action_listen")


def run(action: Any, given: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, given, {}))
    return events, dispatcher.messages


def test_assessment_sets_the_decision_only_when_a_person_is_needed(
    demo_database: Database,
) -> None:
    action = ActionAssessEscalation(services(demo_database))
    events, _ = run(action, tracker("a1", [user("where is my order", "track_order")]))
    assert events == []
    events, _ = run(action, tracker("a1", [user("I'll file a chargeback", "payment_issue")]))
    assert events[0]["name"] == "handoff_decision"
    assert events[0]["value"] == {"reasons": ["chargeback"], "priority": "P1", "route": "billing"}
    paused = tracker("a1", [user("chargeback!", "payment_issue")], paused=True)
    assert run(action, paused)[0] == []  # a person already has it


def test_verified_vip_asking_beyond_status_goes_to_the_priority_queue(
    demo_database: Database,
) -> None:
    slots = {"verified_customer_id": "2", "verified_order_numbers": ["10031"]}
    events, _ = run(
        ActionAssessEscalation(services(demo_database)),
        tracker("vip-1", [user("I'd like to return the boots", "start_return")], slots),
    )
    assert events[0]["value"]["route"] == "vip" and events[0]["value"]["priority"] == "P1"


def test_handoff_opens_a_ticket_tells_the_truth_and_pauses(demo_database: Database) -> None:
    handoff = services(demo_database)
    slots = {"verified_order_numbers": ["10041"], "requested_slot": "order_number"}
    history = [
        user("where is my order", "track_order", ts=1.0),
        {"event": "bot", "text": "Order #10041 was declared lost.", "timestamp": 2.0},
        user("I want to talk to a human", "contact_human_agent", ts=3.0),
    ]
    events, messages = run(
        ActionHandoff(handoff), tracker("lost-1", history, slots, active_loop="order_status_form")
    )

    assert [e["event"] for e in events] == ["slot", "active_loop", "slot", "pause"]
    ticket = handoff.tickets.for_conversation("lost-1")
    assert ticket is not None and ticket.status is TicketStatus.OPEN
    assert ticket.reasons == ("lost_parcel", "customer_request") and ticket.route == "shipping"
    context = ticket.context
    assert context["customer"]["email"] == "e***@example.com"  # Ethan Patel, masked
    assert context["orders"][0]["number"] == "10041"
    assert context["orders"][0]["shipments"][0]["status"] == "lost"
    ack = messages[0]["text"]
    assert f"case #{ticket.id}" in ack and "in the queue" in ack
    log = [m.text for m in handoff.tickets.messages(ticket.id)]
    assert log[:3] == ["where is my order", "Order #10041 was declared lost.",
                       "I want to talk to a human"] and log[-1] == ack  # fmt: skip


def test_outside_business_hours_the_shopper_hears_when_people_are_back(
    demo_database: Database,
) -> None:
    handoff = services(demo_database, now=SATURDAY_NIGHT_LA)
    _, messages = run(ActionHandoff(handoff), tracker("night-1", [user("agent", "nlu_fallback")]))
    assert "offline right now" in messages[0]["text"]
    assert "Monday at 09:00 PST" in messages[0]["text"]


def test_closing_resumes_the_bot_and_asks_for_a_rating(demo_database: Database) -> None:
    handoff = services(demo_database)
    run(ActionHandoff(handoff), tracker("close-1", [user("human please", "contact_human_agent")]))
    ticket = handoff.tickets.for_conversation("close-1")
    assert ticket is not None
    handoff.tickets.close(ticket.id, Agent("cli:maya", "Maya Lopez"), AgentAction.HAND_BACK,
                          via="cli")  # fmt: skip

    events, messages = run(
        ActionHandoffClosed(handoff), tracker("close-1", [user("hi", "greet")], paused=True)
    )

    assert [e["event"] for e in events] == ["resume", "active_loop", "slot", "slot", "action"]
    assert events[1]["name"] == "csat_form" and events[-1]["name"] == "action_listen"
    assert [m["response"] for m in messages] == [
        "utter_handoff_handed_back",
        "utter_ask_csat_score",
    ]
    assert messages[0]["agent_name"] == "Maya"


@pytest.mark.parametrize(
    ("text", "required", "extracted"),
    [("4", ["csat_score"], {"csat_score": 4}), ("skip", ["csat_score"], {"csat_score": "skipped"}),
     ("where is my order?", [], {})],
)  # fmt: skip
def test_rating_form_takes_ratings_and_lets_other_questions_through(
    text: str, required: list[str], extracted: dict[str, Any]
) -> None:
    form = ValidateCsatForm()
    given = tracker("r", [user(text, "inform")], {"requested_slot": "csat_score"})
    dispatcher = CollectingDispatcher()
    slots = asyncio.run(form.required_slots(["csat_score"], dispatcher, given, {}))
    assert slots == required
    assert asyncio.run(form.extract_csat_score(dispatcher, given, {})) == extracted


def test_rating_is_recorded_and_thanked(demo_database: Database) -> None:
    handoff = services(demo_database)
    run(ActionHandoff(handoff), tracker("rate-1", [user("human please", "contact_human_agent")]))
    events, messages = run(
        ActionRecordCsat(handoff), tracker("rate-1", [user("5", "inform")], {"csat_score": 5})
    )
    ticket = handoff.tickets.for_conversation("rate-1")
    assert ticket is not None and ticket.csat_score == 5
    assert messages[0]["response"] == "utter_csat_thanks"
    assert events == [{"event": "slot", "timestamp": None, "name": "csat_score", "value": None}]
