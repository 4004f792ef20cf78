"""Table-driven tests of the pure NLU scoring functions (no model needed)."""

from __future__ import annotations

import pytest

from bot.nlu_eval import scoring
from bot.nlu_eval.runner import NluReport, Prediction, evaluate_predictions, format_report

FB = scoring.FALLBACK
OOS = scoring.OUT_OF_SCOPE


@pytest.mark.parametrize(
    ("gold", "pred", "expected"),
    [
        (["a", "b", "c", "d"], ["a", "b", "c", "d"], 1.0),
        (["a", "b", "c", "d"], ["a", "b", "x", FB], 0.5),
        (["a"], ["b"], 0.0),
        ([], [], 0.0),
    ],
)
def test_accuracy(gold, pred, expected):
    assert scoring.accuracy(gold, pred) == pytest.approx(expected)


def test_accuracy_rejects_unequal_lengths():
    with pytest.raises(ValueError):
        scoring.accuracy(["a", "b"], ["a"])


@pytest.mark.parametrize(
    ("gold", "pred", "expected"),
    [
        # perfect
        (["a", "a", "b", "b"], ["a", "a", "b", "b"], 1.0),
        # a: P=2/3 R=1 F=0.8; b: P=1 R=0.5 F=2/3 -> mean 0.7333
        (["a", "a", "b", "b"], ["a", "a", "a", "b"], (0.8 + 2 / 3) / 2),
        # a predicted as fallback: a P=0 R=0 F=0 ; b F=1 -> 0.5 (fallback is not a class)
        (["a", "b"], [FB, "b"], 0.5),
        # predicting a label outside gold lowers recall only
        (["a", "a"], ["a", "z"], 2 * 1 * 0.5 / 1.5),
    ],
)
def test_macro_f1(gold, pred, expected):
    assert scoring.macro_f1(gold, pred) == pytest.approx(expected)


def test_per_label_prf_counts():
    prf = scoring.per_label_prf(["a", "a", "b"], ["a", "b", "b"])
    assert prf["a"] == scoring.PRF(1.0, 0.5, pytest.approx(2 / 3), 2, 1, 1)
    assert prf["b"].precision == pytest.approx(0.5)
    assert prf["b"].recall == 1.0


@pytest.mark.parametrize(
    ("gold", "pred", "top", "expected"),
    [
        (["a", "b"], ["a", "b"], 10, []),
        (
            ["a", "a", "a", "b", "b", "c"],
            ["b", "b", "c", "a", "a", "a"],
            10,
            [("a", "b", 2), ("b", "a", 2), ("a", "c", 1), ("c", "a", 1)],
        ),
        (["a", "a", "b"], ["x", "y", "z"], 2, [("a", "x", 1), ("a", "y", 1)]),
    ],
)
def test_confused_pairs(gold, pred, top, expected):
    assert scoring.confused_pairs(gold, pred, top) == expected


@pytest.mark.parametrize(
    ("gold", "pred", "expected"),
    [
        ([OOS, OOS, OOS, OOS], [OOS, FB, "greet", OOS], 0.75),
        ([OOS, "a"], ["a", "a"], 0.0),
        (["a", "b"], ["a", "b"], None),
    ],
)
def test_out_of_scope_recall(gold, pred, expected):
    result = scoring.out_of_scope_recall(gold, pred)
    assert result == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize(
    ("gold", "pred", "fallback", "rejected"),
    [
        (["a", "b", "c", OOS], [FB, "b", OOS, FB], 1 / 3, 2 / 3),
        (["a", "b"], ["a", "b"], 0.0, 0.0),
        ([OOS], [OOS], None, None),
    ],
)
def test_in_scope_rates(gold, pred, fallback, rejected):
    fb = scoring.in_scope_fallback_rate(gold, pred)
    rj = scoring.in_scope_rejection_rate(gold, pred)
    assert fb == (pytest.approx(fallback) if fallback is not None else None)
    assert rj == (pytest.approx(rejected) if rejected is not None else None)


