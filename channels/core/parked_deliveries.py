"""The in-memory index of a connector's parked deliveries (the store's rows are in
channels/core/parking.py): which conversations have a message waiting for the action server,
so their later messages wait behind it, and whose shopper was already told about the wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from channels.core.parking import ParkedDelivery, ParkState


class ParkedDeliveries:
    """A connector's parked deliveries by conversation, and who was told about the wait.

    Loaded from the store by the first turn after start-up, then kept in step with it: a
    conversation with a parked delivery keeps its later messages waiting behind it.
    """

    def __init__(self) -> None:
        self._states: dict[int, ParkState] = {}
        self._by_conversation: dict[str, set[int]] = {}
        self._told: set[str] = set()
        self._loaded = False
        self._loading: asyncio.Lock | None = None
        #: Bumped by every `add`: the retry task's "nothing left" must not miss a newcomer.
        self.generation = 0

    async def ensure_loaded(self, load: Callable[[], list[ParkedDelivery]]) -> None:
        if self._loaded:
            return
        if self._loading is None:
            self._loading = asyncio.Lock()
        async with self._loading:
            if self._loaded:
                return
            for item in await asyncio.to_thread(load):
                self.add(item.message.conversation_id, item.inbound_id, item.state)
            self._loaded = True

    def state(self, inbound_id: int) -> ParkState | None:
        return self._states.get(inbound_id)

    def earlier(self, conversation: str, inbound_id: int) -> bool:
        """Is an earlier message of this conversation still waiting?"""
        return any(other < inbound_id for other in self._by_conversation.get(conversation, ()))

    def waiting(self, conversation: str) -> list[int]:
        return sorted(self._by_conversation.get(conversation, ()))

    def add(self, conversation: str, inbound_id: int, state: ParkState) -> None:
        self._states[inbound_id] = state
        self._by_conversation.setdefault(conversation, set()).add(inbound_id)
        if state.told:
            self._told.add(conversation)
        self.generation += 1

    def discard(self, conversation: str, inbound_id: int) -> None:
        self._states.pop(inbound_id, None)
        waiting = self._by_conversation.get(conversation)
        if waiting is None:
            return
        waiting.discard(inbound_id)
        if not waiting:
            # The next outage is a new wait: the shopper is told again.
            del self._by_conversation[conversation]
            self._told.discard(conversation)

    def told(self, conversation: str) -> bool:
        return conversation in self._told

    def mark_told(self, conversation: str) -> list[tuple[int, ParkState]]:
        self._told.add(conversation)
        changed = []
        for inbound_id in self.waiting(conversation):
            state = self._states[inbound_id].telling()
            self._states[inbound_id] = state
            changed.append((inbound_id, state))
        return changed
