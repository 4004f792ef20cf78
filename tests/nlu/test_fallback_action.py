"""The fallback action rephrases the menu. Handing off after repeated fallbacks is the
escalation policy's rule `low_confidence` (tests/handoff/test_escalation_policy.py; the turn
boundaries it counts across: tests/handoff/test_handoff_signals.py)."""

from __future__ import annotations

import asyncio

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import REPHRASE_RESPONSE, ActionRelaydeskFallback


def user(intent: str) -> dict:
    return {"event": "user", "text": "...", "parse_data": {"intent": {"name": intent}}}


def bot() -> dict:
    return {"event": "bot", "text": "..."}


FB = "nlu_fallback"


def _run(events):
    tracker = Tracker("s", {}, events[-1]["parse_data"], events, False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    result = asyncio.run(ActionRelaydeskFallback().run(dispatcher, tracker, {}))
    return [m["response"] for m in dispatcher.messages], result


def test_action_rephrases_the_menu():
    assert ActionRelaydeskFallback().name() == "action_relaydesk_fallback"
    assert _run([user(FB)]) == ([REPHRASE_RESPONSE], [])
    assert _run([user(FB), bot(), user(FB)]) == ([REPHRASE_RESPONSE], [])


def test_responses_exist_in_domain():
    from pathlib import Path

    from rasa.shared.core.domain import Domain

    domain = Domain.load(str(Path(__file__).resolve().parents[2] / "domain"))
    assert REPHRASE_RESPONSE in domain.responses
    assert "action_relaydesk_fallback" in domain.action_names_or_texts
