"""`kb index` and `kb eval` as the CLI runs them: exit codes and reports."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

from bot.knowledge import eval_command, index_command, kb_index
from tests.knowledge.conftest import KB_DIR, POLICY_FILE


def test_index_counts_and_snapshot(tmp_path: Path) -> None:
    output = tmp_path / "var" / "knowledge_index.json"
    report = kb_index(KB_DIR, POLICY_FILE, output)
    assert report.files == report.articles >= 20 and report.left_out == ()
    assert report.terms > 500 and report.tokens > report.terms
    assert report.tags["track_order"] >= 2
    snapshot = json.loads(output.read_text())
    ids = {a["id"] for a in snapshot["articles"]}
    assert "return-policy" in ids and len(ids) == report.articles
    returns = next(a for a in snapshot["articles"] if a["id"] == "return-policy")
    assert "{{" not in returns["markdown"]
    assert "https://help.northwind.example/articles/start-a-return" in returns["markdown"]


def test_index_command_reports_left_out_articles(
    kb_copy: Path, write_article: Callable[..., Path]
) -> None:
    out = io.StringIO()
    assert index_command(kb_copy, kb_copy / "policy.yml", None, out) == 0
    assert out.getvalue().startswith("kb index: 32 of 32 article files indexed")

    write_article(kb_copy, "broken", "{{ policy.nope }}")
    out = io.StringIO()
    assert index_command(kb_copy, kb_copy / "policy.yml", None, out) == 1
    text = out.getvalue()
    assert "kb index: 32 of 33 article files indexed" in text
    assert "left out: knowledge_base/broken.md: error [unknown-placeholder]" in text


def test_index_command_with_a_broken_policy_file(tmp_path: Path) -> None:
    (tmp_path / "policy.yml").write_text("returns: {}\n")
    out = io.StringIO()
    assert index_command(KB_DIR, tmp_path / "policy.yml", None, out) == 2
    assert "policy file is missing or has a bad value" in out.getvalue()


def test_eval_command_passes(tmp_path: Path) -> None:
    # The full question set is measured in test_retrieval_quality.py; this is the CLI path.
    questions = tmp_path / "q.yml"
    questions.write_text(
        "questions:\n"
        "  - {text: how much is shipping, expect: shipping-options-and-costs}\n"
        "  - {text: wheres my refund, expect: refund-status, intent: track_refund, set: fresh}\n"
        "off_topic: [tell me a joke, {text: what is bitcoin, set: fresh}]\n"
    )
    out = io.StringIO()
    assert eval_command(questions, KB_DIR, POLICY_FILE, out) == 0
    text = out.getvalue()
    assert "top-1 text only" in text and "100.0% (2/2)" in text
    assert "off-topic judged weak (offers a person):  100.0% (2/2)" in text
    assert "kb eval: passed" in text


def test_eval_command_fails_below_the_target(tmp_path: Path) -> None:
    questions = tmp_path / "q.yml"
    questions.write_text(
        "questions:\n"
        "  - {text: how much is shipping, expect: shipping-options-and-costs}\n"
        "  - {text: how much is shipping, expect: refunds}\n"
        "off_topic: [tell me a joke]\n"
    )
    out = io.StringIO()
    assert eval_command(questions, KB_DIR, POLICY_FILE, out) == 1
    text = out.getvalue()
    assert "50.0% (1/2)" in text
    assert '"how much is shipping" -> expected refunds; got shipping-options-and-costs' in text


def test_eval_command_names_articles_that_do_not_exist(tmp_path: Path) -> None:
    questions = tmp_path / "q.yml"
    questions.write_text("questions:\n  - {text: how much is shipping, expect: postage}\n")
    out = io.StringIO()
    assert eval_command(questions, KB_DIR, POLICY_FILE, out) == 1
    assert "expected articles that don't exist: postage" in out.getvalue()


def test_eval_command_with_a_bad_questions_file(tmp_path: Path) -> None:
    questions = tmp_path / "q.yml"
    questions.write_text("- just a list\n")
    out = io.StringIO()
    assert eval_command(questions, KB_DIR, POLICY_FILE, out) == 2
    assert "expected a 'questions:' list" in out.getvalue()
