"""Links between articles: `[text](article:ID)`, `[text](other-article.md#section)`.

Both forms are checked (`kb check`) against the articles that exist and their headings, and
rewritten to help-centre URLs when an article is shown or exported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath

from bot.knowledge.markdown_text import BlockKind, blocks

_LINK = re.compile(r"(?<!!)\[(?P<text>[^\]]+)\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
_EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//|^(?:mailto|tel|https?):", re.I)


class LinkKind(StrEnum):
    ARTICLE = "article"  # article:ID
    RELATIVE = "relative"  # other.md, ./other.md#section, images/map.png
    EXTERNAL = "external"  # https://, mailto:, tel:
    ANCHOR = "anchor"  # #section of the same article


@dataclass(frozen=True)
class Link:
    text: str
    target: str
    kind: LinkKind
    line: int
    article_id: str | None = None  # for ARTICLE and .md RELATIVE links
    anchor: str | None = None


def classify(target: str) -> tuple[LinkKind, str | None, str | None]:
    path, _, anchor = target.partition("#")
    if path.startswith("article:"):
        return LinkKind.ARTICLE, path[len("article:") :], anchor or None
    if _EXTERNAL.match(target):
        return LinkKind.EXTERNAL, None, None
    if not path:
        return LinkKind.ANCHOR, None, anchor or None
    pure = PurePosixPath(path)  # "./refunds.md" has the single part "refunds.md"
    if pure.suffix == ".md" and len(pure.parts) == 1:
        return LinkKind.RELATIVE, pure.stem, anchor or None
    return LinkKind.RELATIVE, None, anchor or None


def find_links(lines: Iterable[tuple[int, str]]) -> Iterator[Link]:
    """Links in (line number, text) pairs; code spans and fenced blocks are not links."""
    in_fence = False
    for number, line in lines:
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        for found in _LINK.finditer(re.sub(r"`[^`]*`", "", line)):
            target = found.group("target")
            kind, article_id, anchor = classify(target)
            yield Link(found.group("text"), target, kind, number, article_id, anchor)


def slug(heading: str) -> str:
    """GitHub-style anchor of a heading: "Free returns & labels" -> "free-returns--labels"."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(markdown: str) -> frozenset[str]:
    found = set()
    for block in blocks(markdown):
        if block.kind is BlockKind.HEADING:
            found.add(slug(block.text.lstrip("# ").strip()))
    return frozenset(found)


def rewrite(markdown: str, url_for: Callable[[str], str]) -> str:
    """Article links turned into help-centre URLs (external links left alone)."""

    def replace(found: re.Match[str]) -> str:
        kind, article_id, anchor = classify(found.group("target"))
        if article_id is None or kind not in (LinkKind.ARTICLE, LinkKind.RELATIVE):
            return found.group(0)
        url = url_for(article_id) + (f"#{anchor}" if anchor else "")
        return f"[{found.group('text')}]({url})"

    return _LINK.sub(replace, markdown)


def broken(
    link: Link,
    known: Mapping[str, frozenset[str]],
    own_anchors: frozenset[str],
    exists: Callable[[str], bool],
) -> str | None:
    """Why a link is broken, or None. `known`: article id -> its heading anchors."""
    if link.kind is LinkKind.EXTERNAL:
        return None  # not checked: no network in checks, and shops change their sites
    if link.kind is LinkKind.ANCHOR:
        if link.anchor not in own_anchors:
            return f"no heading '#{link.anchor}' in this article"
        return None
    if link.article_id is None:
        if not exists(link.target.partition("#")[0]):
            return f"links to '{link.target}', which does not exist"
        return None
    if link.article_id not in known:
        return f"links to article '{link.article_id}', which does not exist"
    if link.anchor and link.anchor not in known[link.article_id]:
        return f"article '{link.article_id}' has no heading '#{link.anchor}'"
    return None
