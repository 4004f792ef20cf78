"""Text analysis: the same words on both sides, whatever the shopper's spelling."""

from __future__ import annotations

import pytest

from bot.knowledge.analysis import bigrams, normalise, stem, term_for, terms


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("shipping", "ship"), ("shipped", "ship"), ("ships", "ship"),
        ("change", "chang"), ("changing", "chang"), ("changed", "chang"),
        ("returns", "return"), ("returned", "return"), ("refunded", "refund"),
        ("policies", "policy"), ("boxes", "box"), ("addresses", "address"),
        ("care", "care"), ("caring", "care"),  # "care" must not become "car"
        ("size", "size"), ("sizing", "size"), ("payment", "pay"),
        ("permanently", "permanent"), ("days", "day"), ("bus", "bus"), ("10023", "10023"),
    ],
)  # fmt: skip
def test_stem(word: str, expected: str) -> None:
    assert stem(word) == expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("the", None), ("pls", None), ("wondering", None), ("x", None),
        ("10023", None),  # order numbers say nothing about the topic
        ("package", "parcel"), ("reimbursed", "refund"), ("receipt", "invoice"),
        ("broken", "damag"), ("canada", "international"), ("shipping", "ship"),
    ],
)  # fmt: skip
def test_term_for(word: str, expected: str | None) -> None:
    assert term_for(word) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I want my MONEY BACK!", ["refund"]),
        ("can't log in", ["signin"]),
        ("how do I sign up", ["signup"]),
        ("where's my refund?", ["whereis", "refund"]),
        ("I sent the boots back", ["return"]),
        ("how long does shipping take", ["howlong", "ship", "take"]),
        ("has my order shipped yet", ["track"]),
        ("Café e-mail", ["cafe", "email"]),
    ],
)
def test_terms(text: str, expected: list[str]) -> None:
    assert terms(text) == expected


def test_normalise_folds_quotes_and_contractions() -> None:
    assert normalise("Where\u2019s MY order? don't") == "wheres my order? dont"


def test_bigrams_skip_repeats() -> None:
    assert bigrams(["free", "ship", "ship", "order"]) == ["free_ship", "ship_order"]
