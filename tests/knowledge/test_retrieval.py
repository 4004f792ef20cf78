"""Ranking on a small synthetic index: intent boost, typos, coverage of the message."""

from __future__ import annotations

import pytest

from bot.knowledge.retrieval import IndexedDocument, SearchIndex


def doc(doc_id: str, title: str, body: str, tags: tuple[str, ...] = ()) -> IndexedDocument:
    return IndexedDocument(doc_id, title, tags, (), (), body)


DOCS = [
    doc("returns", "Our return policy", "Return unworn items within 30 days for a refund.",
        ("check_refund_policy",)),
    doc("refund-status", "Where is my refund", "Refunds reach your card in 5-10 business days.",
        ("track_refund",)),
    doc("shipping", "Shipping costs", "Standard shipping costs $5.95, express $14.95."),
    doc("passwords", "Reset your password", "Choose forgot password to get a reset link."),
]  # fmt: skip


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    # Word matching only: on four tiny documents the character n-gram similarity (tuned for
    # the real help centre) would swamp what these tests look at.
    return SearchIndex(DOCS, char_weight=0)


def best(index: SearchIndex, text: str, boosts: list[float] | None = None) -> str:
    return DOCS[index.rank(text, boosts)[0].index].id


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("how much is shipping", "shipping"),
        ("forgot my pasword", "passwords"),  # typo corrected
        ("can I send things back", "returns"),  # phrase synonym
        ("where's my refnd", "refund-status"),
    ],
)
def test_best_match(index: SearchIndex, text: str, expected: str) -> None:
    assert best(index, text) == expected


def test_intent_boost_breaks_a_tie() -> None:
    twins = [doc("a", "Refunds", "How refunds work."), doc("b", "Refunds", "How refunds work.")]
    index = SearchIndex(twins)
    for boosts, expected in (([1.3, 1.0], "a"), ([1.0, 1.3], "b")):
        ranked = index.rank("refund", boosts)
        assert twins[ranked[0].index].id == expected
        assert ranked[0].relevance == pytest.approx(1.3 * ranked[1].relevance)


def test_typo_counts_a_little_less(index: SearchIndex) -> None:
    [term] = index.query_terms("pasword")
    assert (term.term, term.written, term.certainty) == ("password", "pasword", 0.8)
    # The first letter must match: "iphone" is not a typo of "phone".
    assert index.query_terms("iphone")[0].term not in ("call", "phone")


def test_a_word_in_half_the_documents_still_counts(index: SearchIndex) -> None:
    # "refund" is in 2 of 4 documents: rank-bm25's IDF is 0 there, coverage must not be.
    assert index.rank("refund")[0].coverage == pytest.approx(1.0)


def test_coverage_is_low_when_most_words_are_unknown(index: SearchIndex) -> None:
    on_topic = index.rank("how much is express shipping")[0]
    off_topic = index.rank("return a library book")[0]
    assert on_topic.coverage == pytest.approx(1.0)
    assert off_topic.coverage < 0.4


def test_product_names_count_less(index: SearchIndex) -> None:
    terms = {t.term: t.importance for t in index.query_terms("return my jacket")}
    assert terms == {"return": 1.0, "jacket": 0.4}


def test_empty_message_and_empty_index() -> None:
    assert all(r.relevance == 0 for r in SearchIndex(DOCS).rank("the and of"))
    assert SearchIndex([]).rank("refund") == []