def test_unknown_intents():
    assert scoring.unknown_intents(["a", "x", "x", "y"], ["a", "b"]) == {"x": 2, "y": 1}
    assert scoring.unknown_intents(["a"], ["a"]) == {}


def _ents(*values, entity="order_id"):
    return [{"entity": entity, "value": v} for v in values]


@pytest.mark.parametrize(
    ("gold", "pred", "expected"),
    [
        # (precision, recall, f1)
        ([_ents("10023")], [_ents("10023")], (1.0, 1.0, 1.0)),
        # wrong value: one false positive and one miss
        ([_ents("10023")], [_ents("#10023")], (0.0, 0.0, 0.0)),
        # duplicate prediction: 1 hit, 1 false positive
        ([_ents("10023")], [_ents("10023", "10023")], (0.5, 1.0, 2 / 3)),
        # missed one of two, other entity types ignored
        (
            [_ents("1", "2") + _ents("a@b.co", entity="email")],
            [_ents("2") + _ents("x@y.co", entity="email")],
            (1.0, 0.5, 2 / 3),
        ),
        # spread over utterances; values only match within their utterance
        ([_ents("1"), _ents("2")], [_ents("2"), _ents("1")], (0.0, 0.0, 0.0)),
        ([[], []], [[], []], (0.0, 0.0, 0.0)),
    ],
)
def test_entity_prf(gold, pred, expected):
    s = scoring.entity_prf(gold, pred, "order_id")
    assert (s.precision, s.recall, s.f1) == pytest.approx(expected)


def test_confusion_matrix():
    labels, matrix = scoring.confusion_matrix(["a", "a", "b"], ["a", "b", "b"])
    assert labels == ["a", "b"]
    assert matrix == [[1, 1], [0, 1]]


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [([], 50, 0.0), ([5.0], 99, 5.0), ([1, 2, 3, 4], 50, 2.5), (list(range(101)), 99, 99.0)],
)
def test_percentile(values, q, expected):
    assert scoring.percentile(values, q) == pytest.approx(expected)


def _prediction(gold, pred, gold_ids=(), pred_ids=()):
    return Prediction(
        text=f"{gold} text",
        gold_intent=gold,
        intent=pred,
        confidence=0.5,
        gold_entities=_ents(*gold_ids),
        entities=_ents(*pred_ids),
    )


def test_evaluate_predictions_and_format_report():
    predictions = [
        _prediction("cancel_order", "cancel_order", ["10023"], ["10023"]),
        _prediction("cancel_order", "change_order", ["55102"], ["55102"]),
        _prediction("track_order", FB),
        _prediction(OOS, OOS),
        _prediction(OOS, "greet"),
        _prediction("unknown_intent", "greet"),
    ]
    report = evaluate_predictions(
        predictions,
        known_intents={"cancel_order", "change_order", "track_order", OOS, "greet"},
        latencies_ms=[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        model="m.tar.gz",
        test_file="t.yml",
    )
    assert isinstance(report, NluReport)
    assert report.n_utterances == 6
    assert report.intent_accuracy == pytest.approx(2 / 6)
    assert report.oos_recall == pytest.approx(0.5)
    assert report.in_scope_fallback_rate == pytest.approx(1 / 4)
    assert report.unknown_intents == {"unknown_intent": 1}
    assert report.order_id is not None and report.order_id.f1 == 1.0
    assert ("cancel_order", "change_order", 1) in report.top_confusions
    assert len(report.errors) == 4
    text = format_report(report)
    for needle in (
        "intent accuracy",
        "33.3%",
        "macro-F1",
        "out-of-scope recall",
        "50.0%",
        "order_id",
        "unknown_intent (1)",
        "cancel_order -> change_order: 1",
    ):
        assert needle in text
    assert report.to_dict()["top_confusions"][0]["count"] == 1
