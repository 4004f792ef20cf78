"""Retrieval on tests/knowledge/retrieval_questions.yml meets the targets in the issue.

The figures are in docs/knowledge_base.md; the floors here leave a little room so that a
reworded article doesn't fail the build, while a real regression does.
"""

from __future__ import annotations

import pytest
import yaml

from bot.knowledge import ANSWERABLE_INTENTS, KnowledgeBase, kb_eval
from bot.knowledge.evaluation import EvalReport, load_questions
from tests.knowledge.conftest import QUESTIONS, REPO


@pytest.fixture(scope="module")
def report(real_kb: KnowledgeBase) -> EvalReport:
    return kb_eval(QUESTIONS, real_kb)


def test_question_set_size() -> None:
    questions = load_questions(QUESTIONS)
    assert len(questions.questions) >= 60 and len(questions.off_topic) >= 30


def test_top1_and_top3(report: EvalReport) -> None:
    assert report.unknown_ids == ()
    assert report.top(1).share >= 0.90  # text only: no help from the intent
    assert report.top(3).share >= 0.97
    assert report.top(1, intent=True).share >= 0.93
    for unseen in ("fresh", "fresh2"):  # never tuned against
        assert report.top(3, unseen).share >= 0.9


def test_off_topic_is_weak_and_on_topic_mostly_confident(report: EvalReport) -> None:
    assert report.off_topic_weak().share >= 0.97
    assert report.answered_right.share >= 0.80


def test_every_answerable_intent_has_an_article(real_kb: KnowledgeBase) -> None:
    tagged = {tag for a in real_kb.loaded.articles for tag in a.article.tags}
    assert tagged >= ANSWERABLE_INTENTS


def test_answerable_intents_exist_in_the_domain() -> None:
    domain = yaml.safe_load((REPO / "domain" / "intents.yml").read_text())
    assert set(domain["intents"]) >= ANSWERABLE_INTENTS


def test_questions_expect_real_articles(real_kb: KnowledgeBase) -> None:
    ids = {a.id for a in real_kb.loaded.articles}
    questions = load_questions(QUESTIONS)
    assert {i for q in questions.questions for i in q.expect} <= ids
    assert all(q.intent in ANSWERABLE_INTENTS for q in questions.questions)
