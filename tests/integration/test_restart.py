"""A crash mid-conversation loses nothing: Rasa's SQL tracker store keeps the form's state."""

from __future__ import annotations

import signal

import pytest

from tests.conftest import RunningStack

pytestmark = pytest.mark.integration


def test_crash_of_rasa_and_actions_mid_form_keeps_the_conversation(
    rasa_stack: RunningStack, sender_id: str
) -> None:
    rasa_stack.say(sender_id, "where is my order")
    asked = rasa_stack.say(sender_id, "10023")
    assert "email address or phone number" in asked[0]["text"]

    rasa_stack.supervisor.restart("rasa", kill_signal=signal.SIGKILL)
    rasa_stack.supervisor.restart("actions", kill_signal=signal.SIGKILL)

    tracker = rasa_stack.tracker(sender_id)
    assert tracker["slots"]["order_number"] == "10023"
    assert tracker["active_loop"]["name"] == "order_status_form"
    reply = rasa_stack.say(sender_id, "ava.martin@example.com")
    assert "1Z999AA10123456784" in " ".join(m.get("text", "") for m in reply)
