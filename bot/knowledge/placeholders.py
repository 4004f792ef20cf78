"""`{{ policy.path | filter }}` placeholders: articles quote policy.yml instead of copying it.

Paths are dotted keys of policy.yml; list items are picked by position (`options.0`) or, for
lists of mappings with an `id`, by that id (`shipping.options.express.cost`), which stays
right when someone reorders the list.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.domain.store_policy import StorePolicy

PLACEHOLDER = re.compile(r"\{\{\s*(?P<expr>[^{}]*?)\s*\}\}")
_EXPR = re.compile(r"^policy\.(?P<path>[A-Za-z0-9_.]+)(?:\s*\|\s*(?P<filter>[a-z_]+))?$")
_CURRENCY_SYMBOLS = {"USD": "$", "CAD": "CA$", "EUR": "€", "GBP": "£"}
# Filters that add a unit and agree in number: "1 business day", "5 business days".
_UNIT_FILTERS = {"days": "day", "business_days": "business day", "hours": "hour"}
FILTERS = ("money", "clock", "and", "or", *_UNIT_FILTERS)


class PlaceholderError(ValueError):
    """A placeholder that cannot be rendered: unknown path, unknown filter or bad syntax."""


@dataclass(frozen=True)
class Placeholder:
    expression: str  # what is between the braces, e.g. "policy.returns.window_days | money"
    path: str | None  # "returns.window_days"; None when the syntax is wrong
    filter: str | None
    start: int  # offsets in the text it was found in
    end: int


def find_placeholders(text: str) -> Iterator[Placeholder]:
    for found in PLACEHOLDER.finditer(text):
        parsed = _EXPR.match(found.group("expr"))
        yield Placeholder(
            expression=found.group("expr"),
            path=parsed.group("path") if parsed else None,
            filter=parsed.group("filter") if parsed else None,
            start=found.start(),
            end=found.end(),
        )


def resolve(policy: StorePolicy, path: str) -> Any:
    """The policy value at `path`; KeyError when there is none."""
    try:
        return policy.value_at(path)
    except KeyError:
        pass
    node: Any = policy.raw
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, list):
            by_id = [i for i in node if isinstance(i, dict) and str(i.get("id")) == part]
            if not by_id:
                raise KeyError(path)
            node = by_id[0]
        else:
            raise KeyError(path)
    return node


def _number(value: float | int | Decimal) -> str:
    """30 -> "30", 75.0 -> "75", 5.95 -> "5.95": how a person would write it."""
    amount = Decimal(str(value))
    if amount == amount.to_integral_value():
        return str(int(amount))
    return f"{amount:.2f}"


def _join(items: list[Any], conjunction: str) -> str:
    # Identifiers in lists ("gift_cards") read as words in an article.
    words = [str(i).replace("_", " ") for i in items]
    if len(words) <= 2:
        return f" {conjunction} ".join(words)
    return f"{', '.join(words[:-1])} {conjunction} {words[-1]}"


def _clock(value: Any) -> str:
    """ "13:00" -> "1pm", "09:30" -> "9:30am" (US style, like the support hours)."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", str(value))
    if not match:
        raise PlaceholderError(f"{value!r} is not a time like 13:00")
    hours, minutes = int(match.group(1)), int(match.group(2))
    suffix = "am" if hours < 12 else "pm"
    shown = hours % 12 or 12
    return f"{shown}{suffix}" if minutes == 0 else f"{shown}:{minutes:02d}{suffix}"


def format_value(value: Any, filter_name: str | None, policy: StorePolicy) -> str:
    if filter_name == "money":
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            raise PlaceholderError(f"money needs a number, got {value!r}")
        currency = str(policy.raw.get("payments", {}).get("currency", "USD"))
        symbol = _CURRENCY_SYMBOLS.get(currency)
        amount = f"{Decimal(str(value)):.2f}"
        return f"{symbol}{amount}" if symbol else f"{amount} {currency}"
    if filter_name == "clock":
        return _clock(value)
    if filter_name in _UNIT_FILTERS:
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            raise PlaceholderError(f"'{filter_name}' needs a number, got {value!r}")
        unit = _UNIT_FILTERS[filter_name]
        return f"{_number(value)} {unit if Decimal(str(value)) == 1 else unit + 's'}"
    if filter_name in ("and", "or"):
        if not isinstance(value, list):
            raise PlaceholderError(f"'{filter_name}' needs a list, got {value!r}")
        return _join(value, filter_name)
    if filter_name is not None:
        raise PlaceholderError(f"unknown filter '{filter_name}' (use {', '.join(FILTERS)})")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | Decimal):
        return _number(value)
    if isinstance(value, list):
        return _join(value, "and")
    if isinstance(value, dict):
        raise PlaceholderError("points at a whole section, not a value")
    return str(value)


def render_placeholder(placeholder: Placeholder, policy: StorePolicy) -> str:
    if placeholder.path is None:
        raise PlaceholderError(
            f"'{{{{ {placeholder.expression} }}}}' is not a placeholder: write "
            "{{ policy.section.key }} or {{ policy.section.key | filter }}"
        )
    try:
        value = resolve(policy, placeholder.path)
    except KeyError:
        raise PlaceholderError(
            f"unknown placeholder 'policy.{placeholder.path}': policy.yml has no such value"
        ) from None
    try:
        return format_value(value, placeholder.filter, policy)
    except PlaceholderError as error:
        raise PlaceholderError(f"'policy.{placeholder.path}': {error}") from None


def render(text: str, policy: StorePolicy) -> str:
    """Text with every placeholder replaced; PlaceholderError on the first bad one."""
    parts: list[str] = []
    last = 0
    for placeholder in find_placeholders(text):
        parts.append(text[last : placeholder.start])
        parts.append(render_placeholder(placeholder, policy))
        last = placeholder.end
    parts.append(text[last:])
    return "".join(parts)
