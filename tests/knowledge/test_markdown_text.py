"""Blocks with line numbers, plain text for chat, and short summaries."""

from __future__ import annotations

import pytest

from bot.knowledge.markdown_text import (
    MAX_SUMMARY_CHARS,
    BlockKind,
    blocks,
    first_paragraph,
    plain,
    sentences,
    shorten,
)

DOC = """Intro line one
continues here.

## A heading

- item one
  continued
- item two

| a | b |
| --- | --- |
| 1 | 2 |

```
code 45 days
```
<!-- a comment -->
Last."""


def test_blocks_kinds_and_lines() -> None:
    found = [(b.kind, b.line) for b in blocks(DOC, first_line=10)]
    assert found == [
        (BlockKind.PARAGRAPH, 10), (BlockKind.HEADING, 13), (BlockKind.LIST_ITEM, 15),
        (BlockKind.LIST_ITEM, 17), (BlockKind.TABLE_ROW, 19), (BlockKind.TABLE_ROW, 21),
        (BlockKind.PARAGRAPH, 27),
    ]  # fmt: skip


def test_block_line_at_offset() -> None:
    block = next(blocks(DOC, first_line=10))
    assert block.line_at(block.text.index("continues")) == 11


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("**Free** returns, see [our policy](article:return-policy).",
         "Free returns, see our policy."),
        ("## Heading", "Heading"),
        ("- a *list* item with `code`", "a list item with code"),
        ("| Standard | $5.95 |", "Standard $5.95"),
        ("text <!-- hidden --> more", "text more"),
    ],
)  # fmt: skip
def test_plain(markdown: str, expected: str) -> None:
    assert plain(markdown) == expected


def test_sentences_keep_prices_and_times_whole() -> None:
    assert sentences("It costs $5.95. Orders before 1pm ship. Done!") == [
        "It costs $5.95.", "Orders before 1pm ship.", "Done!"
    ]  # fmt: skip


def test_shorten_keeps_three_sentences() -> None:
    assert shorten("One. Two. Three. Four.") == "One. Two. Three."


def test_shorten_cuts_a_run_on_sentence() -> None:
    summary = shorten("word " * 200)
    assert len(summary) <= MAX_SUMMARY_CHARS and summary.endswith("…")


def test_first_paragraph_skips_headings() -> None:
    assert first_paragraph("## Title\n\nThe answer.\n\nMore.") == "The answer."
