"""The Rasa policy that lets the escalation decision pre-empt forms and rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    ConversationPaused,
    Event,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_plugins.handoff_gate import HandoffGatePolicy

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(REPO / "domain"))


@pytest.fixture
def policy(tmp_path: Path) -> HandoffGatePolicy:
    return HandoffGatePolicy.create(
        HandoffGatePolicy.get_default_config(),
        LocalModelStorage(tmp_path),
        Resource("gate"),
        ExecutionContext(GraphSchema({}), "test"),
    )


def predict(policy: HandoffGatePolicy, domain: Domain, events: list[Event]) -> str | None:
    tracker = DialogueStateTracker.from_events("s", events, domain.slots)
    prediction = policy.predict_action_probabilities(tracker, domain)
    if prediction.max_confidence == 0:
        return None
    assert prediction.is_no_user_prediction  # outranks a running form's happy path
    return domain.action_names_or_texts[prediction.max_confidence_index]


def turn(text: str, intent: str) -> list[Event]:
    return [ActionExecuted("action_listen"), UserUttered(text, {"name": intent, "confidence": 0.9})]


DECIDED = SlotSet("handoff_decision", {"reasons": ["fraud"], "priority": "P1", "route": "billing"})


def test_hands_off_in_the_turn_the_decision_was_made(
    policy: HandoffGatePolicy, domain: Domain
) -> None:
    in_form = [*turn("track", "track_order"), ActionExecuted("order_status_form"),
               ActiveLoop("order_status_form")]  # fmt: skip
    assert predict(policy, domain, [*in_form, *turn("a scam!", "inform"), DECIDED]) == (
        "action_handoff"
    )


def test_listens_after_the_handoff_and_stays_quiet_otherwise(
    policy: HandoffGatePolicy, domain: Domain
) -> None:
    after = [*turn("a scam!", "inform"), DECIDED, ActionExecuted("action_handoff")]
    assert predict(policy, domain, after) == "action_listen"
    assert predict(policy, domain, turn("hi", "greet")) is None
    stale = [*turn("a scam!", "inform"), DECIDED, *turn("hi", "greet")]
    assert predict(policy, domain, stale) is None  # the decision was for an earlier turn
    paused = [*turn("a scam!", "inform"), DECIDED, ConversationPaused()]
    assert predict(policy, domain, paused) is None
