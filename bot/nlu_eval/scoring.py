"""Pure scoring functions for NLU evaluation (no Rasa, no model, no I/O).

Conventions:
- ``gold`` and ``pred`` are parallel sequences of intent names, one per test utterance.
- ``FALLBACK`` is what the FallbackClassifier predicts when the model is unsure; it counts as an
  error for every in-scope utterance and as a correct rejection for an out-of-scope one.
- Entities are compared by type and exact value (``"10023"``), per utterance, as multisets.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

FALLBACK = "nlu_fallback"
OUT_OF_SCOPE = "out_of_scope"


@dataclass(frozen=True)
class PRF:
    """Precision, recall and F1 with the counts they come from."""

    precision: float
    recall: float
    f1: float
    support: int  # gold items
    predicted: int  # predicted items
    true_positives: int


def _safe_div(num: float, den: float) -> float:
    return num / den if den else 0.0


def _prf(tp: int, n_pred: int, n_gold: int) -> PRF:
    precision = _safe_div(tp, n_pred)
    recall = _safe_div(tp, n_gold)
    f1 = _safe_div(2 * precision * recall, precision + recall)
    return PRF(precision, recall, f1, n_gold, n_pred, tp)


def _check_parallel(gold: Sequence[str], pred: Sequence[str]) -> None:
    if len(gold) != len(pred):
        raise ValueError(f"gold has {len(gold)} labels but pred has {len(pred)}")


def accuracy(gold: Sequence[str], pred: Sequence[str]) -> float:
    """Share of utterances whose predicted intent equals the gold intent."""
    _check_parallel(gold, pred)
    return _safe_div(sum(g == p for g, p in zip(gold, pred, strict=True)), len(gold))


def per_label_prf(
    gold: Sequence[str], pred: Sequence[str], labels: Iterable[str] | None = None
) -> dict[str, PRF]:
    """Precision/recall/F1 for each label (default: every label in gold or pred)."""
    _check_parallel(gold, pred)
    if labels is None:
        labels = sorted(set(gold) | set(pred))
    tp = Counter(g for g, p in zip(gold, pred, strict=True) if g == p)
    n_gold = Counter(gold)
    n_pred = Counter(pred)
    return {label: _prf(tp[label], n_pred[label], n_gold[label]) for label in labels}


def macro_f1(gold: Sequence[str], pred: Sequence[str]) -> float:
    """Unweighted mean F1 over the intents that occur in ``gold``.

    A prediction of a label that is not in gold (another intent, ``nlu_fallback``) lowers
    the recall of the gold intent but does not add a zero-F1 class of its own.
    """
    labels = sorted(set(gold))
    if not labels:
        return 0.0
    scores = per_label_prf(gold, pred, labels)
    return sum(s.f1 for s in scores.values()) / len(labels)


def confused_pairs(
    gold: Sequence[str], pred: Sequence[str], top: int = 10
) -> list[tuple[str, str, int]]:
    """The ``top`` most frequent (gold, predicted) pairs with gold != predicted.

    Ties are broken alphabetically so the output is stable.
    """
    _check_parallel(gold, pred)
    counts = Counter((g, p) for g, p in zip(gold, pred, strict=True) if g != p)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [(g, p, n) for (g, p), n in ranked[:top]]


def out_of_scope_recall(
    gold: Sequence[str], pred: Sequence[str], oos_label: str = OUT_OF_SCOPE
) -> float | None:
    """Share of out-of-scope utterances predicted ``out_of_scope`` or ``nlu_fallback``.

    ``None`` when the test set has no out-of-scope utterance.
    """
    _check_parallel(gold, pred)
    hits = [p in (oos_label, FALLBACK) for g, p in zip(gold, pred, strict=True) if g == oos_label]
    return _safe_div(sum(hits), len(hits)) if hits else None


def in_scope_fallback_rate(
    gold: Sequence[str], pred: Sequence[str], oos_label: str = OUT_OF_SCOPE
) -> float | None:
    """Share of in-scope utterances (gold != out_of_scope) predicted ``nlu_fallback``."""
    _check_parallel(gold, pred)
    hits = [p == FALLBACK for g, p in zip(gold, pred, strict=True) if g != oos_label]
    return _safe_div(sum(hits), len(hits)) if hits else None


def in_scope_rejection_rate(
    gold: Sequence[str], pred: Sequence[str], oos_label: str = OUT_OF_SCOPE
) -> float | None:
    """Share of in-scope utterances the bot would turn away (fallback or out_of_scope)."""
    _check_parallel(gold, pred)
    hits = [p in (FALLBACK, oos_label) for g, p in zip(gold, pred, strict=True) if g != oos_label]
    return _safe_div(sum(hits), len(hits)) if hits else None


def unknown_intents(gold: Iterable[str], known: Iterable[str]) -> dict[str, int]:
    """Gold intents the model cannot predict, with how many test utterances carry them."""
    known_set = set(known)
    return dict(sorted(Counter(g for g in gold if g not in known_set).items()))


def entity_prf(
    gold: Sequence[Iterable[Mapping[str, object]]],
    pred: Sequence[Iterable[Mapping[str, object]]],
    entity: str,
) -> PRF:
    """Exact-value precision/recall/F1 of one entity type.

    ``gold[i]`` and ``pred[i]`` are the entity dicts (Rasa format: ``entity``, ``value``) of
    utterance ``i``. A predicted value counts once per matching gold value (multiset match), so
    the same number extracted twice is one hit and one false positive.
    """
    if len(gold) != len(pred):
        raise ValueError(f"gold has {len(gold)} utterances but pred has {len(pred)}")
    tp = n_gold = n_pred = 0
    for gold_ents, pred_ents in zip(gold, pred, strict=True):
        g = Counter(str(e.get("value")) for e in gold_ents if e.get("entity") == entity)
        p = Counter(str(e.get("value")) for e in pred_ents if e.get("entity") == entity)
        tp += sum((g & p).values())
        n_gold += sum(g.values())
        n_pred += sum(p.values())
    return _prf(tp, n_pred, n_gold)


def confusion_matrix(
    gold: Sequence[str], pred: Sequence[str], labels: Sequence[str] | None = None
) -> tuple[list[str], list[list[int]]]:
    """Rows are gold labels, columns predicted labels (default: union, sorted)."""
    _check_parallel(gold, pred)
    if labels is None:
        labels = sorted(set(gold) | set(pred))
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, pred, strict=True):
        if g in index and p in index:
            matrix[index[g]][index[p]] += 1
    return list(labels), matrix


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation, like numpy's default."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
