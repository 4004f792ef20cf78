"""Fixtures for the knowledge-base tests: the real articles and policy, and temp copies."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from bot.domain.store_policy import StorePolicy
from bot.knowledge import KnowledgeBase
from bot.knowledge.policy_file import load_store_policy

REPO = Path(__file__).resolve().parents[2]
KB_DIR = REPO / "knowledge_base"
POLICY_FILE = KB_DIR / "policy.yml"
QUESTIONS = Path(__file__).resolve().parent / "retrieval_questions.yml"
#: A fixed "today" for review-date checks, so the suite doesn't start failing with time.
TODAY = date(2026, 11, 22)


@pytest.fixture(scope="session")
def policy() -> StorePolicy:
    return load_store_policy(POLICY_FILE)


@pytest.fixture(scope="session")
def real_kb(policy: StorePolicy) -> KnowledgeBase:
    """The real articles; reload_interval is huge because nothing edits them."""
    return KnowledgeBase(KB_DIR, policy, reload_interval=1e9)


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    """A temp copy of knowledge_base/ (articles + policy.yml) to plant mistakes in."""
    target = tmp_path / "knowledge_base"
    shutil.copytree(KB_DIR, target)
    return target


ARTICLE = """---
id: {id}
title: {title}
tags: [{tags}]
locale: en-US
updated: 2026-11-20
owner: test
review-by: 2027-05-20
---

{body}
"""


@pytest.fixture
def write_article() -> Callable[..., Path]:
    def write(directory: Path, article_id: str, body: str, *, title: str = "A title",
              tags: str = "track_order") -> Path:  # fmt: skip
        path = directory / f"{article_id}.md"
        path.write_text(ARTICLE.format(id=article_id, title=title, tags=tags, body=body))
        return path

    return write
