"""Keeps one shopper's messages in arrival order: the webhook processes each delivery in a
task of its own, and without a lock per conversation a later message could reach Rasa first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class ConversationLocks:
    """Per-conversation FIFO locks: messages of one shopper reach Rasa in arrival order even
    though each is processed in its own task (asyncio.Lock wakes waiters in order)."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]
