"""What the shopper is told during a handoff, and how agents' replies are signed.

Pure. The acknowledgement is always honest: a queue position and a wait measured from recent
tickets (or the service-level target when there is no history), or, outside business hours,
when people are back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.handoff_hours import describe_moment


@dataclass(frozen=True)
class QueueState:
    ticket_number: int
    #: 1 = next in line.
    position: int
    #: Typical minutes until a person picks a ticket up (measured), or None.
    typical_wait_minutes: float | None
    #: The service-level target for this ticket's priority, used when nothing was measured.
    target_minutes: int
    open_now: bool
    next_opening: datetime
    reopened: bool = False
    #: The agent who already has the case (a reopened, claimed ticket).
    agent_first_name: str | None = None


def _wait_phrase(minutes: float) -> str:
    if minutes < 1.5:
        return "about a minute"
    if minutes < 90:
        return f"about {math.ceil(minutes)} minutes"
    return f"about {round(minutes / 60)} hours"


def acknowledgement(state: QueueState, now: datetime, zone: ZoneInfo) -> str:
    """The message that tells the shopper what happens next (never silence)."""
    ticket = f"case #{state.ticket_number}"
    opening = (
        f"I've reopened your {ticket} and passed it back to our support team"
        if state.reopened
        else f"I've passed your conversation to our support team ({ticket})"
    )
    if not state.open_now:
        when = describe_moment(state.next_opening, now, zone)
        return (
            f"{opening}, with everything you've told me so you won't need to repeat "
            f"yourself. Our team is offline right now; a person will reply here from {when}. "
            "You can leave this chat open or come back later: the answer will be here."
        )
    if state.agent_first_name:
        return f"{opening}. {state.agent_first_name} will pick it up again here shortly."
    wait = state.typical_wait_minutes
    expectation = (
        f"a person usually replies within {_wait_phrase(wait)}"
        if wait is not None
        else f"we aim to reply within {_wait_phrase(state.target_minutes)}"
    )
    place = "you're next in line" if state.position <= 1 else f"you're number {state.position}"
    return (
        f"{opening}, with everything you've told me so you won't need to repeat yourself. "
        f"{place.capitalize()} in the queue and {expectation}. Please stay in this chat; "
        "the reply will appear right here."
    )


def first_name(full_name: str) -> str:
    """'Maya Lopez' → 'Maya'; an empty name becomes 'our team'."""
    parts = full_name.strip().split()
    return parts[0] if parts else "our team"


def signed(text: str, agent_first_name: str) -> str:
    """An agent's reply as the shopper sees it."""
    return f"{text.strip()}\n— {agent_first_name}"


def joined_notice(agent_first_name: str, store_name: str) -> str:
    return f"{agent_first_name} from the {store_name} team has joined the chat."


def is_internal_note(text: str, prefix: str) -> bool:
    """Agents' thread messages starting with the note prefix never reach the shopper."""
    return bool(prefix) and text.lstrip().lower().startswith(prefix.lower())
