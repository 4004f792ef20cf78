"""The trained model on held-out utterances (tests/nlu/*.yml), through the session's Rasa.

`nlu_parse` (tests/conftest.py) parses with the project's model, trained once per test run.
The held-out files are never used for training: test_held_out_sets_are_not_training_data
checks that, without a model.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PAIRS_FILE = HERE / "confusable_pairs.yml"
OOS_FILE = HERE / "out_of_scope.yml"
FALLBACK = "nlu_fallback"

#: Intents that are easy to mix up; each side must be recognised on >= 90% of its examples.
PAIRS = [
    ("track_order", "track_refund"),
    ("get_refund", "check_refund_policy"),
    ("contact_customer_service", "contact_human_agent"),
    ("change_order", "cancel_order"),
    ("check_invoice", "get_invoice"),
    ("change_shipping_address", "set_up_shipping_address"),
    ("delivery_options", "delivery_period"),
    ("get_refund", "start_return"),
]
SIDES = sorted({intent for pair in PAIRS for intent in pair})
MIN_SIDE_ACCURACY = 0.90
MIN_OOS_RECALL = 0.90

Parse = Callable[[str], dict[str, Any]]


def _examples(path: Path) -> list[tuple[str, str, list[dict[str, Any]]]]:
    from bot.nlu_eval.runner import load_test_examples

    return load_test_examples(path)


def test_held_out_sets_are_not_training_data() -> None:
    from rasa.shared.nlu.training_data.loading import load_data

    nlu = load_data(str(REPO_ROOT / "data" / "nlu"))
    training = {m.get("text").strip().lower() for m in nlu.intent_examples}
    for path in (PAIRS_FILE, OOS_FILE):
        leaked = [text for text, _, _ in _examples(path) if text.strip().lower() in training]
        assert leaked == [], f"{path.name} sentences also in data/: {leaked}"


def test_held_out_sets_are_big_enough() -> None:
    pairs = [intent for _, intent, _ in _examples(PAIRS_FILE)]
    for side in SIDES:
        assert pairs.count(side) >= 10, side
    oos = [intent for _, intent, _ in _examples(OOS_FILE)]
    assert len(oos) >= 100 and set(oos) == {"out_of_scope"}


@pytest.mark.integration
@pytest.mark.parametrize("intent", SIDES)
def test_confusable_pair_side(nlu_parse: Parse, intent: str) -> None:
    examples = [text for text, gold, _ in _examples(PAIRS_FILE) if gold == intent]
    predicted = {text: nlu_parse(text)["intent"]["name"] for text in examples}
    wrong = {text: p for text, p in predicted.items() if p != intent}
    accuracy = 1 - len(wrong) / len(examples)
    assert accuracy >= MIN_SIDE_ACCURACY, f"{intent}: {accuracy:.0%}, misread: {wrong}"


@pytest.mark.integration
def test_out_of_scope_recall(nlu_parse: Parse) -> None:
    examples = [text for text, _, _ in _examples(OOS_FILE)]
    accepted = {}
    for text in examples:
        intent = nlu_parse(text)["intent"]["name"]
        if intent not in ("out_of_scope", FALLBACK):
            accepted[text] = intent
    recall = 1 - len(accepted) / len(examples)
    assert recall >= MIN_OOS_RECALL, (
        f"out-of-scope recall {recall:.0%}; taken as in-scope: {accepted}"
    )


def _values(parse: dict[str, Any], entity: str) -> list[str]:
    return [e["value"] for e in parse["entities"] if e["entity"] == entity]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("text", "entity", "values"),
    [
        ("where is my order 10023", "order_id", ["10023"]),
        ("cancel order #10023 please", "order_id", ["10023"]),
        ("status of ORD-10023", "order_id", ["10023"]),
        ("I need help with purchase 00004587345", "order_id", ["00004587345"]),
        ("can you cancel order 113542617735902?", "order_id", ["113542617735902"]),
        ("10023", "order_id", ["10023"]),
        ("I want to check invoice #12588", "order_id", []),
        ("I expect a refund of $1200 for order 55102", "order_id", ["55102"]),
        ("my email is jane.doe@example.com", "email", ["jane.doe@example.com"]),
        ("my phone is +1 415 555 0132", "phone", ["+1 415 555 0132"]),
        ("call me on (415) 555-0199", "phone", ["(415) 555-0199"]),
        ("is the rain jacket back in stock", "product", ["rain jacket"]),
    ],
)
def test_entities(nlu_parse: Parse, text: str, entity: str, values: list[str]) -> None:
    assert _values(nlu_parse(text), entity) == values


@pytest.mark.integration
@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("10023", "inform"),
        ("jane.doe@example.com", "inform"),
        ("what's the weather in paris tomorrow", "out_of_scope"),
        ("is the down parka back in stock", "product_availability"),
        ("does the fleece run small", "product_question"),
        ("what can you do", "help"),
        ("are you a bot", "bot_challenge"),
    ],
)
def test_core_intents(nlu_parse: Parse, text: str, intent: str) -> None:
    assert nlu_parse(text)["intent"]["name"] == intent
