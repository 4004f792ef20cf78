"""Just enough Markdown: blocks with their line numbers, plain text, sentences, summaries.

Articles use a small, predictable subset (headings, paragraphs, lists, tables, links,
emphasis), so a few regular expressions are clearer than a full parser and keep line numbers,
which `kb check` needs for its messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

MAX_SUMMARY_SENTENCES = 3
MAX_SUMMARY_CHARS = 360

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|`)(?=\S)(.+?)(?<=\S)\1")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9\"'(\[$])")


class BlockKind(StrEnum):
    HEADING = "heading"
    PARAGRAPH = "paragraph"
    LIST_ITEM = "list_item"
    TABLE_ROW = "table_row"


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    text: str  # the Markdown source of the block, lines joined with "\n"
    line: int  # line number of its first line

    def line_at(self, offset: int) -> int:
        """Line number of a character offset inside `text`."""
        return self.line + self.text.count("\n", 0, offset)


def blocks(text: str, first_line: int = 1) -> Iterator[Block]:
    """Paragraphs, headings, list items and table rows; code blocks and comments skipped."""
    current: list[str] = []
    kind = BlockKind.PARAGRAPH
    start = first_line
    in_fence = False

    def flush() -> Iterator[Block]:
        if current and any(line.strip() for line in current):
            yield Block(kind, "\n".join(current), start)
        current.clear()

    for number, line in enumerate(text.split("\n"), start=first_line):
        if _FENCE.match(line):
            yield from flush()
            in_fence = not in_fence
            continue
        stripped = line.strip()
        if in_fence or not stripped or (stripped.startswith("<!--") and "-->" in stripped):
            yield from flush()
            continue
        if _HEADING.match(line) or stripped.startswith("|"):
            yield from flush()
            if not _TABLE_RULE.match(line):
                row_kind = BlockKind.HEADING if _HEADING.match(line) else BlockKind.TABLE_ROW
                yield Block(row_kind, line, number)
            continue
        if _LIST_ITEM.match(line):
            yield from flush()
            kind, start = BlockKind.LIST_ITEM, number
        elif not current:
            kind, start = BlockKind.PARAGRAPH, number
        current.append(line)
    yield from flush()


def plain(markdown: str) -> str:
    """Markdown inline markup removed, whitespace collapsed: what a chat message can show."""
    text = _COMMENT.sub(" ", markdown)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _HEADING.sub("", text)
    text = "\n".join(_LIST_ITEM.sub("", line) for line in text.split("\n"))
    text = text.replace("|", " ")
    for _ in range(2):  # nested emphasis: **bold *and italic***
        text = _EMPHASIS.sub(r"\2", text)
    text = text.replace("\\", "")
    return re.sub(r"\s+", " ", text).strip()


def sentences(text: str) -> list[str]:
    """Plain text split into sentences (good enough for summaries and counting)."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def first_paragraph(markdown: str) -> str:
    for block in blocks(markdown):
        if block.kind is BlockKind.PARAGRAPH:
            return block.text
    return ""


def shorten(text: str, max_sentences: int = MAX_SUMMARY_SENTENCES) -> str:
    """At most `max_sentences` sentences, and never more than MAX_SUMMARY_CHARS characters."""
    kept: list[str] = []
    for sentence in sentences(text)[:max_sentences]:
        if kept and len(" ".join([*kept, sentence])) > MAX_SUMMARY_CHARS:
            break
        kept.append(sentence)
    summary = " ".join(kept)
    if len(summary) > MAX_SUMMARY_CHARS:  # a single run-on sentence
        summary = summary[: MAX_SUMMARY_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return summary
