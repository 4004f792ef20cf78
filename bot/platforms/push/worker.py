"""The push inbox's worker, run by the Rasa server: started when the server has started, stopped
before it stops (Sanic listeners on the push channel's blueprint), in a thread of its own so
the store writes never run on the event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sanic import Blueprint

from bot.platforms.inbox_worker import InboxWorker
from bot.platforms.push.handler import PLATFORM, PushHandler
from bot.store.database import Database
from bot.store.platform_inbox import PlatformInbox
from bot.store.platform_sync import PlatformSync

#: Seconds between looks at an empty inbox: a push is visible within about this long.
POLL_INTERVAL = 0.5


def push_worker(database: Database, *, poll_interval: float = POLL_INTERVAL) -> InboxWorker:
    """The worker applying stored pushes to the store in `database`."""
    return InboxWorker(
        PlatformInbox(database),
        PLATFORM,
        PushHandler(PlatformSync(database)),
        poll_interval=poll_interval,
    )


def run_with_server(blueprint: Blueprint, worker: InboxWorker) -> None:
    """Starts `worker` once the server serving `blueprint` has started; stops it before the
    server stops (what it was processing is finished or, if that takes too long, handed out
    again after its lease: nothing is lost either way)."""

    @blueprint.listener("after_server_start")
    async def start_push_worker(_app: Any, _loop: Any) -> None:
        worker.start()

    @blueprint.listener("before_server_stop")
    async def stop_push_worker(_app: Any, _loop: Any) -> None:
        # stop() joins the thread: not on the event loop.
        await asyncio.get_running_loop().run_in_executor(None, worker.stop)
