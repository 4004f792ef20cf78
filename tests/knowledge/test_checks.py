"""`kb check` on temp copies of the real knowledge base with one planted mistake each."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from bot.knowledge import check_command, format_problems, kb_check
from tests.knowledge.conftest import KB_DIR, POLICY_FILE, TODAY


def test_the_real_knowledge_base_is_clean() -> None:
    assert kb_check(KB_DIR, POLICY_FILE, TODAY) == []


def plant(directory: Path, name: str, old: str, new: str) -> Path:
    path = directory / name
    text = path.read_text()
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1))
    return path


def line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().split("\n"), 1) if needle in line)


# (file, replace this, with this, expected code, text expected in the message)
PLANTED = [
    ("return-policy.md", "{{ policy.returns.window_days | days }} from delivery** for everyone",
     "45 days from delivery** for everyone", "policy-contradiction",
     "says '45 days' for the return window, but policy.yml says 30 days"),
    ("refund-status.md",
     "{{ policy.refunds.processing_business_days_min }}-"
     "{{ policy.refunds.processing_business_days_max }}\n   business days of the refund",
     "3-5 business days of the refund", "policy-contradiction",
     "says '3-5 business days' for the refund processing time"),
    ("contact-us.md", "{{ policy.store.support_phone }} |", "{{ policy.store.support_fax }} |",
     "unknown-placeholder", "unknown placeholder 'policy.store.support_fax'"),
    ("exchanges.md", "(article:start-a-return)", "(article:start-return)", "broken-link",
     "links to article 'start-return', which does not exist"),
    ("exchanges.md", "(article:size-guide)", "(size-guides.md)", "broken-link",
     "links to article 'size-guides', which does not exist"),
    ("reset-your-password.md", "manage-your-account#switch-to-another-account",
     "manage-your-account#switching", "broken-link",
     "article 'manage-your-account' has no heading '#switching'"),
    ("gift-cards.md", "review-by: 2027-05-20", "review-by: 2026-11-01", "review-overdue",
     "review was due on 2026-11-01"),
    ("gift-cards.md", "owner: payments\n", "", "missing-field", "front matter has no 'owner'"),
    ("gift-cards.md", "tags: [check_payment_methods, product_question]", "tags: [giftcards]",
     "no-intent-tag", "tags name no intent"),
    ("size-guide.md", "id: size-guide", "id: product-care", "duplicate-id",
     "id 'product-care' is already used by product-care.md"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "old", "new", "code", "message"), PLANTED)
def test_planted_problem_is_reported_with_file_and_line(
    kb_copy: Path, name: str, old: str, new: str, code: str, message: str
) -> None:
    path = plant(kb_copy, name, old, new)
    problems = kb_check(kb_copy, kb_copy / "policy.yml", TODAY)
    # (Renaming an id also breaks the links to the old one: reported in those files.)
    [problem] = [p for p in problems if p.severity == "error" and p.path == path]
    assert (problem.path, problem.code) == (path, code)
    assert message in problem.message
    if code not in ("missing-field",):  # a missing field has no line of its own
        assert problem.line == line_of(path, new.split("\n")[0] or old.split("\n")[0])


def test_warnings_do_not_fail(kb_copy: Path) -> None:
    plant(kb_copy, "return-policy.md", "- **{{ policy.returns.window_days | days }} from",
          "- **30 days from")  # right number, but copied: a warning  # fmt: skip
    out = io.StringIO()
    assert check_command(kb_copy, kb_copy / "policy.yml", TODAY, out) == 0
    assert "warning [hard-coded-policy-number]" in out.getvalue()
    assert "kb check: passed with 1 warning(s)" in out.getvalue()


def test_review_due_soon_is_a_warning() -> None:
    problems = kb_check(KB_DIR, POLICY_FILE, date(2027, 5, 10))
    assert problems and {p.code for p in problems} == {"review-due-soon"}


def test_check_command_output_and_exit_code(kb_copy: Path) -> None:
    window = "{{ policy.returns.window_days | days }} from delivery** for"
    plant(kb_copy, "return-policy.md", window, "45 days from delivery** for")
    out = io.StringIO()
    assert check_command(kb_copy, kb_copy / "policy.yml", TODAY, out) == 1
    first, verdict = out.getvalue().strip().split("\n")
    assert first.startswith("knowledge_base/return-policy.md:2")
    assert "error [policy-contradiction] says '45 days'" in first
    assert verdict == "kb check: FAILED, 1 error(s) and 0 warning(s) in 1 file(s)"


def test_check_command_passes_on_the_real_articles() -> None:
    out = io.StringIO()
    assert check_command(KB_DIR, POLICY_FILE, TODAY, out) == 0
    assert out.getvalue().strip() == "kb check: passed, no problems"


def test_unreadable_policy_file(tmp_path: Path) -> None:
    (tmp_path / "policy.yml").write_text("returns: [")
    [problem] = kb_check(KB_DIR, tmp_path / "policy.yml", TODAY)
    assert problem.code == "policy-file"
    assert "kb check: FAILED" in format_problems([problem])


def test_a_new_article_with_every_kind_of_mistake(
    kb_copy: Path, write_article: Callable[..., Path]
) -> None:
    body = (
        "Returns are free within 60 days.\n\n"  # contradiction (line 11)
        "See [refunds](article:refundz) and {{ policy.refunds.days }}.\n"  # link + placeholder
    )
    path = write_article(kb_copy, "new-article", body, tags="returns_typo, start_return")
    problems = [(p.line, p.code) for p in kb_check(kb_copy, kb_copy / "policy.yml", TODAY)
                if p.path == path]  # fmt: skip
    assert problems == [
        (4, "unknown-tag"), (11, "policy-contradiction"), (13, "broken-link"),
        (13, "unknown-placeholder"),
    ]  # fmt: skip
