"""The help-centre knowledge base: articles in knowledge_base/*.md, answered by retrieval.

Public interface (bot/cli.py wires `relaydesk kb check|index|eval` to the *_command
functions; actions/knowledge.py uses KnowledgeBase):

    KnowledgeBase(directory, policy, *, reload_interval=2.0)
        .search(text, intent=None, k=3) -> list[Match]
        .answer(text, intent=None) -> Match | None        # None: weak match, say "not sure"
    kb_check(directory, policy_file, today) -> list[Problem];  format_problems(problems)
    kb_index(directory, policy_file, output=None) -> IndexReport;  format_index_report(report)
    kb_eval(questions_file, knowledge_base) -> EvalReport;  format_eval_report(report)
    check_command / index_command / eval_command -> exit code

Modules: articles (front matter), placeholders ({{ policy.x }}), markdown_text, links,
quantities + policy_rules + contradictions (policy-number checks), analysis + retrieval
(search), knowledge_base, checks, evaluation, commands. docs/knowledge_base.md explains it all
for editors.
"""

from bot.knowledge.checks import ANSWERABLE_INTENTS, format_problems, kb_check
from bot.knowledge.commands import (
    IndexReport,
    check_command,
    eval_command,
    format_index_report,
    index_command,
    kb_index,
)
from bot.knowledge.evaluation import EvalReport, format_eval_report, kb_eval
from bot.knowledge.knowledge_base import DEFAULT_THRESHOLD, KnowledgeBase, Match
from bot.knowledge.problems import Problem, Severity

__all__ = [
    "ANSWERABLE_INTENTS",
    "DEFAULT_THRESHOLD",
    "EvalReport",
    "IndexReport",
    "KnowledgeBase",
    "Match",
    "Problem",
    "Severity",
    "check_command",
    "eval_command",
    "format_eval_report",
    "format_index_report",
    "format_problems",
    "index_command",
    "kb_check",
    "kb_eval",
    "kb_index",
]
