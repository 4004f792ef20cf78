"""Undoing a shopper's turn in Rasa's tracker (a corrected message, a turn whose actions
failed), and counting the attempts of a delivery that reached it.

It lives with the code that runs inside the Rasa server because it reads and rewrites Rasa's
dialogue state through the agent's tracker store and lock store: dialogue logic, not transport;
the channel connectors (channels/core/channel.py, channels/core/recovery.py) call it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rasa.shared.core.events import ActiveLoop, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

if TYPE_CHECKING:
    # Only the message's ids are read: at run time this module needs nothing from channels/.
    from channels.core.messages import InboundMessage


def _undo_since(tracker: DialogueStateTracker, index: int, domain: Any) -> None:
    """Sets the slots and the form state back to what they were before event `index` (a user
    event), by appending the events that do it. Rasa's own `UserUtteranceReverted` cannot do
    this inside a form: the tracker folds a form's steps together, and the rewind then also
    drops the turn that started the form. The superseded events stay in the history."""
    events = list(tracker.events)
    before = DialogueStateTracker.from_events(tracker.sender_id, events[:index], list(domain.slots))
    undo: list[Event] = [
        SlotSet(name, before.get_slot(name))
        for name in tracker.slots
        if tracker.get_slot(name) != before.get_slot(name)
    ]
    if tracker.active_loop_name != before.active_loop_name:
        undo.append(ActiveLoop(before.active_loop_name))
    for event in undo:
        tracker.update(event)


async def undo_corrected_turn(agent: Any, message: InboundMessage) -> bool:
    """Undoes the shopper's latest turn if it is the one `message` corrects, so the corrected
    text is answered as if the original had never been sent (an edited order number is looked
    up again). Outside Rasa (the dev server, channel tests) there is no tracker and the
    correction is simply passed on.
    """
    if agent is None:
        return True
    conversation = message.conversation_id
    async with agent.lock_store.lock(conversation):
        tracker = await agent.tracker_store.retrieve(conversation)
        if tracker is None:
            return False
        events = list(tracker.events)
        turns = [i for i, event in enumerate(events) if isinstance(event, UserUttered)]
        if not turns or (events[turns[-1]].metadata or {}).get("message_ref") != message.corrects:
            return False
        _undo_since(tracker, turns[-1], agent.domain)
        await agent.tracker_store.save(tracker)
    return True


async def undo_failed_turn(agent: Any, message: InboundMessage) -> int:
    """Undoes the turn of `message` if it is the tracker's latest (Rasa saves the tracker at
    the end of a turn, so after a crash it may not be there at all). Returns how many user
    events of this delivery the tracker holds, all of them undone now."""
    if agent is None:
        return 0
    conversation = message.conversation_id
    async with agent.lock_store.lock(conversation):
        tracker = await agent.tracker_store.retrieve(conversation)
        if tracker is None:
            return 0
        events = list(tracker.events)
        turns = [i for i, event in enumerate(events) if isinstance(event, UserUttered)]
        ours = [i for i in turns if events[i].message_id == message.provider_message_id]
        if ours and ours[-1] == turns[-1]:
            _undo_since(tracker, turns[-1], agent.domain)
            await agent.tracker_store.save(tracker)
        return len(ours)


async def user_events_of(agent: Any, message: InboundMessage) -> int:
    """How many user events of this delivery the tracker holds (one per attempt that reached
    the assistant and was saved)."""
    if agent is None:
        return 0
    tracker = await agent.tracker_store.retrieve(message.conversation_id)
    if tracker is None:
        return 0
    return sum(
        1
        for event in tracker.events
        if isinstance(event, UserUttered) and event.message_id == message.provider_message_id
    )
