"""Links between articles: classified, found with their line, checked."""

from __future__ import annotations

import pytest

from bot.knowledge.links import LinkKind, anchors, broken, classify, find_links, rewrite, slug


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("article:refunds", (LinkKind.ARTICLE, "refunds", None)),
        ("article:refunds#how-long", (LinkKind.ARTICLE, "refunds", "how-long")),
        ("refunds.md", (LinkKind.RELATIVE, "refunds", None)),
        ("./refunds.md#top", (LinkKind.RELATIVE, "refunds", "top")),
        ("../docs/nlu.md", (LinkKind.RELATIVE, None, None)),
        ("images/map.png", (LinkKind.RELATIVE, None, None)),
        ("https://example.com/a.md", (LinkKind.EXTERNAL, None, None)),
        ("mailto:support@northwind.example", (LinkKind.EXTERNAL, None, None)),
        ("#steps", (LinkKind.ANCHOR, None, "steps")),
    ],
)
def test_classify(target: str, expected: tuple[LinkKind, str | None, str | None]) -> None:
    assert classify(target) == expected


def test_find_links_with_lines_skipping_code() -> None:
    lines = enumerate(
        ["See [a](article:x) and [b](y.md).", "```", "[c](article:z)", "```", "`[d](article:q)`",
         "![img](pic.png)"],
        start=5,
    )  # fmt: skip
    found = [(link.line, link.target) for link in find_links(lines)]
    assert found == [(5, "article:x"), (5, "y.md")]


KNOWN = {"refunds": frozenset({"how-long-it-takes"}), "return-policy": frozenset()}


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("article:refunds", None),
        ("refunds.md#how-long-it-takes", None),
        ("article:refund", "article 'refund', which does not exist"),
        ("refund-policy.md", "article 'refund-policy', which does not exist"),
        ("article:refunds#timeline", "has no heading '#timeline'"),
        ("#steps", None),
        ("#nowhere", "no heading '#nowhere' in this article"),
        ("images/missing.png", "'images/missing.png', which does not exist"),
        ("https://carrier.example/track", None),  # external links are not checked
    ],
)
def test_broken(target: str, reason: str | None) -> None:
    [link] = find_links([(1, f"[x]({target})")])
    found = broken(link, KNOWN, frozenset({"steps"}), exists=lambda path: False)
    assert found == reason if reason is None else reason in (found or "")


def test_slug_and_anchors() -> None:
    assert slug("Free returns & labels") == "free-returns--labels"
    assert anchors("## Switch to another account\ntext") == {"switch-to-another-account"}


def test_rewrite_turns_article_links_into_urls() -> None:
    text = "[a](article:refunds#x), [b](exchanges.md), [c](https://e.com)"
    assert rewrite(text, lambda i: f"https://help/articles/{i}") == (
        "[a](https://help/articles/refunds#x), [b](https://help/articles/exchanges), "
        "[c](https://e.com)"
    )
