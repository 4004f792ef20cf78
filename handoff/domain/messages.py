"""What the shopper is told during a handoff, how agents' replies are signed, and which of
an agent's thread messages are internal notes.

Pure. The acknowledgement is always honest: a queue position and a wait measured from recent
tickets (or the service-level target when there is no history), or, outside business hours,
when people are back.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from handoff.domain.hours import describe_moment


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


class AgentText(StrEnum):
    """What an agent's message in a ticket's thread is (`classify_agent_text`)."""

    #: For the shopper.
    REPLY = "reply"
    #: Starts with the note prefix: internal, never sent.
    NOTE = "note"
    #: Looks like a mistyped note ("!nte", "! note", "note:", "(internal)"): held back, kept as
    #: a note, and the agent is asked whether it was meant for the shopper.
    NEAR_MISS = "near_miss"


#: Words agents put in front of text meant only for colleagues.
NOTE_MARKERS = ("note", "notes", "internal", "private", "memo")
#: Characters that read as a slash (NFKC already folds the full-width ones).
_LOOKALIKES = str.maketrans({"\\": "/", "\u2044": "/", "\u2215": "/", "\u29f8": "/"})
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
#: After a marker word, these make it a label ("note:", "(note)", "*internal*", "note -").
_LABEL_ENDINGS = tuple(":;-\u2013\u2014)]}>*_~|/")


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).translate(_INVISIBLE).lstrip().casefold()


def _distance(a: str, b: str) -> int:
    """Optimal string alignment distance (edits, adjacent swaps counting as one)."""
    rows = [list(range(len(b) + 1))]
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            cost = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, rows[-2][j - 2] + 1)
            row.append(cost)
        rows.append(row)
    return rows[-1][-1]


def _leading_symbols(text: str) -> str:
    end = 0
    while end < len(text) and not text[end].isalnum() and not text[end].isspace():
        end += 1
    return text[:end]


def _near_prefix(text: str, prefix: str) -> bool:
    """One typo away from the prefix, or the prefix with spaces or look-alikes in it."""
    squeezed = "".join(text[: len(prefix) * 3].split())
    if squeezed.startswith(prefix) or text.translate(_LOOKALIKES).startswith(prefix):
        return True
    if len(prefix) < 2:
        return False  # one character has no typo that is still recognisable
    if not any(char.isalnum() for char in prefix):
        # "//": compare the run of symbols the text opens with ("/", "/:"), not words.
        symbols = _leading_symbols(text).translate(_LOOKALIKES)
        return bool(symbols) and _distance(symbols, prefix) <= 1
    head = text.split(maxsplit=1)[0].rstrip(":;,.!?")
    if _distance(head, prefix) <= 1:  # "!nte", "note" for "!note"
        return True
    # Glued to the text ("!nteVIP"): only when it opens with the prefix's own symbol.
    if head[:1] == prefix[:1] and not prefix[0].isalnum():
        lengths = range(len(prefix) - 1, len(prefix) + 2)
        return any(_distance(head[:n], prefix) <= 1 for n in lengths)
    return False


def _marker_label(text: str, prefix: str) -> bool:
    """A label word in front: "note:", "(note)", "[Internal]", "*private*", "nte -"."""
    markers = set(NOTE_MARKERS)
    letters = "".join(char for char in prefix if char.isalpha())
    if len(letters) >= 3:
        markers.add(letters)
    opener = _leading_symbols(text)
    rest = text[len(opener) :].lstrip()
    word = ""
    while len(word) < len(rest) and rest[len(word)].isalpha():
        word += rest[len(word)]
    if len(word) < 3 or not any(_distance(word, marker) <= 1 for marker in markers):
        return False
    after = rest[len(word) :].lstrip()
    return bool(opener) or after.startswith(_LABEL_ENDINGS) or after.startswith("to self")


def classify_agent_text(text: str, prefix: str) -> AgentText:
    """Is an agent's thread message for the shopper, an internal note, or a near miss?

    A note starts with `prefix` (any case). A near miss is text that a person probably meant
    as a note but that does not start with the prefix: a typo of it ("!nte", "! note", "/"
    for "//"), or a label word such as "note:", "(internal)", "[private]". Near misses are
    not sent: holding back a real reply costs the agent one click, sending a note cannot be
    undone. Pure.
    """
    normal = _normal(text)
    folded_prefix = _normal(prefix)
    if folded_prefix and normal.startswith(folded_prefix):
        return AgentText.NOTE
    if not normal:
        return AgentText.REPLY
    if folded_prefix and _near_prefix(normal, folded_prefix):
        return AgentText.NEAR_MISS
    if _marker_label(normal, folded_prefix):
        return AgentText.NEAR_MISS
    return AgentText.REPLY


def is_internal_note(text: str, prefix: str) -> bool:
    """Agents' thread messages starting with the note prefix never reach the shopper."""
    return classify_agent_text(text, prefix) is AgentText.NOTE
