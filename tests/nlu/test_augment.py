"""The generated typo file is current, and the typo generator behaves as documented."""

from __future__ import annotations

import random
import re

import pytest

from bot.nlu_eval import augment


def test_typos_file_is_up_to_date():
    target = augment.NLU_DIR / augment.OUTPUT_NAME
    assert target.read_text() == augment.generate(), (
        "data/nlu/typos.yml is stale: run  .venv/bin/python -m bot.nlu_eval.augment"
    )


@pytest.mark.parametrize("word", ["refund", "cancel", "Shipping", "invoice", "password"])
def test_typo_changes_one_inner_spot(word):
    rng = random.Random(1)
    for _ in range(50):
        variant = augment.typo(word, rng)
        assert variant != word
        assert variant[0] == word[0] and variant[-1] == word[-1]
        assert abs(len(variant) - len(word)) <= 1


@pytest.mark.parametrize(
    ("example", "protected"),
    [
        ("cancel order [10023](order_id) please", "[10023](order_id)"),
        ("is the [rain jacket](product) in stock", "[rain jacket](product)"),
        ('my mail [a@b.co]{"entity": "email"} thanks', '[a@b.co]{"entity": "email"}'),
    ],
)
def test_misspell_keeps_annotations(example, protected):
    rng = random.Random(3)
    for _ in range(30):
        variant = augment.misspell(example, rng)
        assert variant is not None and protected in variant and variant != example


def test_misspell_skips_short_words():
    assert augment.misspell("hi yes ok", random.Random(0)) is None


def test_generated_file_skips_generic_intents_and_keeps_sources_apart():
    text = augment.generate()
    intents = set(re.findall(r"^- intent: (\w+)$", text, flags=re.M))
    assert intents.isdisjoint(augment.SKIP_INTENTS)
    assert {"track_refund", "cancel_order", "delivery_options"} <= intents
    sources = {e.lower() for exs in augment.read_intent_examples().values() for e in exs}
    variants = re.findall(r"^    - (.*)$", text, flags=re.M)
    assert variants and not ({v.lower() for v in variants} & sources)
