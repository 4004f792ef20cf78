"""Writes webhook deliveries to the store without holding up the acknowledgement providers
wait for: on threads of their own, and a burst of concurrent deliveries in a few transactions
(a group commit) instead of a queue of one each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from bot.store.channel_store import AcceptedDelivery, ChannelStore
from channels.core.messages import InboundMessage

T = TypeVar("T")
# The webhook's store writes get their own threads: in the default executor they would queue
# behind the bookkeeping of every message being processed.
_WEBHOOK_THREADS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="channel-webhooks")


async def on_webhook_thread(function: Callable[..., T], *args: Any) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_WEBHOOK_THREADS, partial(function, *args))


class GroupCommit:
    """Records concurrent webhook deliveries together: whoever arrives while a transaction is
    being written waits for the next one, which takes all of them. On SQLite transactions run
    one at a time, so a burst of deliveries then costs a few transactions instead of a queue of
    one each (measured: a burst of 40 acknowledged in ~0.2 s instead of up to 1.7 s); a lone
    delivery is written at once."""

    def __init__(self, store: ChannelStore) -> None:
        self._store = store
        self._waiting: list[tuple[InboundMessage, asyncio.Future[AcceptedDelivery | None]]] = []
        self._writing = False
        self._writer: asyncio.Future[None] | None = None  # referenced, or the loop may drop it

    async def accept(self, message: InboundMessage) -> AcceptedDelivery | None:
        future: asyncio.Future[AcceptedDelivery | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((message, future))
        if not self._writing:
            self._writing = True
            self._writer = asyncio.ensure_future(self._write())
        return await future

    async def _write(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    results = await on_webhook_thread(
                        self._store.accept_many, [message for message, _ in batch]
                    )
                except Exception as error:  # each webhook answers for itself (503)
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                else:
                    for (_, future), result in zip(batch, results, strict=True):
                        if not future.done():
                            future.set_result(result)
        finally:
            self._writing = False
