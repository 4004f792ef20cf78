"""What the assistant does when NLU is unsure (the `nlu_fallback` intent): it rephrases the
help menu so the shopper can try again.

Repeated fallbacks are the escalation policy's call (handoff/domain/escalation.py, reason
`low_confidence`, ESCALATE_LOW_CONFIDENCE_TURNS, default 2 in a row): when it decides to hand
off, bot/rasa_plugins/handoff_gate.py runs `action_handoff` in place of this action
(docs/handoff.md).
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

FALLBACK_INTENT = "nlu_fallback"
REPHRASE_RESPONSE = "utter_fallback_menu"


class ActionRelaydeskFallback(Action):
    """Rephrase the menu; a person is brought in by the escalation policy, not here."""

    def name(self) -> str:
        return "action_relaydesk_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(response=REPHRASE_RESPONSE)
        return []
