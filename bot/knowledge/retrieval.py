"""Ranking articles for a shopper's message: BM25 (rank-bm25) over analysed terms.

Two numbers come out per article:

* `relevance` orders the results. It adds three BM25 scores: the full article text, its
  "head" (title, summary, keywords, headings, tags: what the article is *about*, whereas the
  body mentions many things in passing), and adjacent-term pairs ("never arrived", "free
  shipping": phrase evidence); plus a character n-gram TF-IDF similarity to the head, which
  catches what word matching misses ("parkas", "lable", "reimbursed"). Articles tagged with
  the predicted intent are boosted.
* `coverage`, 0 to 1, says how much of the message the article accounts for and decides
  whether the answer is trusted. Each message term weighs its IDF (a word no article uses
  weighs as much as the rarest word they do use) and counts as matched up to that weight.
  "how do I return a library book" matches "return" but not "library" or "book", so its
  coverage is low whatever the BM25 score: that is what makes off-topic messages weak.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from rank_bm25 import BM25Okapi
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.knowledge.analysis import (
    PRODUCT_TERMS,
    SYNONYMS,
    bigrams,
    normalise,
    raw_words,
    term_for,
    terms,
)

#: How much a typo-corrected word counts compared with one spelled right.
TYPO_WEIGHT = 0.8
#: difflib similarity needed to correct a word ("refnd" -> "refund" is 0.91).
TYPO_CUTOFF = 0.8
#: Shortest word we try to correct: short words are too easily "corrected" into others.
TYPO_MIN_LENGTH = 5
#: How much a product name counts in a message, relative to other words.
PRODUCT_IMPORTANCE = 0.4
#: Relevance = full text + HEAD_WEIGHT x head + BIGRAM_WEIGHT x term pairs
#: + CHAR_WEIGHT x character n-gram cosine (0-1) with the head. Chosen on
#: tests/knowledge/retrieval_questions.yml; results are flat for CHAR_WEIGHT 10-30.
HEAD_WEIGHT = 1.0
BIGRAM_WEIGHT = 0.5
CHAR_WEIGHT = 15.0
#: Field repetitions in the full-text index: a word in the title says more than in passing.
FIELD_WEIGHTS = {"title": 3, "keywords": 2, "headings": 2, "tags": 1, "body": 1}


@dataclass(frozen=True)
class IndexedDocument:
    id: str
    title: str
    tags: tuple[str, ...]
    keywords: tuple[str, ...]
    headings: tuple[str, ...]
    body: str  # plain text
    summary: str = ""

    def _fields(self) -> dict[str, str]:
        return {
            "title": self.title,
            "keywords": " | ".join(self.keywords),
            "headings": " | ".join(self.headings),
            "tags": " | ".join(t.replace("_", " ") for t in self.tags),
            "body": self.body,
        }

    def terms(self) -> list[str]:
        found: list[str] = []
        for name, text in self._fields().items():
            found += terms(text) * FIELD_WEIGHTS[name]
        return found

    def head_text(self) -> str:
        fields = self._fields()
        return " ".join(
            [fields["title"], fields["keywords"], self.summary, fields["headings"], fields["tags"]]
        )

    def head_terms(self) -> list[str]:
        return terms(self.head_text())

    def bigram_terms(self) -> list[str]:
        # Pairs never span two keywords or headings: "|" separates them before analysis.
        found: list[str] = []
        for text in [*self._fields().values(), self.summary]:
            for part in text.split("|"):
                found += bigrams(terms(part))
        return found

    def surface_words(self) -> set[str]:
        text = " ".join([self.title, *self.keywords, *self.headings, self.body])
        return {w for w in raw_words(text) if len(w) >= TYPO_MIN_LENGTH - 1 and w.isalpha()}


@dataclass(frozen=True)
class QueryTerm:
    term: str
    written: str  # the word as the shopper wrote it (differs when corrected)
    importance: float = 1.0  # share of the message this term stands for
    certainty: float = 1.0  # below 1 for typo corrections: they match a little less


@dataclass(frozen=True)
class Ranked:
    index: int  # position of the document in the index
    relevance: float
    coverage: float


def _bm25(corpus: list[list[str]], k1: float, b: float) -> BM25Okapi | None:
    # rank-bm25 divides by the vocabulary size: an empty corpus gets no model.
    return BM25Okapi(corpus, k1=k1, b=b) if any(corpus) else None


class SearchIndex:
    def __init__(
        self,
        documents: Sequence[IndexedDocument],
        *,
        k1: float = 1.2,
        b: float = 0.75,
        head_weight: float = HEAD_WEIGHT,
        bigram_weight: float = BIGRAM_WEIGHT,
        char_weight: float = CHAR_WEIGHT,
    ) -> None:
        self.documents = tuple(documents)
        self._k1, self._b = k1, b
        self._weights = (head_weight, bigram_weight, char_weight)
        self._full = _bm25([d.terms() for d in self.documents], k1, b)
        self._head = _bm25([d.head_terms() for d in self.documents], k1, b)
        self._pairs = _bm25([d.bigram_terms() for d in self.documents], k1, b)
        idf = dict(self._full.idf) if self._full else {}
        # rank-bm25 gives a term in exactly half the articles an IDF of 0; it still means
        # something in a message, so weights never fall below a quarter of the average.
        floor = 0.25 * sum(idf.values()) / len(idf) if idf else 0.0
        self._idf: dict[str, float] = {t: max(v, floor) for t, v in idf.items()}
        self._chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
        heads = [normalise(d.head_text()) for d in self.documents]
        self._char_matrix = self._chars.fit_transform(heads) if any(heads) else None
        # A word no article uses weighs like the rarest word they do use.
        self._unknown_idf = max(self._idf.values(), default=1.0)
        words: set[str] = set()
        for document in self.documents:
            words |= document.surface_words()
        words |= {w for w in SYNONYMS if len(w) >= TYPO_MIN_LENGTH and w.isalpha()}
        self._words = sorted(words)
        self._correct = lru_cache(maxsize=4096)(self._correct_uncached)

    @property
    def vocabulary_size(self) -> int:
        return len(self._idf)

    @property
    def term_count(self) -> int:
        return int(sum(self._full.doc_len)) if self._full else 0

    def _correct_uncached(self, word: str) -> str | None:
        if len(word) < TYPO_MIN_LENGTH or not word.isalpha():
            return None
        # Typos rarely hit the first letter; requiring it keeps "iphone" from becoming "phone".
        same_start = [w for w in self._words if w[0] == word[0]]
        close = difflib.get_close_matches(word, same_start, n=1, cutoff=TYPO_CUTOFF)
        if not close:
            return None
        term = term_for(close[0])
        return term if term in self._idf else None

    def query_terms(self, text: str) -> list[QueryTerm]:
        """The message's terms, typos corrected against the articles' words, repeats dropped."""
        found: dict[str, QueryTerm] = {}
        for word in raw_words(text):
            term = term_for(word)
            if term is None or term in found:
                continue
            importance = PRODUCT_IMPORTANCE if term in PRODUCT_TERMS else 1.0
            if term not in self._idf:
                corrected = self._correct(word)
                if corrected is not None:
                    if corrected not in found:
                        found[corrected] = QueryTerm(corrected, word, importance, TYPO_WEIGHT)
                    continue
            found[term] = QueryTerm(term, word, importance)  # unknown ones lower coverage
        return list(found.values())

    def idf(self, term: str) -> float:
        return self._idf.get(term, self._unknown_idf)

    def _saturation(self, term: str) -> np.ndarray:
        """Per document, how fully it matches a term (0-1): BM25's term-frequency part.

        One mention in an article of average length counts fully; fewer in a longer one
        counts a little less.
        """
        assert self._full is not None
        tf = np.array([f.get(term, 0) for f in self._full.doc_freqs], dtype=float)
        length = np.asarray(self._full.doc_len, dtype=float) / self._full.avgdl
        k1, b = self._k1, self._b
        return np.clip(tf * (k1 + 1) / (tf + k1 * (1 - b + b * length)), 0.0, 1.0)

    def rank(self, text: str, boosts: Sequence[float] | None = None) -> list[Ranked]:
        """Every document, best first. `boosts` multiplies each document's relevance."""
        query = self.query_terms(text)
        count = len(self.documents)
        if not query or not count or self._full is None:
            return [Ranked(i, 0.0, 0.0) for i in range(count)]
        head_weight, bigram_weight, char_weight = self._weights
        relevance = np.zeros(count)
        matched = np.zeros(count)
        total = 0.0
        for q in query:
            weight = self.idf(q.term) * q.importance
            total += weight
            if q.term not in self._idf:
                continue
            full = np.asarray(self._full.get_scores([q.term]), dtype=float)
            head: Any = (
                np.asarray(self._head.get_scores([q.term]), dtype=float) if self._head else 0
            )
            relevance += q.importance * q.certainty * (full + head_weight * head)
            matched += weight * q.certainty * self._saturation(q.term)
        if self._pairs is not None and bigram_weight:
            pairs = bigrams([q.term for q in query])
            if pairs:
                scores = np.asarray(self._pairs.get_scores(pairs), dtype=float)
                relevance += bigram_weight * scores
        if self._char_matrix is not None and char_weight:
            similarity = self._char_matrix @ self._chars.transform([normalise(text)]).T
            relevance += char_weight * np.asarray(similarity.toarray()).ravel()
        if boosts is not None:
            relevance = relevance * np.asarray(boosts, dtype=float)
        coverage = matched / total if total > 0 else matched
        order = sorted(range(count), key=lambda i: (-relevance[i], i))
        return [Ranked(i, float(relevance[i]), float(coverage[i])) for i in order]
