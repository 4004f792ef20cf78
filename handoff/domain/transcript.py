"""The conversation so far, as agents read it: who said what and when, and the card's
one-glance summary. Pure.

Lines come from Rasa's events (handoff/rasa_events.py) and become Slack thread pages in
handoff/mrkdwn.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Speaker = Literal["shopper", "bot", "agent"]


@dataclass(frozen=True)
class Line:
    timestamp: float
    speaker: Speaker
    text: str


def summarise(lines: Sequence[Line], limit: int = 280) -> str:
    """The shopper's latest words, newest last, shortened: the card's one-glance summary."""
    said = [line.text.replace("\n", " ") for line in lines if line.speaker == "shopper"][-3:]
    if not said:
        return "(the shopper has not written anything yet)"
    summary = " / ".join(f"“{text}”" for text in said)
    return summary if len(summary) <= limit else "…" + summary[-(limit - 1) :]
