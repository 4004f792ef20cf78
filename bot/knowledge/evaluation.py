"""`kb eval`: how often retrieval finds the right article, and whether off-topic is weak.

Measured without NLU (text only), which is the harder case and the headline figure; the
"with intent" figures pass each question's annotated intent, as the action does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.knowledge.knowledge_base import KnowledgeBase, Match


class QuestionsFileError(ValueError):
    pass


@dataclass(frozen=True)
class Question:
    text: str
    expect: tuple[str, ...]  # any of these articles is a right answer
    intent: str | None = None
    set: str = "dev"


@dataclass(frozen=True)
class OffTopic:
    text: str
    set: str = "dev"


@dataclass(frozen=True)
class QuestionSet:
    questions: tuple[Question, ...]
    off_topic: tuple[OffTopic, ...]


def load_questions(path: Path) -> QuestionSet:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise QuestionsFileError(f"cannot read {path}: {error}") from error
    if not isinstance(raw, dict) or not isinstance(raw.get("questions"), list):
        raise QuestionsFileError(f"{path}: expected a 'questions:' list")
    questions: list[Question] = []
    for number, item in enumerate(raw["questions"], start=1):
        if not isinstance(item, dict) or not item.get("text") or not item.get("expect"):
            raise QuestionsFileError(f"{path}: question {number} needs 'text' and 'expect'")
        expect = item["expect"]
        expected = tuple(expect) if isinstance(expect, list) else (str(expect),)
        questions.append(
            Question(str(item["text"]), expected, item.get("intent"), str(item.get("set", "dev")))
        )
    off_topic: list[OffTopic] = []
    for item in raw.get("off_topic") or []:
        if isinstance(item, dict):
            off_topic.append(OffTopic(str(item["text"]), str(item.get("set", "dev"))))
        else:
            off_topic.append(OffTopic(str(item)))
    return QuestionSet(tuple(questions), tuple(off_topic))


@dataclass(frozen=True)
class Outcome:
    question: Question
    results: tuple[Match, ...]  # top 3, text only
    with_intent: tuple[Match, ...]  # top 3, intent passed

    @staticmethod
    def _rank(results: Sequence[Match], expect: tuple[str, ...]) -> int | None:
        for rank, match in enumerate(results, start=1):
            if match.article_id in expect:
                return rank
        return None

    @property
    def rank(self) -> int | None:
        return self._rank(self.results, self.question.expect)

    @property
    def rank_with_intent(self) -> int | None:
        return self._rank(self.with_intent, self.question.expect)

    @property
    def answered(self) -> bool:
        """The assistant would answer (best match confident), with the intent."""
        return bool(self.with_intent) and self.with_intent[0].confident


@dataclass(frozen=True)
class Rate:
    hits: int
    total: int

    @property
    def share(self) -> float:
        return self.hits / self.total if self.total else 0.0

    def __str__(self) -> str:
        return f"{self.share:.1%} ({self.hits}/{self.total})"


@dataclass(frozen=True)
class OffTopicOutcome:
    message: OffTopic
    best: Match | None

    @property
    def weak(self) -> bool:
        return self.best is None or not self.best.confident


@dataclass(frozen=True)
class EvalReport:
    outcomes: tuple[Outcome, ...]
    off_topic: tuple[OffTopicOutcome, ...]
    threshold: float
    unknown_ids: tuple[str, ...] = field(default=())

    def _subset(self, name: str | None) -> list[Outcome]:
        return [o for o in self.outcomes if name is None or o.question.set == name]

    def top(self, k: int, subset: str | None = None, *, intent: bool = False) -> Rate:
        chosen = self._subset(subset)
        ranks = [o.rank_with_intent if intent else o.rank for o in chosen]
        return Rate(sum(1 for r in ranks if r is not None and r <= k), len(chosen))

    @property
    def sets(self) -> list[str]:
        return sorted({o.question.set for o in self.outcomes})

    @property
    def off_topic_sets(self) -> list[str]:
        return sorted({o.message.set for o in self.off_topic})

    @property
    def misses(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.rank != 1]

    @property
    def answered_right(self) -> Rate:
        right = [o for o in self.outcomes if o.answered and o.rank_with_intent == 1]
        return Rate(len(right), len(self.outcomes))

    @property
    def answered_wrong(self) -> list[Outcome]:
        """The worst case: a confident answer with the wrong article."""
        return [o for o in self.outcomes if o.answered and o.rank_with_intent != 1]

    def off_topic_weak(self, subset: str | None = None) -> Rate:
        chosen = [o for o in self.off_topic if subset is None or o.message.set == subset]
        return Rate(sum(o.weak for o in chosen), len(chosen))

    def calibration(self) -> dict[str, float]:
        """Score landmarks for choosing the threshold (see docs/knowledge_base.md)."""
        right = sorted(
            o.with_intent[0].score
            for o in self.outcomes
            if o.with_intent and o.rank_with_intent == 1
        )
        off = sorted(o.best.score for o in self.off_topic if o.best is not None)
        return {
            "lowest right answer": right[0] if right else 0.0,
            "10th percentile right answer": right[len(right) // 10] if right else 0.0,
            "median right answer": right[len(right) // 2] if right else 0.0,
            "highest off-topic": off[-1] if off else 0.0,
        }


def kb_eval(questions_file: Path, knowledge_base: KnowledgeBase) -> EvalReport:
    question_set = load_questions(questions_file)
    known = {a.id for a in knowledge_base.loaded.articles}
    unknown = sorted({i for q in question_set.questions for i in q.expect} - known)
    outcomes = tuple(
        Outcome(
            q,
            tuple(knowledge_base.search(q.text, k=3)),
            tuple(knowledge_base.search(q.text, q.intent, k=3)),
        )
        for q in question_set.questions
    )
    off_topic = tuple(
        OffTopicOutcome(message, next(iter(knowledge_base.search(message.text, k=1)), None))
        for message in question_set.off_topic
    )
    return EvalReport(outcomes, off_topic, knowledge_base.threshold, tuple(unknown))


def _shown(results: Sequence[Match]) -> str:
    return ", ".join(f"{m.article_id} {m.score:.2f}" for m in results) or "nothing"


def format_eval_report(report: EvalReport) -> str:
    lines = ["Knowledge-base retrieval", ""]
    if report.unknown_ids:
        lines += [f"  ! expected articles that don't exist: {', '.join(report.unknown_ids)}", ""]
    lines.append(
        f"  {'questions':<12}{'top-1 text only':>20}{'top-3 text only':>20}"
        f"{'top-1 with intent':>20}"
    )
    for name in [None, *report.sets]:
        label = "all" if name is None else name
        lines.append(
            f"  {label:<12}{report.top(1, name)!s:>20}{report.top(3, name)!s:>20}"
            f"{report.top(1, name, intent=True)!s:>20}"
        )
    lines += [
        "",
        f"  Weak-match threshold {report.threshold:.2f} "
        "(coverage of the message by the best article)",
        f"    on-topic answered with the right article: {report.answered_right}",
        f"    on-topic answered with a wrong article:   {len(report.answered_wrong)}",
        f"    off-topic judged weak (offers a person):  {report.off_topic_weak()}"
        + "".join(
            f"; {name} {report.off_topic_weak(name)}"
            for name in report.off_topic_sets
            if len(report.off_topic_sets) > 1
        ),
        "    " + ", ".join(f"{k} {v:.2f}" for k, v in report.calibration().items()),
    ]
    if report.misses:
        lines += ["", f"  Misses at top-1 ({len(report.misses)}), text only:"]
        for outcome in report.misses:
            q = outcome.question
            lines.append(
                f'    [{q.set}] "{q.text}" -> expected {"/".join(q.expect)}; '
                f"got {_shown(outcome.results)}"
            )
    if report.answered_wrong:
        lines += ["", "  Answered confidently with a wrong article (with intent):"]
        for outcome in report.answered_wrong:
            lines.append(f'    "{outcome.question.text}" -> {_shown(outcome.with_intent[:1])}')
    confident_off = [o for o in report.off_topic if not o.weak and o.best is not None]
    if confident_off:
        lines += ["", "  Off-topic answered confidently:"]
        lines += [
            f'    [{o.message.set}] "{o.message.text}" -> {o.best.article_id} {o.best.score:.2f}'
            for o in confident_off
            if o.best is not None
        ]
    return "\n".join(lines)
