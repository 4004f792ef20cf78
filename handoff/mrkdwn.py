"""Slack mrkdwn text: shopper text escaped for Slack, agents' Slack text as plain text for the
shopper, and a transcript as pages for a ticket's thread.

Not in handoff/domain (no Slack there) and not in handoff/bridge: the ticket store, which the
action server and the agent CLI use too, writes the thread lines it queues for Slack in the
same transaction as the ticket change. Pure text functions; imports no Slack SDK.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from handoff.domain.transcript import Line

#: Slack renders at most 3,000 characters per section block and 40,000 per message; pages stay
#: well under both so a long transcript is several readable messages rather than one wall.
PAGE_LIMIT = 2800
_SPEAKER_LABELS: dict[str, str] = {"shopper": "Shopper", "bot": "Bot", "agent": "Agent"}


def slack_escape(text: str) -> str:
    """Shopper text must not become Slack markup (a typed "<!channel>" would ping everyone)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_SLACK_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


def slack_to_plain(text: str) -> str:
    """An agent's Slack message as the shopper should read it: links spelled out, mentions and
    Slack's escaping removed."""

    def link(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith(("@", "#", "!")):
            return label or ""  # mentions mean nothing to the shopper
        target = target.removeprefix("mailto:")
        return f"{label} ({target})" if label and label != target else target

    plain = _SLACK_LINK.sub(link, text)
    return plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


def thread_line(line: Line) -> str:
    """A transcript line as the Slack thread shows it (text escaped)."""
    return f"*{_SPEAKER_LABELS[line.speaker]}:* {slack_escape(line.text)}"


def paginate(lines: Sequence[Line], limit: int = PAGE_LIMIT) -> list[str]:
    """Lines joined into pages of at most `limit` characters, each headed "Transcript (i/n)"."""
    bodies: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        rendered = thread_line(line)
        if len(rendered) > limit:
            rendered = rendered[: limit - 1] + "…"
        if current and size + len(rendered) + 1 > limit:
            bodies.append("\n".join(current))
            current, size = [], 0
        current.append(rendered)
        size += len(rendered) + 1
    if current:
        bodies.append("\n".join(current))
    total = len(bodies)
    return [f"_Transcript ({i}/{total})_\n{body}" for i, body in enumerate(bodies, start=1)]
