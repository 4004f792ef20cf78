"""KnowledgeBase on the real articles, and picking up edits without a restart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.domain.store_policy import StorePolicy
from bot.knowledge import KnowledgeBase
from bot.knowledge.knowledge_base import load_knowledge


def test_every_real_article_is_served(real_kb: KnowledgeBase) -> None:
    loaded = real_kb.loaded
    assert loaded.left_out == ()
    assert len(loaded.articles) >= 20
    for article in loaded.articles:
        assert "{{" not in article.summary and "{{" not in article.markdown
        assert article.url == f"https://help.northwind.example/articles/{article.id}"
        assert 0 < len(article.summary) <= 360


def test_summaries_quote_the_policy_file(real_kb: KnowledgeBase) -> None:
    returns = real_kb.article("return-policy")
    assert returns is not None
    assert "within 30 days of delivery (60 days for VIP members)" in returns.summary


def test_search_and_answer(real_kb: KnowledgeBase) -> None:
    [first, *_] = real_kb.search("how long do I have to return a jacket", "check_refund_policy")
    assert first.article_id == "return-policy" and first.confident
    assert first.url.endswith("/articles/return-policy")
    assert real_kb.answer("what is the capital of australia", "out_of_scope") is None


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_edits_are_picked_up_after_the_interval(
    kb_copy: Path, policy: StorePolicy, write_article: Callable[..., Path]
) -> None:
    clock = Clock()
    kb = KnowledgeBase(kb_copy, policy, reload_interval=2.0, clock=clock)
    question = "do you rent kayaks"
    assert kb.answer(question) is None

    write_article(kb_copy, "kayak-rental", "Yes: we rent kayaks from our Reno store by the day.",
                  title="Kayak rental", tags="product_question")  # fmt: skip
    clock.now = 1.0  # within the interval: not even looked at
    assert kb.answer(question) is None and kb.reloads == 0
    clock.now = 2.5
    match = kb.answer(question)
    assert match is not None and match.article_id == "kayak-rental" and kb.reloads == 1

    clock.now = 5.0  # nothing changed: checked, not rebuilt
    kb.search(question)
    assert kb.reloads == 1

    (kb_copy / "kayak-rental.md").unlink()
    clock.now = 8.0
    assert kb.answer(question) is None and kb.reloads == 2


def test_an_edited_article_changes_its_answer(kb_copy: Path, policy: StorePolicy) -> None:
    kb = KnowledgeBase(kb_copy, policy, reload_interval=0)
    path = kb_copy / "gift-cards.md"
    path.write_text(path.read_text().replace("They never expire", "They are made of moonlight"))
    assert kb.article("gift-cards").summary.endswith(  # type: ignore[union-attr]
        "They are made of moonlight, but they can't be returned or exchanged for cash."
    )


def test_a_broken_article_is_left_out_and_the_rest_served(
    kb_copy: Path, policy: StorePolicy, write_article: Callable[..., Path]
) -> None:
    write_article(kb_copy, "broken", "Returns within {{ policy.returns.window_weeks }} weeks.")
    (kb_copy / "no-front-matter.md").write_text("Just text.\n")
    loaded = load_knowledge(kb_copy, policy)
    assert {p.code for p in loaded.left_out} == {"unknown-placeholder", "front-matter"}
    assert "broken" not in {a.id for a in loaded.articles}
    assert len(loaded.articles) >= 20


def test_a_failed_rebuild_keeps_the_previous_index(
    kb_copy: Path, policy: StorePolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb = KnowledgeBase(kb_copy, policy, reload_interval=0)
    (kb_copy / "gift-cards.md").write_text("changed")

    def fail(*_: object) -> None:
        raise OSError("disk went away")

    monkeypatch.setattr("bot.knowledge.knowledge_base.load_knowledge", fail)
    assert kb.refresh() is False
    assert kb.article("gift-cards") is not None and kb.reloads == 0
