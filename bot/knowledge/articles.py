"""Reading an article: YAML front matter between `---` lines, then Markdown.

Parsing never raises for content mistakes; it returns the problems it found (with the line
they are on) so `kb check` can report every mistake in one run, and the assistant can skip a
broken article while serving the others.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from bot.knowledge.problems import Problem, Severity

REQUIRED_FIELDS = ("id", "title", "tags", "locale", "updated", "owner", "review-by")
OPTIONAL_FIELDS = ("summary", "keywords")
ARTICLE_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LOCALE = re.compile(r"^[a-z]{2}(?:-[A-Z]{2})?$")
_FIELD_LINE = re.compile(r"^([A-Za-z_][\w-]*)\s*:")


@dataclass(frozen=True)
class Article:
    path: Path
    id: str
    title: str
    tags: tuple[str, ...]
    locale: str
    updated: date
    owner: str
    review_by: date
    body: str  # Markdown after the front matter, placeholders not rendered
    body_line: int  # file line number of the body's first line
    summary: str | None = None  # explicit summary (may hold placeholders)
    keywords: tuple[str, ...] = ()  # extra search words editors add (shopper vocabulary)
    field_lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, name: str) -> int:
        return self.field_lines.get(name, 1)

    def body_lines(self) -> Iterator[tuple[int, str]]:
        """(file line number, text) for every body line."""
        for offset, text in enumerate(self.body.split("\n")):
            yield self.body_line + offset, text


@dataclass(frozen=True)
class ParsedArticle:
    path: Path
    article: Article | None  # None when the file is unusable
    problems: tuple[Problem, ...]


def _split_front_matter(text: str) -> tuple[list[str], int] | None:
    """(front matter lines, index of the closing ---) or None when there is none."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return None
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            return lines[1:index], index
    return None


def _as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _as_strings(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return None


class _Collector:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def error(self, line: int, code: str, message: str) -> None:
        self.problems.append(Problem(self.path, line, Severity.ERROR, code, message))

    def warning(self, line: int, code: str, message: str) -> None:
        self.problems.append(Problem(self.path, line, Severity.WARNING, code, message))


def parse_article(path: Path, text: str) -> ParsedArticle:
    found = _Collector(path)
    split = _split_front_matter(text)
    if split is None:
        found.error(
            1,
            "front-matter",
            "no front matter: the file must start with a --- line, "
            "the fields, and a closing --- line",
        )
        return ParsedArticle(path, None, tuple(found.problems))
    header, closing = split
    try:
        meta = yaml.safe_load("\n".join(header)) or {}
    except yaml.YAMLError as error:
        # The context mark is where the broken construct starts (an unclosed "[" ...): that
        # is the line the editor has to fix, not where the parser gave up.
        mark = getattr(error, "context_mark", None) or getattr(error, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1  # +1: 1-based, +1: the opening ---
        what = " ".join(str(getattr(error, a, "") or "") for a in ("context", "problem"))
        found.error(
            line, "front-matter", f"front matter is not valid YAML: {what.strip() or error}"
        )
        return ParsedArticle(path, None, tuple(found.problems))
    if not isinstance(meta, dict):
        found.error(2, "front-matter", "front matter must be 'field: value' lines")
        return ParsedArticle(path, None, tuple(found.problems))

    lines: dict[str, int] = {}
    for offset, line_text in enumerate(header):
        match = _FIELD_LINE.match(line_text)
        if match and match.group(1) not in lines:
            lines[match.group(1)] = offset + 2  # line 1 is the opening ---

    for name in REQUIRED_FIELDS:
        if meta.get(name) in (None, "", []):
            found.error(1, "missing-field", f"front matter has no '{name}'")
    for name in meta:
        if name not in REQUIRED_FIELDS and name not in OPTIONAL_FIELDS:
            found.warning(
                lines.get(str(name), 1),
                "unknown-field",
                f"unknown front-matter field '{name}' (ignored)",
            )

    article_id = str(meta.get("id") or "").strip()
    if article_id and not ARTICLE_ID.match(article_id):
        found.error(
            lines.get("id", 1),
            "bad-field",
            f"id '{article_id}' must be lower-case words joined by hyphens",
        )
    elif article_id and article_id != path.stem:
        # Links and URLs use the id, editors look for the file: they should agree.
        found.warning(
            lines.get("id", 1),
            "id-mismatch",
            f"id '{article_id}' should match the file name ({path.stem}.md)",
        )

    tags = _as_strings(meta.get("tags"))
    if meta.get("tags") is not None and tags is None:
        found.error(lines.get("tags", 1), "bad-field", "tags must be a list like [track_order]")
    locale = str(meta.get("locale") or "")
    if locale and not LOCALE.match(locale):
        found.error(
            lines.get("locale", 1), "bad-field", f"locale '{locale}' must look like en or en-US"
        )
    dates: dict[str, date | None] = {}
    for name in ("updated", "review-by"):
        dates[name] = _as_date(meta.get(name))
        if meta.get(name) is not None and dates[name] is None:
            found.error(
                lines.get(name, 1),
                "bad-field",
                f"{name} '{meta.get(name)}' must be a date like 2026-11-20",
            )
    keywords = _as_strings(meta.get("keywords", [])) or ()
    summary = meta.get("summary")
    if summary is not None and not isinstance(summary, str):
        found.error(lines.get("summary", 1), "bad-field", "summary must be text")
        summary = None

    if any(p.severity is Severity.ERROR for p in found.problems):
        return ParsedArticle(path, None, tuple(found.problems))
    updated, review_by = dates["updated"], dates["review-by"]
    assert updated is not None and review_by is not None and tags is not None
    article = Article(
        path=path,
        id=article_id,
        title=str(meta["title"]).strip(),
        tags=tags,
        locale=locale,
        updated=updated,
        owner=str(meta["owner"]).strip(),
        review_by=review_by,
        body="\n".join(text.split("\n")[closing + 1 :]),
        body_line=closing + 2,
        summary=summary.strip() if summary else None,
        keywords=keywords,
        field_lines=lines,
    )
    return ParsedArticle(path, article, tuple(found.problems))


def article_files(directory: Path) -> list[Path]:
    """The article files of a knowledge base, in a stable order.

    Files starting with "_" (such as `_template.md`) are drafts and templates, not articles.
    """
    return sorted(p for p in directory.glob("*.md") if p.is_file() and not p.name.startswith("_"))


def read_article(path: Path) -> ParsedArticle:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        problem = Problem(path, 0, Severity.ERROR, "unreadable", f"cannot read: {error}")
        return ParsedArticle(path, None, (problem,))
    return parse_article(path, text)
