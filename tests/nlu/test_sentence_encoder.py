"""The offline sentence encoder (bot/nlu_components): numpy MiniLM and its Rasa component.

The numpy forward pass is checked against vectors computed by sentence-transformers itself
(fixtures/minilm_reference.json, made by fixtures/make_minilm_reference.py in a throwaway
virtualenv), so a mistake in the maths cannot hide behind a classifier that still trains.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "minilm_reference.json"


@pytest.fixture(scope="module")
def encoder():  # type: ignore[no-untyped-def]
    from bot.rasa_plugins.sentence_encoder import load_bundled_encoder

    return load_bundled_encoder()


def test_vectors_match_sentence_transformers(encoder) -> None:  # type: ignore[no-untyped-def]
    reference = json.loads(FIXTURE.read_text())
    expected = np.array(reference["vectors"], dtype=np.float32)
    actual = encoder.encode(reference["sentences"])
    assert actual.shape == expected.shape == (len(reference["sentences"]), 384)
    cosines = (actual * expected).sum(axis=1) / np.linalg.norm(expected, axis=1)
    assert cosines.min() > 0.9999, cosines
    assert np.abs(actual - expected).max() < 1e-4


def test_vectors_are_unit_length_and_independent_of_the_batch(encoder) -> None:  # type: ignore[no-untyped-def]
    texts = ["hi", "where is my parcel", "I would like to cancel order 10023 please, today"]
    together = encoder.encode(texts)
    alone = np.vstack([encoder.encode([text]) for text in texts])
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    # Padding in a batch must not change a text's vector (attention mask, masked pooling).
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert encoder.encode([]).shape == (0, 384)


def test_paraphrases_are_closer_than_unrelated_requests(encoder) -> None:  # type: ignore[no-untyped-def]
    # (request, the same request in other words, a different request)
    triples = [
        ("where is my parcel", "where is my package", "please refund me"),
        ("I want my money back", "please refund me", "where is my parcel"),
        ("how do I contact customer support", "how can I reach your support team",
         "will it rain tomorrow"),
    ]  # fmt: skip
    for request, paraphrase, other in triples:
        v_request, v_paraphrase, v_other = encoder.encode([request, paraphrase, other])
        same, different = float(v_request @ v_paraphrase), float(v_request @ v_other)
        assert same > 0.6, (request, paraphrase, same)
        assert same > different + 0.3, (request, same, different)


class _FakeEncoder:
    """Stands in for the model: a vector from the text length, so tests need no weights."""

    dimension = 4

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.array([[len(t), 1.0, 0.0, 0.0] for t in texts], dtype=np.float32)


def test_component_adds_one_sentence_feature_per_text_in_one_batch() -> None:
    from rasa.shared.nlu.constants import TEXT
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.rasa_plugins.sentence_encoder import SentenceEncoderFeaturizer

    fake = _FakeEncoder()
    component = SentenceEncoderFeaturizer(
        SentenceEncoderFeaturizer.get_default_config(), "encoder", fake
    )
    messages = [
        Message(data={TEXT: "where is my order", "intent": "track_order"}),
        Message(data={TEXT: "refund", "intent": "get_refund"}),
        Message(data={"intent": "greet"}),  # no text: left alone
    ]
    component.process_training_data(TrainingData(training_examples=messages))

    assert fake.calls == [["where is my order", "refund"]]
    for message, length in zip(messages[:2], (17, 6), strict=True):
        sequence, sentence = message.get_dense_features(TEXT)
        assert sequence is None
        assert sentence is not None
        assert sentence.features.shape == (1, 4)
        assert sentence.features[0, 0] == length
    assert [f.origin for f in messages[0].features] == ["encoder"]
    assert messages[2].get_dense_features(TEXT) == (None, None)


def test_component_is_registered_and_shares_one_encoder() -> None:
    from rasa.engine.graph import ExecutionContext
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    from bot.rasa_plugins.sentence_encoder import SentenceEncoderFeaturizer

    registered = DefaultV1Recipe._from_registry(SentenceEncoderFeaturizer.__name__)
    assert registered.clazz is SentenceEncoderFeaturizer
    assert DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER in registered.types
    assert not registered.is_trainable

    def create() -> SentenceEncoderFeaturizer:
        return SentenceEncoderFeaturizer.create(
            SentenceEncoderFeaturizer.get_default_config(),
            LocalModelStorage(Path("/nonexistent")),
            Resource("encoder"),
            ExecutionContext(graph_schema=None, node_name="encoder"),  # type: ignore[arg-type]
        )

    assert create()._encoder is create()._encoder


def test_component_scales_the_vectors_and_rejects_a_bad_scale() -> None:
    from rasa.shared.nlu.constants import TEXT
    from rasa.shared.nlu.training_data.message import Message

    from bot.rasa_plugins.sentence_encoder import SentenceEncoderFeaturizer

    config = {**SentenceEncoderFeaturizer.get_default_config(), "scale": 10.0}
    component = SentenceEncoderFeaturizer(config, "encoder", _FakeEncoder())
    message = Message(data={TEXT: "hi"})
    component.process([message])
    _, sentence = message.get_dense_features(TEXT)
    assert sentence is not None
    assert sentence.features.tolist() == [[20.0, 10.0, 0.0, 0.0]]

    with pytest.raises(ValueError, match="scale"):
        SentenceEncoderFeaturizer({**config, "scale": 0}, "encoder", _FakeEncoder())
