"""Front matter: required fields, types, and problems reported on the right line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.knowledge.articles import article_files, parse_article

GOOD = """---
id: track-your-order
title: Track your order
tags: [track_order]
locale: en-US
updated: 2026-11-20
owner: customer-care
review-by: 2027-05-20
keywords: [tracking number, where is my parcel]
---

First paragraph.
"""


def parse(
    text: str, name: str = "track-your-order.md"
) -> tuple[object, list[tuple[int, str, str]]]:
    parsed = parse_article(Path(name), text)
    return parsed.article, [(p.line, p.code, p.message) for p in parsed.problems]


def test_good_article() -> None:
    article, problems = parse(GOOD)
    assert problems == []
    assert article is not None
    assert article.id == "track-your-order"  # type: ignore[attr-defined]
    assert article.tags == ("track_order",)  # type: ignore[attr-defined]
    assert article.review_by == date(2027, 5, 20)  # type: ignore[attr-defined]
    assert article.keywords == ("tracking number", "where is my parcel")  # type: ignore[attr-defined]
    assert article.body_line == 11  # type: ignore[attr-defined]
    assert article.line_of("owner") == 7  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "line", "code", "message"),
    [
        ("no front matter\n", 1, "front-matter", "must start with a --- line"),
        ("---\nid: x\n", 1, "front-matter", "no front matter"),  # never closed
        (GOOD.replace("owner: customer-care\n", ""), 1, "missing-field", "no 'owner'"),
        (GOOD.replace("title: Track your order", "title: [unclosed"), 3, "front-matter",
         "not valid YAML"),
        (GOOD.replace("2027-05-20", "next spring"), 8, "bad-field", "review-by 'next spring'"),
        (GOOD.replace("id: track-your-order", "id: Track Your Order"), 2, "bad-field",
         "lower-case words joined by hyphens"),
        (GOOD.replace("locale: en-US", "locale: english"), 5, "bad-field", "locale 'english'"),
        (GOOD.replace("tags: [track_order]", "tags: {a: b}"), 4, "bad-field", "tags must be"),
    ],
)  # fmt: skip
def test_problems(text: str, line: int, code: str, message: str) -> None:
    article, problems = parse(text)
    assert article is None
    assert any(p[0] == line and p[1] == code and message in p[2] for p in problems), problems


def test_id_other_than_the_file_name_is_only_a_warning() -> None:
    parsed = parse_article(Path("track-your-order.md"), GOOD.replace("id: track-", "id: "))
    assert parsed.article is not None and parsed.article.id == "your-order"
    [problem] = parsed.problems
    assert (problem.line, problem.code, problem.severity) == (2, "id-mismatch", "warning")
    assert "should match the file name (track-your-order.md)" in problem.message


def test_unknown_field_is_only_a_warning() -> None:
    parsed = parse_article(Path("track-your-order.md"), GOOD.replace("owner:", "author: x\nowner:"))
    assert parsed.article is not None
    [problem] = parsed.problems
    assert (problem.line, problem.code, problem.severity) == (7, "unknown-field", "warning")


def test_templates_and_drafts_are_not_articles(tmp_path: Path) -> None:
    for name in ("a.md", "_template.md", "notes.txt", "b.md"):
        (tmp_path / name).write_text("x")
    assert [p.name for p in article_files(tmp_path)] == ["a.md", "b.md"]
