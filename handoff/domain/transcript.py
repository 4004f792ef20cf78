"""The conversation so far, as agents read it: lines from Rasa's tracker events, in pages.

Pure: takes event dicts (tracker JSON, the event broker's messages and rasa-sdk's
`tracker.events` all share the shape) and returns text. Shopper text is masked
(`mask_secrets`); button clicks show the button's title instead of its payload.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from handoff.domain.masking import mask_secrets

Speaker = Literal["shopper", "bot", "agent"]
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


@dataclass(frozen=True)
class Line:
    timestamp: float
    speaker: Speaker
    text: str

    def render(self) -> str:
        """As a line of the Slack thread (text escaped)."""
        return f"*{_SPEAKER_LABELS[self.speaker]}:* {slack_escape(self.text)}"


def attachment_links(metadata: Mapping[str, Any] | None) -> list[str]:
    """Attachments of a user event (channels put them in its metadata) as plain links."""
    links = []
    for attachment in (metadata or {}).get("attachments") or []:
        if not isinstance(attachment, Mapping):
            continue
        kind = str(attachment.get("kind") or "file")
        target = attachment.get("url") or attachment.get("provider_file_id") or "(no link)"
        links.append(f"📎 {kind}: {target}")
    return links


def is_shopper_message(event: Mapping[str, Any]) -> bool:
    """A real shopper message (not an external event injected through Rasa's API)."""
    if event.get("event") != "user":
        return False
    metadata = event.get("metadata") or {}
    intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name") or ""
    return not metadata.get("is_external") and not str(intent).startswith("EXTERNAL_")


def shopper_text(
    event: Mapping[str, Any],
    button_titles: Mapping[str, str] | None = None,
    limit: int | None = None,
) -> str:
    """What the shopper said or clicked, masked, with attachments as links; the text cut to
    `limit` characters (masked first, so a secret across the cut is masked too)."""
    raw = str(event.get("text") or "")
    if button_titles and raw in button_titles:
        text = f"[clicked] {button_titles[raw]}"
    else:
        text = mask_secrets(raw)
    if limit is not None and len(text) > limit:
        text = f"{text[:limit]}… [cut: {len(text):,} characters in all]"
    links = attachment_links(event.get("metadata"))
    return "\n".join(part for part in (text, *links) if part) or "(empty message)"


def transcript_lines(
    events: Iterable[Mapping[str, Any]],
    after: float | None = None,
    handoff_action: str | None = "action_handoff",
) -> list[Line]:
    """Shopper and bot messages of `events` with a timestamp after `after`, oldest first.

    Earlier handoffs (from `handoff_action` to the `resume` that ended it) are left out: the
    ticket's log and thread have those messages already, as they happened.
    """
    lines: list[Line] = []
    buttons: dict[str, str] = {}
    in_handoff = False
    for event in events:
        kind, timestamp = event.get("event"), float(event.get("timestamp") or 0.0)
        if kind == "action" and handoff_action and event.get("name") == handoff_action:
            in_handoff = True
        elif kind == "resume":
            in_handoff = False
        if in_handoff:
            continue
        if kind in ("session_started", "restart"):
            buttons = {}
        if kind == "bot":
            data = event.get("data") or {}
            buttons = {
                str(b.get("payload")): str(b.get("title"))
                for b in data.get("buttons") or []
                if b.get("payload")
            }
            speaker: Speaker = "agent" if (event.get("metadata") or {}).get("agent") else "bot"
            text = str(event.get("text") or "")
            if text and (after is None or timestamp > after):
                lines.append(Line(timestamp, speaker, text))
        elif is_shopper_message(event) and (after is None or timestamp > after):
            lines.append(Line(timestamp, "shopper", shopper_text(event, buttons)))
    return lines


def paginate(lines: Sequence[Line], limit: int = PAGE_LIMIT) -> list[str]:
    """Lines joined into pages of at most `limit` characters, each headed "Transcript (i/n)"."""
    bodies: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        rendered = line.render()
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


def summarise(lines: Sequence[Line], limit: int = 280) -> str:
    """The shopper's latest words, newest last, shortened: the card's one-glance summary."""
    said = [line.text.replace("\n", " ") for line in lines if line.speaker == "shopper"][-3:]
    if not said:
        return "(the shopper has not written anything yet)"
    summary = " / ".join(f"“{text}”" for text in said)
    return summary if len(summary) <= limit else "…" + summary[-(limit - 1) :]
