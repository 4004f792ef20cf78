"""The push inbox's worker, run by the Rasa server in a thread of its own (started and stopped
with the server by `bot.platforms.inbox_worker.run_with_server`), so the store writes never run
on the event loop.
"""

from __future__ import annotations

from bot.platforms.inbox_worker import InboxWorker, prune_job
from bot.platforms.push.handler import PLATFORM, PushHandler
from bot.store.database import Database
from bot.store.platform_inbox import PlatformInbox
from bot.store.platform_sync import PlatformSync

#: Seconds between looks at an empty inbox: a push is visible within about this long.
POLL_INTERVAL = 0.5


def push_worker(
    database: Database, *, poll_interval: float = POLL_INTERVAL, retention_days: int = 30
) -> InboxWorker:
    """The worker applying stored pushes to the store in `database`, pruning processed ones
    older than `retention_days` (0: never)."""
    inbox = PlatformInbox(database)
    return InboxWorker(
        inbox,
        PLATFORM,
        PushHandler(PlatformSync(database)),
        jobs=[prune_job(inbox, PLATFORM, retention_days)],
        poll_interval=poll_interval,
    )
