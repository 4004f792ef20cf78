"""Walking JSON documents for the webhook fuzz tests (tests/channels, tests/handoff): where the
dicts and lists are, so a mutation can pick one and change, drop or add a field there."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def containers(
    value: Any, path: tuple[Any, ...] = (), *, max_depth: int | None = None
) -> Iterator[tuple[Any, ...]]:
    """Paths of the dicts and lists inside `value` (the root included), down to `max_depth`
    (a nesting mutation may have made a document deeper than any recursion allows)."""
    if isinstance(value, dict | list) and (max_depth is None or len(path) <= max_depth):
        yield path
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            yield from containers(child, (*path, key), max_depth=max_depth)


def at(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value
