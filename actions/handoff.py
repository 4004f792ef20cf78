"""Human handoff in the conversation (docs/handoff.md).

- `action_assess_escalation` runs on every shopper message (a custom slot mapping of
  `handoff_decision`): it asks the pure `EscalationPolicy` and stores its decision; the
  `HandoffGatePolicy` (bot/rasa_plugins/handoff_gate.py) then runs `action_handoff` in that
  same turn.
- `action_handoff` opens (or reopens) the ticket, tells the shopper honestly what happens next
  and pauses the bot; the bridge posts the card and relays messages from then on.
- `action_handoff_closed` is run by the bridge (Rasa's HTTP API) when an agent resolves or
  hands back: the bot resumes and asks for a 1-5 rating (`csat_form`), which
  `action_record_csat` stores on the ticket.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import (
    ActionExecuted,
    ActiveLoop,
    ConversationPaused,
    ConversationResumed,
    EventType,
    SlotSet,
)
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions.services import STORE_FAILURES, Services, default_services
from bot.domain.clock import utc_now
from bot.domain.store_policy import StorePolicy
from bot.settings import HandoffSettings
from bot.store.database import Database
from handoff.action_server.signals import (
    KnownShopper,
    card_context,
    escalation_signals,
    free_text_slots,
    known_shopper,
)
from handoff.domain.csat import SKIPPED, parse_rating
from handoff.domain.escalation import EscalationDecision, EscalationPolicy, EscalationThresholds
from handoff.domain.hours import BusinessHours
from handoff.domain.messages import QueueState, acknowledgement, first_name
from handoff.domain.ticket import TicketStatus
from handoff.domain.ticket_views import Opening, TicketRequest
from handoff.rasa_events import transcript_lines
from handoff.store.tickets import TicketStore

logger = logging.getLogger(__name__)

DECISION_SLOT = "handoff_decision"
HANDOFF_ACTION = "action_handoff"
CSAT_SLOT = "csat_score"
CSAT_FORM = "csat_form"
REQUESTED_SLOT = "requested_slot"


@dataclass(frozen=True)
class HandoffServices:
    services: Services
    tickets: TicketStore
    policy: EscalationPolicy
    hours: BusinessHours
    sla_minutes: Mapping[str, int]
    clock: Callable[[], datetime] = utc_now


def thresholds(config: HandoffSettings, policy: StorePolicy) -> EscalationThresholds:
    """Conversation thresholds from the settings; store numbers from the store's policy file."""
    return EscalationThresholds(
        low_confidence=config.low_confidence,
        low_confidence_turns=config.low_confidence_turns,
        negative_sentiment=config.negative_sentiment,
        high_value=policy.high_value_order_threshold,
        return_window_days=policy.return_window_days,
        vip_return_window_days=policy.vip_return_window_days,
    )


@cache
def default_handoff_services() -> HandoffServices:
    services = default_services()
    config = services.settings.handoff
    return HandoffServices(
        services=services,
        tickets=TicketStore(
            Database(services.settings.database_url),
            slack_enabled=config.slack_enabled,
            store_name=services.settings.store_name,
        ),
        policy=EscalationPolicy(thresholds(config, services.store_policy)),
        hours=BusinessHours.parse(config.business_hours, config.timezone),
        sla_minutes=config.sla_minutes,
    )


class UsesHandoff:
    """rasa-sdk constructs actions without arguments; tests pass their own services."""

    def __init__(self, handoff: HandoffServices | None = None) -> None:
        self._handoff = handoff

    @property
    def handoff(self) -> HandoffServices:
        return self._handoff or default_handoff_services()

    def shopper(self, tracker: Tracker) -> KnownShopper:
        try:
            return known_shopper(tracker, self.handoff.services.store)
        except STORE_FAILURES:
            # The store (or Shopify) being down must not stop a handoff; the agent sees less
            # context.
            logger.exception("store lookup failed while assessing the conversation")
            return KnownShopper(None, (), None)


class ActionAssessEscalation(UsesHandoff, Action):
    def name(self) -> str:
        return "action_assess_escalation"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.is_paused():
            return []  # a person has the conversation already
        text = (tracker.latest_message or {}).get("text")
        if tracker.active_loop_name == CSAT_FORM and parse_rating(text) is not None:
            return []  # "1" is a rating, not an escalation
        services = self.handoff.services
        signals = escalation_signals(
            tracker, self.shopper(tracker), services.today(), free_text_slots(domain)
        )
        decision = self.handoff.policy.decide(signals)
        return [SlotSet(DECISION_SLOT, decision.to_json())] if decision.escalate else []


