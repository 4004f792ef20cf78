"""Does an article state a policy number that disagrees with policy.yml?

For every quantity with a unit ("45 days", "3-5 business days", "$100", "2pm") the detector
looks for topic words in the same clause, then the sentence, then the section heading, then
the article title, to decide which policy values it could be about (`policy_rules.RULES`):

* no topic matches: not a policy claim (e.g. "the reset link lasts an hour" without a rule);
* the value equals one of the candidates' policy values: consistent, but when it is written
  in digits it is a warning, because it will silently go stale: use the placeholder;
* otherwise: a contradiction, naming the candidate topics (nearest to the number first) and
  what policy.yml says for them.

Placeholders, link targets and code are masked before looking, so `{{ policy.x }} days` is
never mistaken for a literal. A block (paragraph, list item, table row) containing
`<!-- kb: not-policy -->` is skipped, for the rare number that only looks like a policy claim.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.domain.store_policy import StorePolicy
from bot.knowledge.markdown_text import BlockKind, blocks
from bot.knowledge.placeholders import PLACEHOLDER
from bot.knowledge.policy_rules import RULES, PolicyValue, Rule
from bot.knowledge.problems import Severity
from bot.knowledge.quantities import Quantity, describe, find_quantities

IGNORE_MARKER = "<!-- kb: not-policy -->"
CONTRADICTION = "policy-contradiction"
HARD_CODED = "hard-coded-policy-number"

_MASKED = re.compile(r"\]\([^)]*\)|`[^`]*`|<!--.*?-->")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|\n(?=\s*\n)")
# Clause breaks: commas (not inside numbers like 1,000), semicolons, colons (not 13:00),
# dashes and "but".
_CLAUSE_END = re.compile(r"(?<!\d),|,(?!\d)|;|:(?!\d)|\s[\u2014\u2013]\s|\u2014|\bbut\b|\(|\)")


@dataclass(frozen=True)
class Finding:
    line: int
    severity: Severity
    code: str
    message: str


def _mask(text: str) -> str:
    """Same length, lower case, with placeholders/links/code blanked (offsets stay valid)."""

    def blank(found: re.Match[str]) -> str:
        return " " * len(found.group(0))

    return _MASKED.sub(blank, PLACEHOLDER.sub(blank, text)).lower()


def _spans(text: str, breaks: re.Pattern[str]) -> list[tuple[int, int]]:
    spans, start = [], 0
    for found in breaks.finditer(text):
        spans.append((start, found.end()))
        start = found.end()
    spans.append((start, len(text)))
    return spans


def _around(spans: list[tuple[int, int]], quantity: Quantity) -> tuple[int, int]:
    for start, end in spans:
        if start <= quantity.start < end:
            return start, end
    return 0, 0


def _distance(rule: Rule, scope: str, offset: int, quantity: Quantity) -> int:
    best = len(scope) + 1000
    for found in rule.triggers.finditer(scope):
        start, end = found.start() + offset, found.end() + offset
        if end <= quantity.start:
            best = min(best, quantity.start - end)
        elif start >= quantity.end:
            best = min(best, start - quantity.end)
        else:
            best = 0
    return best


def candidates(scope: str, quantity: Quantity, rules: Iterable[Rule]) -> list[Rule]:
    """Rules that could judge this quantity, given the words of its clause or sentence."""
    triggered = [r for r in rules if r.accepts(quantity.unit) and r.triggers.search(scope)]
    specific = [r for r in triggered if not any(o.parent == r.name for o in triggered)]
    # "30 days" (calendar) is judged by calendar-day topics when there are any, so that
    # "within 30 days of delivery" is about returns, not about delivery times.
    usual = [r for r in specific if r.units[0] is quantity.unit]
    return usual or specific


def _judge(
    quantity: Quantity, scopes: list[tuple[str, int]], policy: StorePolicy, rules: tuple[Rule, ...]
) -> tuple[list[tuple[Rule, list[PolicyValue]]], PolicyValue | None] | None:
    """(candidate rules nearest first, the value matched or None), or None if none applies."""
    for scope, offset in scopes:
        found = [(r, r.values(policy)) for r in candidates(scope, quantity, rules)]
        found = [(r, v) for r, v in found if v]
        if not found:
            continue
        found.sort(key=lambda rv: _distance(rv[0], scope, offset, quantity))
        for rule, values in found:
            for value in values:
                if value.allows(quantity.low, quantity.high):
                    return [(rule, values)], value
        return found, None
    return None


#: Longer lists of allowed values make unreadable messages; the placeholder hint is enough.
_MAX_VALUES_SHOWN = 3


def _policy_says(values: list[PolicyValue], rule: Rule) -> str:
    by_source: dict[str, list[str]] = {}
    for value in values:
        by_source.setdefault(value.source, []).append(
            describe(rule.units[0], value.low, value.high)
        )
    stated = [f"{' and '.join(shown)} ({source})" for source, shown in by_source.items()]
    more = len(stated) - _MAX_VALUES_SHOWN
    shown = " or ".join(stated[:_MAX_VALUES_SHOWN]) + (f" (or {more} more)" if more > 0 else "")
    return f"policy.yml says {shown}"


def check_text(
    text: str,
    policy: StorePolicy,
    first_line: int = 1,
    rules: tuple[Rule, ...] = RULES,
    *,
    title: str = "",
) -> list[Finding]:
    """Contradictions (errors) and hard-coded policy numbers (warnings) in Markdown text."""
    findings: list[Finding] = []
    heading = ""
    for block in blocks(text, first_line):
        if block.kind is BlockKind.HEADING:
            heading = _mask(block.text)
        if IGNORE_MARKER in block.text:
            continue
        masked = _mask(block.text)
        sentences = _spans(masked, _SENTENCE_END)
        clauses = _spans(masked, _CLAUSE_END)
        for quantity in find_quantities(masked):
            s_start, s_end = _around(sentences, quantity)
            c_start, c_end = _around(clauses, quantity)
            c_start, c_end = max(c_start, s_start), min(c_end, s_end)
            # Wider scopes only speak when narrower ones have no topic word: "**30 days**" in
            # a list under "## How long you have to return" is about returns. (Heading and
            # title get far-away offsets: there, distance only orders candidates.)
            scopes = [
                (masked[c_start:c_end], c_start),
                (masked[s_start:s_end], s_start),
                (heading, -10_000),
                (_mask(title), -20_000),
            ]
            judged = _judge(quantity, scopes, policy, rules)
            if judged is None:
                continue
            found, matched = judged
            line = block.line_at(quantity.start)
            written = block.text[quantity.start : quantity.end]
            if matched is None:
                topics = " or ".join(rule.topic for rule, _ in found)
                values = [value for _, rule_values in found for value in rule_values]
                findings.append(
                    Finding(
                        line,
                        Severity.ERROR,
                        CONTRADICTION,
                        f"says '{written}' for the {topics}, but "
                        f"{_policy_says(values, found[0][0])}; write {values[0].placeholder}",
                    )
                )
            elif quantity.in_digits:
                rule = found[0][0]
                findings.append(
                    Finding(
                        line,
                        Severity.WARNING,
                        HARD_CODED,
                        f"'{written}' ({rule.topic}) is copied from policy.yml ({matched.source}) "
                        f"and will go stale when it changes: write {matched.placeholder}",
                    )
                )
    return findings
