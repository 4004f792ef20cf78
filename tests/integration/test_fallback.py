"""Not understood: once, the assistant rephrases its menu; twice in a row, a person takes over.
Through Rasa's real HTTP channel, with the trained model, the action server and the store."""

from __future__ import annotations

import pytest

from tests.conftest import RunningStack
from tests.integration.conversation import texts, ticket_reasons

pytestmark = pytest.mark.integration


def test_one_fallback_rephrases_the_menu(rasa_stack: RunningStack, sender_id: str) -> None:
    reply = texts(rasa_stack.say(sender_id, "blorp fnarg wibble"))
    assert "Could you say it another way" in reply
    assert "support team" not in reply


def test_two_fallbacks_in_a_row_hand_over(rasa_stack: RunningStack, sender_id: str) -> None:
    rasa_stack.say(sender_id, "blorp fnarg wibble")
    reply = texts(rasa_stack.say(sender_id, "asdkj qwe zzz"))
    assert "passed your conversation to our support team" in reply
    assert ticket_reasons(rasa_stack, sender_id)[0] == "low_confidence"


def test_an_understood_message_in_between_starts_the_count_again(
    rasa_stack: RunningStack, sender_id: str
) -> None:
    rasa_stack.say(sender_id, "blorp fnarg wibble")
    rasa_stack.say(sender_id, "how long does delivery take")
    reply = texts(rasa_stack.say(sender_id, "asdkj qwe zzz"))
    assert "Could you say it another way" in reply
