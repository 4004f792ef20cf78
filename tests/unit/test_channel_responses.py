"""Channel-specific response variants: what each channel's shoppers actually see."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

DOMAIN = Path(__file__).resolve().parents[2] / "domain"


@pytest.fixture(scope="module")
def nlg() -> TemplatedNaturalLanguageGenerator:
    return TemplatedNaturalLanguageGenerator(Domain.load(str(DOMAIN)).responses)


def say(nlg: TemplatedNaturalLanguageGenerator, response: str, channel: str) -> str:
    tracker = DialogueStateTracker("shopper", [])
    message = asyncio.run(nlg.generate(response, tracker, channel))
    assert message is not None
    return str(message["text"])


@pytest.mark.parametrize(
    ("channel", "fragment"),
    [
        # the web chat page cannot upload files: it must not ask for a photo it can't take
        ("socketio", "can't take photos"),
        ("whatsapp", "send a photo"),
        ("messenger", "send a photo"),
        ("telegram", "send a photo"),
        ("rest", "send a photo"),
    ],
)
def test_photo_request_fits_the_channel(
    nlg: TemplatedNaturalLanguageGenerator, channel: str, fragment: str
) -> None:
    assert fragment in say(nlg, "utter_ask_return_photo", channel)
