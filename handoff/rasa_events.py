"""Rasa's event JSON read for the handoff: which events are shopper messages, what they said,
and the transcript lines a ticket starts with.

Takes event dicts (tracker JSON, the event broker's messages and rasa-sdk's `tracker.events`
all share the shape), so the action server and the bridge use the same reading. Imports
neither rasa nor rasa_sdk: the bridge must never load them. Shopper text is masked
(`mask_secrets`); button clicks show the button's title instead of its payload.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from handoff.domain.masking import mask_secrets
from handoff.domain.transcript import Line, Speaker


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
