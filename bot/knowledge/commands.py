"""What `relaydesk kb check|index|eval` run: each returns an exit code and writes a report.

bot/cli.py only parses arguments and calls these, so the commands are tested here without
a subprocess: 0 = fine, 1 = the knowledge base has a problem, 2 = bad input (unreadable
policy or questions file).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

from bot.domain.store_policy import PolicyFileError
from bot.knowledge.articles import article_files
from bot.knowledge.checks import format_problems, kb_check
from bot.knowledge.evaluation import (
    EvalReport,
    QuestionsFileError,
    format_eval_report,
    kb_eval,
)
from bot.knowledge.knowledge_base import KnowledgeBase, load_knowledge
from bot.knowledge.policy_file import load_store_policy
from bot.knowledge.problems import Problem, errors

#: `kb eval` fails below this top-1 accuracy (text only, all questions).
MIN_TOP1 = 0.9
#: ... or when fewer off-topic messages than this are judged weak.
MIN_OFF_TOPIC_WEAK = 0.9


def check_command(directory: Path, policy_file: Path, today: date, out: TextIO) -> int:
    problems = kb_check(directory, policy_file, today)
    print(format_problems(problems, root=directory.parent), file=out)
    return 1 if errors(problems) else 0


@dataclass(frozen=True)
class IndexReport:
    files: int
    articles: int  # indexed
    left_out: tuple[Problem, ...]
    terms: int  # distinct search terms
    tokens: int  # search terms in all articles, counting field weights
    tags: dict[str, int]  # intent -> articles tagged with it
    output: Path | None


def kb_index(directory: Path, policy_file: Path, output: Path | None = None) -> IndexReport:
    """Build the index as the assistant does; optionally write the rendered articles as JSON.

    The assistant builds its index in memory at start-up and after edits (it takes a few
    milliseconds), so this is a dry run plus an export: it shows what would be served and
    what would be left out, and the JSON snapshot is the help centre as shoppers see it
    (placeholders filled in), for review or for publishing elsewhere.
    """
    policy = load_store_policy(policy_file)
    loaded = load_knowledge(directory, policy)
    tags: dict[str, int] = {}
    for article in loaded.articles:
        for tag in article.article.tags:
            tags[tag] = tags.get(tag, 0) + 1
    if output is not None:
        snapshot = {
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "fingerprint": loaded.fingerprint,
            "articles": [
                {
                    "id": a.id,
                    "title": a.article.title,
                    "url": a.url,
                    "tags": list(a.article.tags),
                    "summary": a.summary,
                    "updated": a.article.updated.isoformat(),
                    "markdown": a.markdown,
                }
                for a in loaded.articles
            ],
        }
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(snapshot, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return IndexReport(
        files=len(article_files(directory)),
        articles=len(loaded.articles),
        left_out=loaded.left_out,
        terms=loaded.index.vocabulary_size,
        tokens=loaded.index.term_count,
        tags=dict(sorted(tags.items())),
        output=output,
    )


def format_index_report(report: IndexReport, *, root: Path | None = None) -> str:
    lines = [
        f"kb index: {report.articles} of {report.files} article files indexed, "
        f"{report.terms} distinct search terms, {report.tokens} terms in total",
        "  articles per intent: " + ", ".join(f"{k} {v}" for k, v in report.tags.items()),
    ]
    if report.output is not None:
        lines.append(f"  rendered articles written to {report.output}")
    for problem in report.left_out:
        lines.append(f"  left out: {problem.format(root)}")
    if report.left_out:
        lines.append("  run `relaydesk kb check` for every problem")
    return "\n".join(lines)


def index_command(directory: Path, policy_file: Path, output: Path | None, out: TextIO) -> int:
    try:
        report = kb_index(directory, policy_file, output)
    except PolicyFileError as error:
        print(f"kb index: {error}", file=out)
        return 2
    print(format_index_report(report, root=directory.parent), file=out)
    return 1 if report.left_out or not report.articles else 0


def eval_passes(report: EvalReport, min_top1: float = MIN_TOP1) -> bool:
    return (
        not report.unknown_ids
        and report.top(1).share >= min_top1
        and report.off_topic_weak().share >= MIN_OFF_TOPIC_WEAK
    )


def eval_command(
    questions_file: Path,
    directory: Path,
    policy_file: Path,
    out: TextIO,
    *,
    min_top1: float = MIN_TOP1,
) -> int:
    try:
        knowledge_base = KnowledgeBase(directory, load_store_policy(policy_file))
        report = kb_eval(questions_file, knowledge_base)
    except (PolicyFileError, QuestionsFileError) as error:
        print(f"kb eval: {error}", file=out)
        return 2
    print(format_eval_report(report), file=out)
    passed = eval_passes(report, min_top1)
    verdict = "passed" if passed else "FAILED"
    print(
        f"\nkb eval: {verdict} (needs top-1 >= {min_top1:.0%} and off-topic weak >= "
        f"{MIN_OFF_TOPIC_WEAK:.0%}, every expected article existing)",
        file=out,
    )
    return 0 if passed else 1
