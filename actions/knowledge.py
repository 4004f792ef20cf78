"""Answer a question from the help centre: the best article's summary and its link.

When no article matches the message well enough (`KnowledgeBase.answer` returns None), the
assistant says so and offers a person (`utter_kb_not_sure`) rather than guessing.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.services import Services, UsesServices
from bot.knowledge import KnowledgeBase, Match
from bot.knowledge.policy_file import load_store_policy

logger = logging.getLogger(__name__)

NOT_SURE_RESPONSE = "utter_kb_not_sure"


@cache
def _knowledge_base(directory: Path, policy_file: Path) -> KnowledgeBase:
    # One per action-server process: it re-reads edited articles by itself (reload_interval).
    return KnowledgeBase(directory, load_store_policy(policy_file))


def default_knowledge_base(services: Services) -> KnowledgeBase:
    settings = services.settings
    return _knowledge_base(settings.knowledge_base_dir, settings.policy_file)


def question_of(latest_message: dict[str, Any]) -> tuple[str, str | None, bool]:
    """(text to search, predicted intent, whether it was a button payload).

    A button payload ("/check_refund_policy") carries no words, only an intent: the answer is
    that intent's primary article (`KnowledgeBase.for_intent`).
    """
    intent = ((latest_message.get("intent") or {}).get("name")) or None
    text = str(latest_message.get("text") or "").strip()
    if text.startswith("/"):
        return (intent or text[1:].split("{", 1)[0]).replace("_", " "), intent, True
    return text, intent, False


def answer_text(match: Match) -> str:
    return f"{match.summary}\n\nMore in our help centre: {match.title}, {match.url}"


class ActionAnswerFromKb(UsesServices, Action):
    def __init__(
        self, services: Services | None = None, knowledge_base: KnowledgeBase | None = None
    ) -> None:
        super().__init__(services)
        self._knowledge_base = knowledge_base

    def name(self) -> str:
        return "action_answer_from_kb"

    @property
    def knowledge_base(self) -> KnowledgeBase:
        return self._knowledge_base or default_knowledge_base(self.services)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text, intent, payload = question_of(tracker.latest_message or {})
        if payload and intent:
            match = self.knowledge_base.for_intent(intent)
        else:
            match = self.knowledge_base.answer(text, intent) if text else None
        if match is None:
            # Scores only: shoppers' messages can hold personal details, logs must not.
            best = self.knowledge_base.search(text, intent, k=1) if text else []
            logger.info(
                "kb: not sure (intent %s, best %s)",
                intent,
                f"{best[0].article_id} {best[0].score:.2f}" if best else "none",
            )
            dispatcher.utter_message(response=NOT_SURE_RESPONSE)
            return []
        logger.info(
            "kb: answered with %s (intent %s, score %.2f)", match.article_id, intent, match.score
        )
        dispatcher.utter_message(text=answer_text(match))
        return []
