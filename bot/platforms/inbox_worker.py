"""Works a store platform's webhook inbox: claims each stored webhook, hands it to the
platform's handler, and records the outcome, so what was acknowledged is processed at least
once even across crashes (a claim whose worker died is taken back after its lease).

A handler raises `RetryLater` for what time can fix (the platform's API is down, the order a
fulfilment names is not synced yet) and `Unprocessable` for what it cannot (a body the mappers
refuse): the first goes back to the inbox with a growing delay, the second is marked failed with
its reason for an operator. Any other exception counts as retryable: a bug must not lose data.

`InboxWorker.run_pending()` is one pass (tests call it); `start()` runs passes in a daemon
thread, plus the platform's periodic jobs (the reconciliation), until `stop()`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.domain.backoff import backoff
from bot.store.platform_inbox import ClaimedWebhook, PlatformInbox

logger = logging.getLogger(__name__)

#: The longest a failing webhook waits between attempts.
MAX_RETRY_DELAY = timedelta(minutes=30)
#: Attempts before a webhook that keeps failing is given up on (about a day at the cap).
MAX_ATTEMPTS = 60


class RetryLater(Exception):
    """Processing cannot succeed now but may later; the webhook stays in the inbox."""


class Unprocessable(Exception):
    """Processing can never succeed (the body is not what the platform documents)."""


Handler = Callable[[ClaimedWebhook], None]


@dataclass
class PeriodicJob:
    """A job run every `interval` seconds by the worker's thread (the first run one interval
    after start); failures are logged and tried again next time."""

    name: str
    interval: float
    run: Callable[[], object]
    _due: float = 0.0


class InboxWorker:
    def __init__(
        self,
        inbox: PlatformInbox,
        platform: str,
        handler: Handler,
        *,
        jobs: Sequence[PeriodicJob] = (),
        poll_interval: float = 0.2,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inbox = inbox
        self._platform = platform
        self._handler = handler
        self._jobs = list(jobs)
        self._poll_interval = poll_interval
        self._monotonic = monotonic
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def run_pending(self, limit: int | None = None) -> int:
        """Processes claimable webhooks until none is left (or `limit`); returns how many."""
        done = 0
        while limit is None or done < limit:
            claim = self._inbox.claim_next(self._platform)
            if claim is None:
                break
            self._process(claim)
            done += 1
        return done

    def run_due_jobs(self) -> None:
        now = self._monotonic()
        for job in self._jobs:
            if job.interval <= 0 or now < job._due:
                continue
            job._due = now + job.interval
            try:
                job.run()
            except Exception:
                logger.exception("%s: periodic job %s failed; next try in %.0f s",
                                 self._platform, job.name, job.interval)  # fmt: skip

    def start(self) -> None:
        if self._thread is not None:
            return
        now = self._monotonic()
        for job in self._jobs:
            job._due = now + job.interval
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._loop, name=f"{self._platform}-inbox", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                worked = self.run_pending(limit=100)
                self.run_due_jobs()
            except Exception:  # the database is down: keep the thread, try again shortly
                logger.exception("%s: inbox pass failed", self._platform)
                worked = 0
            if not worked:
                self._stopping.wait(self._poll_interval)

    def _process(self, claim: ClaimedWebhook) -> None:
        try:
            self._handler(claim)
        except Unprocessable as error:
            logger.error("%s: webhook %s (%s) cannot be processed: %s",
                         self._platform, claim.webhook_id, claim.topic, error)  # fmt: skip
            self._inbox.mark_failed(claim, f"unprocessable: {error}")
            return
        except Exception as error:
            retryable = isinstance(error, RetryLater)
            if not retryable:
                logger.exception("%s: webhook %s (%s) failed", self._platform,
                                 claim.webhook_id, claim.topic)  # fmt: skip
            if claim.attempts >= MAX_ATTEMPTS:
                self._inbox.mark_failed(claim, f"gave up after {claim.attempts} attempts: {error}")
                return
            delay = backoff(
                claim.attempts, first=1.0, cap=MAX_RETRY_DELAY.total_seconds(), jitter=0.2
            )
            logger.warning("%s: webhook %s (%s) will be retried in %.0f s: %s",
                           self._platform, claim.webhook_id, claim.topic, delay, error)  # fmt: skip
            self._inbox.mark_failed(claim, str(error) or type(error).__name__,
                                    retry_after=timedelta(seconds=delay))  # fmt: skip
            return
        self._inbox.mark_done(claim)


#: How often a worker deletes processed webhooks past their retention.
PRUNE_INTERVAL = 3600.0


def prune_job(inbox: PlatformInbox, platform: str, retention_days: int) -> PeriodicJob:
    """The hourly deletion of `platform`'s processed webhooks older than `retention_days`
    (0: never)."""
    interval = PRUNE_INTERVAL if retention_days > 0 else 0.0
    older_than = timedelta(days=retention_days)
    return PeriodicJob("prune", interval, lambda: inbox.prune(platform, older_than=older_than))


def run_with_server(blueprint: Any, build: Callable[[], InboxWorker | None]) -> None:
    """Runs the worker `build()` makes (None: nothing to run) while the Sanic server that serves
    `blueprint` runs: started after the server starts, stopped before it stops. Built then, not
    at import or route registration, so a CLI that only lists routes starts no thread."""
    running: list[InboxWorker] = []

    @blueprint.listener("after_server_start")
    async def _start(_app: Any, _loop: Any) -> None:
        worker = build()
        if worker is not None:
            worker.start()
            running.append(worker)

    @blueprint.listener("before_server_stop")
    async def _stop(_app: Any, _loop: Any) -> None:
        # stop() joins the thread (what it was doing is finished, or handed out again after
        # its lease): not on the event loop.
        while running:
            await asyncio.get_running_loop().run_in_executor(None, running.pop().stop)
