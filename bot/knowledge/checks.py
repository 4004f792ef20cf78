"""`kb check`: everything an editor can get wrong in the articles, with file and line.

Errors (the check fails): unusable front matter, missing or malformed fields, duplicate
ids, no intent tag, overdue review dates, unknown placeholders, broken links between articles,
policy contradictions. Warnings (worth fixing, the check passes): hard-coded policy numbers,
reviews due soon, long summaries, unknown tags and fields.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import date, timedelta
from pathlib import Path

from bot.domain.store_policy import PolicyFileError, StorePolicy
from bot.knowledge.analysis import word_set
from bot.knowledge.articles import Article, article_files, read_article
from bot.knowledge.contradictions import check_text
from bot.knowledge.links import anchors, broken, find_links
from bot.knowledge.markdown_text import (
    MAX_SUMMARY_CHARS,
    MAX_SUMMARY_SENTENCES,
    first_paragraph,
    plain,
    sentences,
)
from bot.knowledge.placeholders import (
    PLACEHOLDER,
    PlaceholderError,
    find_placeholders,
    render,
    render_placeholder,
)
from bot.knowledge.policy_file import load_store_policy
from bot.knowledge.problems import Problem, Severity

#: Intents the assistant answers from articles (domain/intents.yml minus conversation intents).
ANSWERABLE_INTENTS = word_set(
    """
    cancel_order change_order change_shipping_address check_cancellation_fee check_invoice
    check_payment_methods check_refund_policy complaint contact_customer_service
    contact_human_agent create_account delete_account delivery_options delivery_period
    edit_account get_invoice get_refund newsletter_subscription payment_issue place_order
    recover_password registration_problems review set_up_shipping_address switch_account
    track_order track_refund start_return product_availability product_question
    """
)
#: A review date this close is a warning, so nobody is surprised by a failing check.
REVIEW_WARNING_DAYS = 14


def _placeholder_problems(path: Path, text: str, policy: StorePolicy) -> Iterator[Problem]:
    for number, line in enumerate(text.split("\n"), start=1):
        for placeholder in find_placeholders(line):
            try:
                render_placeholder(placeholder, policy)
            except PlaceholderError as error:
                yield Problem(path, number, Severity.ERROR, "unknown-placeholder", str(error))
        leftover = PLACEHOLDER.sub("", line)
        if "{{" in leftover or "}}" in leftover:
            # "{{ policy.x }" or a lost brace: shoppers would see the braces.
            yield Problem(
                path,
                number,
                Severity.ERROR,
                "unknown-placeholder",
                "unbalanced '{{' or '}}': write {{ policy.section.key }}",
            )


def _date_problems(article: Article, today: date) -> Iterator[Problem]:
    line = article.line_of("review-by")
    if article.review_by < today:
        yield Problem(
            article.path,
            line,
            Severity.ERROR,
            "review-overdue",
            f"review was due on {article.review_by.isoformat()}: check the article is "
            "still right, then move review-by forward (and updated, if you changed it)",
        )
    elif article.review_by <= today + timedelta(days=REVIEW_WARNING_DAYS):
        yield Problem(
            article.path,
            line,
            Severity.WARNING,
            "review-due-soon",
            f"review is due on {article.review_by.isoformat()}",
        )
    if article.updated > today:
        yield Problem(
            article.path,
            article.line_of("updated"),
            Severity.WARNING,
            "bad-field",
            f"updated {article.updated.isoformat()} is in the future",
        )


def _tag_problems(article: Article, intents: Collection[str]) -> Iterator[Problem]:
    line = article.line_of("tags")
    if not any(tag in intents for tag in article.tags):
        yield Problem(
            article.path,
            line,
            Severity.ERROR,
            "no-intent-tag",
            "tags name no intent the assistant answers (e.g. track_order): the "
            "article would never get the intent boost",
        )
    for tag in article.tags:
        if "_" in tag and tag not in intents:
            yield Problem(
                article.path,
                line,
                Severity.WARNING,
                "unknown-tag",
                f"tag '{tag}' looks like an intent but isn't one",
            )


def _summary_problems(article: Article, policy: StorePolicy) -> Iterator[Problem]:
    if article.summary is not None:
        try:  # measure what shoppers get, not the placeholders
            text = plain(render(article.summary, policy))
        except PlaceholderError:
            text = plain(article.summary)  # reported as unknown-placeholder
        count = len(sentences(text))
        if count > MAX_SUMMARY_SENTENCES or len(text) > MAX_SUMMARY_CHARS:
            yield Problem(
                article.path,
                article.line_of("summary"),
                Severity.WARNING,
                "summary-too-long",
                f"summary has {count} sentences and {len(text)} characters; the "
                f"assistant sends at most {MAX_SUMMARY_SENTENCES} sentences and "
                f"{MAX_SUMMARY_CHARS} characters, so it will be cut",
            )
        return
    paragraph = first_paragraph(article.body)
    if not paragraph:
        yield Problem(
            article.path,
            article.body_line,
            Severity.ERROR,
            "no-summary",
            "no summary field and no first paragraph to use as the answer",
        )
    elif len(sentences(plain(paragraph))) > MAX_SUMMARY_SENTENCES:
        yield Problem(
            article.path,
            article.body_line,
            Severity.WARNING,
            "summary-too-long",
            f"the first paragraph (the answer the assistant sends) is longer than "
            f"{MAX_SUMMARY_SENTENCES} sentences; add a short summary field",
        )


def _link_problems(article: Article, known: dict[str, frozenset[str]]) -> Iterator[Problem]:
    own = known.get(article.id, anchors(article.body))
    directory = article.path.parent

    def exists(target: str) -> bool:
        return (directory / target).exists()

    for link in find_links(article.body_lines()):
        reason = broken(link, known, own, exists)
        if reason is not None:
            yield Problem(
                article.path,
                link.line,
                Severity.ERROR,
                "broken-link",
                f"[{link.text}]({link.target}) {reason}",
            )


def _policy_problems(article: Article, policy: StorePolicy) -> Iterator[Problem]:
    texts = [(article.title, article.line_of("title"))]
    if article.summary:
        texts.append((article.summary, article.line_of("summary")))
    texts.append((article.body, article.body_line))
    for text, line in texts:
        for finding in check_text(text, policy, first_line=line, title=article.title):
            yield Problem(
                article.path, finding.line, finding.severity, finding.code, finding.message
            )


def kb_check(
    directory: Path,
    policy_file: Path,
    today: date,
    *,
    intents: Collection[str] = ANSWERABLE_INTENTS,
) -> list[Problem]:
    """Every problem in the knowledge base, sorted by file and line."""
    try:
        policy = load_store_policy(policy_file)
    except PolicyFileError as error:
        return [Problem(policy_file, 0, Severity.ERROR, "policy-file", str(error))]
    paths = article_files(directory)
    if not paths:
        return [Problem(directory, 0, Severity.ERROR, "no-articles", "no *.md articles here")]

    problems: list[Problem] = []
    articles: list[Article] = []
    first_file: dict[str, Path] = {}
    for path in paths:
        parsed = read_article(path)
        problems += parsed.problems
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # reported by read_article
        problems += _placeholder_problems(path, text, policy)
        article = parsed.article
        if article is None:
            continue
        if article.id in first_file:
            problems.append(
                Problem(
                    path,
                    article.line_of("id"),
                    Severity.ERROR,
                    "duplicate-id",
                    f"id '{article.id}' is already used by {first_file[article.id].name}",
                )
            )
            continue
        first_file[article.id] = path
        articles.append(article)

    known = {a.id: anchors(a.body) for a in articles}
    for article in articles:
        problems += _date_problems(article, today)
        problems += _tag_problems(article, intents)
        problems += _summary_problems(article, policy)
        problems += _link_problems(article, known)
        problems += _policy_problems(article, policy)
    return sorted(set(problems))


def format_problems(problems: list[Problem], *, root: Path | None = None) -> str:
    """One line per problem, then a one-line verdict."""
    lines = [p.format(root) for p in problems]
    errors = sum(p.severity is Severity.ERROR for p in problems)
    warnings = len(problems) - errors
    files = len({p.path for p in problems})
    if errors:
        verdict = (
            f"kb check: FAILED, {errors} error(s) and {warnings} warning(s) in {files} file(s)"
        )
    elif warnings:
        verdict = f"kb check: passed with {warnings} warning(s)"
    else:
        verdict = "kb check: passed, no problems"
    return "\n".join([*lines, verdict])
