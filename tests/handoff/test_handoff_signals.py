"""Reading the conversation for the escalation policy: which earlier turns count, whether the
bot had just offered a person."""

from __future__ import annotations

from typing import Any

import pytest

from handoff.action_server.signals import (
    free_text_slots,
    person_offered,
    sentiment,
    sentiment_label,
    shopper_turns,
)
from handoff.domain.escalation import Turn

FB = "nlu_fallback"


def user(intent: str, confidence: float = 0.3) -> dict[str, Any]:
    return {"event": "user", "parse_data": {"intent": {"name": intent, "confidence": confidence}}}


def bot(buttons: list[str] | None = None) -> dict[str, Any]:
    return {"event": "bot", "data": {"buttons": [{"payload": p} for p in buttons or []]}}


@pytest.mark.parametrize(
    ("events", "turns"),
    [
        ([user(FB)], ()),
        ([user(FB), bot(), user(FB)], (Turn(FB, 0.3),)),
        ([user("greet", 0.9), bot(), user(FB), bot(), user(FB)],
         (Turn("greet", 0.9), Turn(FB, 0.3))),
        # a new session, a restart or a handoff starts counting afresh
        ([user(FB), {"event": "session_started"}, user(FB)], ()),
        ([user(FB), {"event": "restart"}, user(FB)], ()),
        ([user(FB), {"event": "pause"}, user(FB), {"event": "resume"}, user(FB)], ()),
        # user events without parse data don't crash
        ([{"event": "user"}, user(FB)], (Turn(None, 0.0),)),
        # a message replayed after its turn was undone (action server down) is one turn
        ([{**user(FB), "message_id": "SM1"}, bot(), {**user(FB), "message_id": "SM1"}, bot(),
          user("greet", 0.9)], (Turn(FB, 0.3),)),
        ([{**user(FB), "message_id": "SM1"}, {**user("greet", 0.9), "message_id": "SM1"},
          user(FB)], (Turn("greet", 0.9),)),
    ],
)  # fmt: skip
def test_turns_before_the_latest(events: list[dict[str, Any]], turns: tuple[Turn, ...]) -> None:
    assert shopper_turns(events)[:-1] == turns


def form(name: str | None) -> dict[str, Any]:
    return {"event": "active_loop", "name": name}


def asks(slot: str | None) -> dict[str, Any]:
    return {"event": "slot", "name": "requested_slot", "value": slot}


FREE = frozenset({"return_reason"})


@pytest.mark.parametrize(
    ("events", "answers"),
    [
        # the form asked for a free-text slot: the reply is its answer
        ([form("return_form"), asks("return_reason"), user(FB)], [True]),
        # a slot filled from entities or intents is not free text
        ([form("return_form"), asks("order_number"), user(FB)], [False]),
        # once the form ends, messages are judged on NLU again
        ([form("return_form"), asks("return_reason"), user(FB), form(None), asks(None),
          user(FB)], [True, False]),
        # a restart forgets the form
        ([form("return_form"), asks("return_reason"), {"event": "restart"}, user(FB)], [False]),
        ([user(FB)], [False]),
    ],
)  # fmt: skip
def test_messages_answering_a_free_text_question_are_marked(
    events: list[dict[str, Any]], answers: list[bool]
) -> None:
    assert [t.answers_form for t in shopper_turns(events, FREE)] == answers


def test_free_text_slots_are_read_from_the_domain() -> None:
    domain = {
        "slots": {
            "return_reason": {"mappings": [{"type": "from_text", "conditions": []}]},
            "order_number": {"mappings": [{"type": "from_entity", "entity": "order_id"}]},
            "flag": {},
        }
    }
    assert free_text_slots(domain) == {"return_reason"}


def test_person_offered_means_the_bots_last_turn_had_the_button() -> None:
    offer = bot(["/contact_human_agent", "/deny"])
    assert person_offered([user("track_order"), offer, user("affirm")])
    assert person_offered([user("track_order"), bot(), offer, user("affirm")])
    assert not person_offered([offer, user("deny"), bot(), user("affirm")])


def test_sentiment_is_vader() -> None:
    assert sentiment("this is ridiculous, worst service ever, I am furious") < -0.8
    assert sentiment_label(sentiment("thanks, that's great")) == "positive"
    assert sentiment("") == 0.0
