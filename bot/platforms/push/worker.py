"""The push inbox's worker, run by the Rasa server in a thread of its own (started and stopped
with the server by `bot.platforms.inbox_worker.run_with_server`), so the store writes never run
on the event loop.
"""

from __future__ import annotations

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
