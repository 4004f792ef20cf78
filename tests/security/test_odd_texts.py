"""Odd texts the NLU must survive even when a caller skips channels.core.inbound_text
(Rasa's own HTTP API, `rasa shell`): the sentence encoder's tokenizer refuses lone surrogates."""

from __future__ import annotations

import pytest

from bot.rasa_plugins.sentence_encoder import encodable


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("where is my order", "where is my order"),
        ("\ud800", "\ufffd"),
        ("order \ud800 10024", "order \ufffd 10024"),
        ("\ud83d\ude00 thanks", "\U0001f600 thanks"),  # a split pair is the emoji it encodes
        ("\U0001f600 thanks", "\U0001f600 thanks"),
    ],
)
def test_encodable(text: str, expected: str) -> None:
    assert encodable(text) == expected
    encodable(text).encode("utf-8")  # what the tokenizer needs
