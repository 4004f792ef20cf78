"""A Rasa policy that lets the escalation decision pre-empt everything else in the turn.

The decision itself is made by the pure `EscalationPolicy`, in the action server, on every
shopper message (`action_assess_escalation`, a custom slot mapping of `handoff_decision`).
Rules cannot act on "this slot was just set, whatever the intent", and a running form would
take the turn first, so this policy does: when the decision was set in the current turn it
predicts `action_handoff`, and right after `action_handoff` it predicts `action_listen`.

Its predictions are marked "no user prediction" like a form's happy path, and its priority (7)
is above RulePolicy's (6), so it wins over a running form and over intent rules. When it has
nothing to say it predicts nothing and the other policies decide as usual.
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction, SupportedData
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class HandoffGatePolicy(Policy):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"priority": 7, "decision_slot": "handoff_decision", "action": "action_handoff"}

    @staticmethod
    def supported_data() -> SupportedData:
        return SupportedData.ML_AND_RULE_DATA

    def train(
        self, training_trackers: list[TrackerWithCachedStates], domain: Domain, **kwargs: Any
    ) -> Resource:
        # Nothing to learn; an (empty) resource keeps Rasa's model loading uniform.
        with self._model_storage.write_to(self._resource):
            pass
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        handoff = str(self.config["action"])
        if tracker.is_paused() or handoff not in domain.action_names_or_texts:
            return self._prediction(probabilities)
        if tracker.latest_action_name == handoff:
            chosen = ACTION_LISTEN_NAME
        elif tracker.latest_action_name == ACTION_LISTEN_NAME and self._decided_this_turn(tracker):
            chosen = handoff
        else:
            return self._prediction(probabilities)
        probabilities[domain.index_for_action(chosen)] = 1.0
        return self._prediction(probabilities, is_no_user_prediction=True)

    def _decided_this_turn(self, tracker: DialogueStateTracker) -> bool:
        slot = str(self.config["decision_slot"])
        for event in reversed(tracker.events):
            if isinstance(event, UserUttered):
                return False
            if isinstance(event, SlotSet) and event.key == slot and event.value:
                return True
        return False