class ActionHandoff(UsesHandoff, Action):
    def name(self) -> str:
        return HANDOFF_ACTION

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        handoff = self.handoff
        shopper = self.shopper(tracker)
        signals = escalation_signals(
            tracker, shopper, handoff.services.today(), free_text_slots(domain)
        )
        decision = EscalationDecision.from_json(tracker.get_slot(DECISION_SLOT))
        if not decision.escalate:
            # Reached through a rule (a "Talk to a person" button, a form's escape hatch).
            decision = handoff.policy.escalate_on_request(signals)
        elif not decision.is_complete:
            # A flow asked for a person with its reason (EscalationDecision.requested).
            decision = handoff.policy.escalate_for(decision.reasons, signals)
        done: list[EventType] = [SlotSet(DECISION_SLOT, None)]
        try:
            existing = handoff.tickets.for_conversation(tracker.sender_id)
            lines = transcript_lines(
                tracker.events, after=existing.transcript_until if existing else None
            )
            opening = handoff.tickets.open(
                TicketRequest(
                    conversation_id=tracker.sender_id,
                    channel=tracker.get_latest_input_channel() or "unknown",
                    decision=decision,
                    context=card_context(tracker, shopper, signals, lines),
                    customer_id=shopper.customer.id if shopper.customer else None,
                    transcript=lines,
                    transcript_until=max(
                        (float(e.get("timestamp") or 0) for e in tracker.events), default=0.0
                    ),
                )
            )
            text = acknowledgement(self._queue_state(opening), handoff.clock(), handoff.hours.zone)
            handoff.tickets.record_bot_message(opening.ticket.id, text)
        except SQLAlchemyError:
            logger.exception("could not open a handoff ticket")
            dispatcher.utter_message(response="utter_handoff_failed")
            return done
        dispatcher.utter_message(text=text)
        if tracker.active_loop_name:
            done += [ActiveLoop(None), SlotSet(REQUESTED_SLOT, None)]
        return [*done, ConversationPaused()]

    def _queue_state(self, opening: Opening) -> QueueState:
        handoff, ticket = self.handoff, opening.ticket
        now = handoff.clock()
        claimed_by = ticket.agent_name if ticket.status is TicketStatus.CLAIMED else None
        return QueueState(
            ticket_number=ticket.id,
            position=handoff.tickets.queue_position(ticket),
            typical_wait_minutes=handoff.tickets.typical_wait_minutes(),
            target_minutes=int(handoff.sla_minutes.get(ticket.priority, 60)),
            open_now=handoff.hours.is_open(now),
            next_opening=handoff.hours.next_opening(now),
            reopened=opening.reopened,
            agent_first_name=first_name(claimed_by) if claimed_by else None,
        )


class ActionHandoffClosed(UsesHandoff, Action):
    """Run through Rasa's HTTP API by the bridge once an agent resolved or handed back."""

    def name(self) -> str:
        return "action_handoff_closed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        ticket = self.handoff.tickets.for_conversation(tracker.sender_id)
        agent = first_name(ticket.agent_name) if ticket and ticket.agent_name else "our team"
        handed_back = ticket is not None and ticket.status is TicketStatus.HANDED_BACK
        response = "utter_handoff_handed_back" if handed_back else "utter_handoff_resolved"
        dispatcher.utter_message(response=response, agent_name=agent)
        dispatcher.utter_message(response="utter_ask_csat_score")
        # Resume and wait for the rating inside csat_form. `/execute` runs no prediction loop,
        # so the form is entered and the turn ended (action_listen) here, as Rasa would.
        return [
            ConversationResumed(),
            ActiveLoop(CSAT_FORM),
            SlotSet(REQUESTED_SLOT, CSAT_SLOT),
            SlotSet(CSAT_SLOT, None),
            ActionExecuted("action_listen"),
        ]


class ValidateCsatForm(FormValidationAction):
    def name(self) -> str:
        return "validate_csat_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        # Anything but a rating means the shopper moved on: the form rejects this turn (so the
        # bot answers their question) and ends when it is next run.
        latest = (tracker.latest_message or {}).get("text")
        if tracker.get_slot(CSAT_SLOT) is None and parse_rating(latest) is None:
            return []
        return domain_slots

    async def extract_csat_score(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot(REQUESTED_SLOT) != CSAT_SLOT:
            return {}
        rating = parse_rating((tracker.latest_message or {}).get("text"))
        return {CSAT_SLOT: rating} if rating is not None else {}


class ActionRecordCsat(UsesHandoff, Action):
    def name(self) -> str:
        return "action_record_csat"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        value = tracker.get_slot(CSAT_SLOT)
        score = int(value) if isinstance(value, int | float) and 1 <= value <= 5 else None
        try:
            self.handoff.tickets.record_csat(tracker.sender_id, score)
        except SQLAlchemyError:
            logger.exception("could not record the rating")
        if score is not None:
            dispatcher.utter_message(response="utter_csat_thanks")
        elif value == SKIPPED:
            dispatcher.utter_message(response="utter_anything_else")
        return [SlotSet(CSAT_SLOT, None)]
