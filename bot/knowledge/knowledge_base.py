"""`KnowledgeBase`: the articles, rendered against policy.yml, searchable, kept fresh.

The running assistant never needs a restart for article edits: at most every
`reload_interval` seconds a search hashes the article files and, when anything changed,
rebuilds the index (a few milliseconds for a help centre of this size). An article that no
longer parses or renders is left out (and logged) while the others keep being served;
`relaydesk kb check` tells the editor why.

The policy is given, not re-read: articles and actions must quote the same numbers, and the
action server reads policy.yml once at start-up, so a policy change needs a restart anyway.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from bot.domain.store_policy import StorePolicy
from bot.knowledge.articles import Article, article_files, read_article
from bot.knowledge.links import rewrite
from bot.knowledge.markdown_text import BlockKind, blocks, first_paragraph, plain, shorten
from bot.knowledge.placeholders import PlaceholderError, render
from bot.knowledge.problems import Problem, Severity
from bot.knowledge.retrieval import IndexedDocument, SearchIndex

logger = logging.getLogger(__name__)

#: Coverage (0-1) from which the best article is trusted; below it the assistant says it is
#: not sure and offers a person. Calibrated on tests/knowledge/retrieval_questions.yml, see
#: docs/knowledge_base.md ("Weak matches").
DEFAULT_THRESHOLD = 0.55
#: Relevance multiplier for articles tagged with the intent NLU predicted.
INTENT_BOOST = 1.3


def article_url(policy: StorePolicy, article_id: str) -> str:
    base = str(policy.raw.get("store", {}).get("help_centre_url", "")).rstrip("/")
    return f"{base}/articles/{article_id}"


@dataclass(frozen=True)
class RenderedArticle:
    """An article as shoppers see it: placeholders filled in, links pointing at the web."""

    article: Article
    url: str
    summary: str  # plain text, at most three sentences
    markdown: str
    headings: tuple[str, ...]

    @property
    def id(self) -> str:
        return self.article.id

    def document(self) -> IndexedDocument:
        return IndexedDocument(
            id=self.article.id,
            title=self.article.title,
            tags=self.article.tags,
            keywords=self.article.keywords,
            headings=self.headings,
            body=plain(self.markdown),
            summary=self.summary,
        )


def render_article(article: Article, policy: StorePolicy) -> RenderedArticle:
    """Raises PlaceholderError when a placeholder cannot be filled in."""
    markdown = rewrite(render(article.body, policy), lambda i: article_url(policy, i))
    source = render(article.summary, policy) if article.summary else first_paragraph(markdown)
    headings = tuple(plain(b.text) for b in blocks(markdown) if b.kind is BlockKind.HEADING)
    return RenderedArticle(
        article=article,
        url=article_url(policy, article.id),
        summary=shorten(plain(source)),
        markdown=markdown,
        headings=headings,
    )


def fingerprint(directory: Path) -> str:
    """Changes whenever an article file is added, removed, renamed or edited."""
    digest = hashlib.blake2b(digest_size=16)
    for path in article_files(directory):
        digest.update(path.name.encode())
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"<unreadable>")
    return digest.hexdigest()


@dataclass(frozen=True)
class LoadedKnowledge:
    articles: tuple[RenderedArticle, ...]
    left_out: tuple[Problem, ...]  # why articles were left out of the index
    index: SearchIndex
    fingerprint: str


def load_knowledge(directory: Path, policy: StorePolicy) -> LoadedKnowledge:
    stamp = fingerprint(directory)
    rendered: list[RenderedArticle] = []
    left_out: list[Problem] = []
    seen: set[str] = set()
    for path in article_files(directory):
        parsed = read_article(path)
        if parsed.article is None:
            left_out += [p for p in parsed.problems if p.severity is Severity.ERROR][:1]
            continue
        if parsed.article.id in seen:
            left_out.append(
                Problem(
                    path,
                    parsed.article.line_of("id"),
                    Severity.ERROR,
                    "duplicate-id",
                    f"id '{parsed.article.id}' is used twice",
                )
            )
            continue
        try:
            rendered.append(render_article(parsed.article, policy))
        except PlaceholderError as error:
            left_out.append(Problem(path, 0, Severity.ERROR, "unknown-placeholder", str(error)))
            continue
        seen.add(parsed.article.id)
    index = SearchIndex([r.document() for r in rendered])
    return LoadedKnowledge(tuple(rendered), tuple(left_out), index, stamp)


@dataclass(frozen=True)
class Match:
    article_id: str
    title: str
    url: str
    summary: str
    score: float  # coverage, 0-1: what the threshold is compared with
    confident: bool
    relevance: float  # BM25 relevance (with the intent boost): what results are ordered by


class KnowledgeBase:
    def __init__(
        self,
        directory: Path,
        policy: StorePolicy,
        *,
        reload_interval: float = 2.0,
        threshold: float = DEFAULT_THRESHOLD,
        intent_boost: float = INTENT_BOOST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = directory
        self.policy = policy
        self.reload_interval = reload_interval
        self.threshold = threshold
        self.intent_boost = intent_boost
        self._clock = clock
        self._lock = threading.Lock()
        self._loaded = self._load()
        self._checked_at = clock()
        #: How many times the index was rebuilt after start-up (for tests and logs).
        self.reloads = 0

    def _load(self) -> LoadedKnowledge:
        loaded = load_knowledge(self.directory, self.policy)
        for problem in loaded.left_out:
            logger.error("knowledge base: left out %s", problem.format())
        logger.info(
            "knowledge base: %d articles indexed from %s", len(loaded.articles), self.directory
        )
        return loaded

    def refresh(self, *, force: bool = False) -> bool:
        """Rebuild if the articles changed (checked at most every reload_interval seconds)."""
        with self._lock:
            now = self._clock()
            if not force and now - self._checked_at < self.reload_interval:
                return False
            self._checked_at = now
            try:
                if not force and fingerprint(self.directory) == self._loaded.fingerprint:
                    return False
                self._loaded = self._load()
            except Exception:
                # Whatever went wrong mid-edit, shoppers keep the articles they had.
                logger.exception("knowledge base: rebuild failed, serving the previous index")
                return False
            self.reloads += 1
            return True

    @property
    def loaded(self) -> LoadedKnowledge:
        self.refresh()
        return self._loaded

    def article(self, article_id: str) -> RenderedArticle | None:
        return next((a for a in self.loaded.articles if a.id == article_id), None)

    def search(self, text: str, intent: str | None = None, k: int = 3) -> list[Match]:
        loaded = self.loaded
        boosts = [
            self.intent_boost if intent and intent in a.article.tags else 1.0
            for a in loaded.articles
        ]
        matches: list[Match] = []
        for ranked in loaded.index.rank(text, boosts)[:k]:
            if ranked.relevance <= 0:
                break
            article = loaded.articles[ranked.index]
            matches.append(
                Match(
                    article_id=article.id,
                    title=article.article.title,
                    url=article.url,
                    summary=article.summary,
                    score=round(ranked.coverage, 4),
                    confident=ranked.coverage >= self.threshold,
                    relevance=ranked.relevance,
                )
            )
        return matches

    def for_intent(self, intent: str) -> Match | None:
        """The article that answers an intent on its own, for a button press (no words).

        Its primary article is the one listing the intent first in its tags (else any
        article tagged with it); several are told apart by the intent's name in words.
        """
        articles = self.loaded.articles
        primary = [a.id for a in articles if a.article.tags[:1] == (intent,)]
        tagged = primary or [a.id for a in articles if intent in a.article.tags]
        for match in self.search(intent.replace("_", " "), intent, k=len(articles)):
            if match.article_id in tagged:
                return replace(match, confident=True)  # the shopper chose the topic
        return None

    def answer(self, text: str, intent: str | None = None) -> Match | None:
        """The best article when it is a confident match, else None (say "not sure")."""
        best = self.search(text, intent, k=1)
        return best[0] if best and best[0].confident else None
