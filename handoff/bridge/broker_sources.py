"""The bridge's readers of Rasa's event broker, and the worker thread they handle events on.

Rasa publishes every tracker event to its event broker, paused conversations included (the
message is logged, only the bot stays silent). The bridge reads that stream rather than polling
trackers:

- default profile: Rasa's SQL event broker writes to a SQLite file (endpoints.yml); the bridge
  reads new rows when the file changes (inotify, handoff/bridge/file_watch.py; a read every 2 s as
  a safety net) and keeps its position in `handoff_cursors`, so a restart resumes where it
  stopped (rows are relayed at least once; the ticket log's unique keys drop repeats).
- production profile: Rasa's pika broker fans events out to RabbitMQ queues; the bridge consumes
  its own queue and acknowledges a message only once it has been handled.

Reading and handling run on a worker thread, never on the event loop that answers Slack. An
event whose handling raises (not because the store is down) or takes longer than
`EVENT_TIME_LIMIT` is skipped (`SkipLog`, handoff/bridge/events.py) and stepped over, with the
cursor stored past it, so no single event can stall the stream or keep a restarted bridge busy
forever. What a handled event does is `ShopperRelay`'s job (handoff/bridge/events.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import queue
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.future import create_engine
from sqlalchemy.pool import SingletonThreadPool

from bot.domain.backoff import backoff
from handoff.bridge.events import Cursors, ShopperRelay, SkipLog
from handoff.bridge.file_watch import WRITES_AND_CLOSES, FileWatch, sqlite_files

logger = logging.getLogger(__name__)

SQL_BROKER_CURSOR = "rasa_sql_event_broker"
RABBIT_SOURCE = "rabbitmq"
#: Read the broker table at least this often even when inotify reports nothing.
SAFETY_POLL_SECONDS = 2.0
#: After a change that showed no new row, read again after these delays.
SETTLE_SECONDS = (0.005, 0.02, 0.1, 0.3)
#: An event still being handled after this long is skipped (and the stream goes on).
EVENT_TIME_LIMIT = 10.0
#: Failures of one event while the store answers before it is skipped (store outages wait).
MAX_ATTEMPTS = 5
#: Rows already read are deleted now and then so the file does not grow forever.
PRUNE_EVERY_SECONDS = 300.0

T = TypeVar("T")


def _transient(error: BaseException) -> bool:
    """A failure of the store (or the broker file), not of the event: worth retrying."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, OperationalError | InterfaceError | TimeoutError)


class _Worker:
    """One daemon thread running blocking calls in order; results come back as asyncio
    futures. A daemon, so that a call stuck for good cannot keep the process from exiting."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def submit(self, call: Callable[[], T]) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((call, loop, future))
        return future

    async def run(self, call: Callable[[], T]) -> T:
        return await self.submit(call)

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            call, loop, future = job
            try:
                outcome: tuple[bool, Any] = (True, call())
            except BaseException as error:  # handed to the awaiting task
                outcome = (False, error)
            with contextlib.suppress(RuntimeError):  # the loop has closed meanwhile
                loop.call_soon_threadsafe(_settle, future, *outcome)

    def close(self) -> None:
        self._jobs.put(None)


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


async def _wait(event: asyncio.Event, stop: asyncio.Event, timeout: float) -> None:
    """Until `event` or `stop` is set, or `timeout` seconds have passed."""
    waiters = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


class SqlBrokerSource:
    """Tails the `events` table of Rasa's SQL event broker (a SQLite file)."""

    name = SQL_BROKER_CURSOR

    def __init__(
        self,
        path: Path,
        cursors: Cursors,
        relay: ShopperRelay,
        *,
        time_limit: float = EVENT_TIME_LIMIT,
        safety_poll: float = SAFETY_POLL_SECONDS,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        # One connection per thread, kept open: a reader that opened and closed its connection
        # every time would make SQLite create, checkpoint and delete the -wal file each time,
        # which the file watch would report as a change, and so on for ever.
        self._engine = create_engine(
            f"sqlite:///{path}", future=True, poolclass=SingletonThreadPool,
            connect_args={"check_same_thread": False},
        )  # fmt: skip
        self._cursors = cursors
        self._skipped = SkipLog(cursors)
        self._relay = relay
        self._time_limit = time_limit
        self._safety_poll = safety_poll
        self._position: int | None = None
        self._wal_set = False
        self._attempts: dict[int, int] = {}
        #: (row id, monotonic start) of the row being handled, for the time limit.
        self._current: tuple[int, float] | None = None
        #: Bumped when a stuck poll is given up: that poll's thread then changes nothing more.
        self._generation = 0
        self._worker: _Worker | None = None
        self.watch: FileWatch | None = None
        #: Reads of the table so far (diagnostics, tests).
        self.polls = 0

    @property
    def position(self) -> int | None:
        return self._position

    def poll(self, limit: int = 500, generation: int | None = None) -> int:
        """Handle the rows written since the last call; returns how many there were."""
        generation = self._generation if generation is None else generation
        if self._position is None:
            self._position = self._cursors.get(self.name)
        rows = self._read(limit)
        start = self._position
        try:
            for row_id, data in rows:
                if generation != self._generation:
                    break  # given up as stuck: a newer poll owns the stream now
                if row_id <= self._position:
                    continue
                self._current = (int(row_id), time.monotonic())
                try:
                    self._handle(int(row_id), data)
                finally:
                    self._current = None
                if generation != self._generation:
                    break
                self._position = int(row_id)
        finally:
            if generation == self._generation and self._position != start:
                self._cursors.advance(self.name, self._position)
        return len(rows)

    def _read(self, limit: int) -> list[Any]:
        self.polls += 1
        try:
            with self._engine.connect() as connection:
                if not self._wal_set:
                    # Readers then never block Rasa's writes (the mode is stored in the file).
                    connection.exec_driver_sql("PRAGMA journal_mode=WAL")
                    self._wal_set = True
                return list(
                    connection.execute(
                        text("SELECT id, data FROM events WHERE id > :after ORDER BY id LIMIT :n"),
                        {"after": self._position, "n": limit},
                    ).all()
                )
        except OperationalError as error:
            if "no such table" in str(error):
                return []  # Rasa has not started (and created the table) yet
            raise

    def _handle(self, row_id: int, data: Any) -> None:
        """Relay one row; a failure of the event itself is recorded and the row skipped, a
        failure of the store is raised (the row is read again)."""
        try:
            event = json.loads(data)
            if not isinstance(event, dict):
                raise ValueError(f"an event is a JSON object, not {type(event).__name__}")
            self._relay.handle(event)
        except Exception as error:
            if _transient(error):
                if not self._cursors.ping():
                    raise  # the store is down: the row is read again, however long that takes
                attempts = self._attempts[row_id] = self._attempts.get(row_id, 0) + 1
                if attempts < MAX_ATTEMPTS:
                    raise
            self._attempts.pop(row_id, None)
            self._skipped.record(self.name, row_id, f"{type(error).__name__}: {error}"[:300])
        else:
            self._attempts.pop(row_id, None)

    def prune(self) -> None:
        """Delete rows already handled, keeping the newest: SQLite hands out ids after the
        largest remaining one, so keeping it guarantees new ids stay above the cursor."""
        if not self._position:
            return
        try:
            with self._engine.begin() as connection:
                connection.execute(text("DELETE FROM events WHERE id < :p"), {"p": self._position})
        except OperationalError:
            logger.warning("could not prune the event broker table (will retry)", exc_info=True)

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        self._relay.bind(loop)
        changed = asyncio.Event()
        # Our connection stays open, so closes are someone else's: Rasa's, after its commit.
        self.watch = FileWatch(
            self._path.parent, sqlite_files(self._path), changed.set, WRITES_AND_CLOSES
        )
        self.watch.start(loop)
        self._worker = _Worker("event-source")
        last_prune, failures = loop.time(), 0
        settling: list[float] = []
        try:
            while not stop.is_set():
                changed.clear()  # before reading: a write during the read wakes us again
                try:
                    handled = await self._poll_within_limit()
                    failures = 0
                except Exception:  # keep tailing whatever happens to one batch
                    failures += 1
                    logger.exception("reading Rasa's event broker failed; retrying")
                    await _wait(asyncio.Event(), stop, backoff(failures, first=1.0, cap=30.0))
                    continue
                if loop.time() - last_prune > PRUNE_EVERY_SECONDS:
                    await self._worker.run(self.prune)
                    last_prune = loop.time()
                if handled:
                    settling = []
                    continue
                # A write inotify reported may not be visible yet (SQLite publishes a commit in
                # its -shm index after writing the -wal, and inotify does not see -shm): read
                # again a few times shortly after a change that showed nothing.
                await _wait(changed, stop, settling.pop(0) if settling else self._safety_poll)
                if changed.is_set():
                    settling = list(SETTLE_SECONDS)
        finally:
            self.watch.close()
            self._worker.close()

    async def _poll_within_limit(self) -> int:
        """poll() on the worker thread; a row still being handled after the time limit is
        skipped and the stream goes on, on a fresh thread, without waiting for it."""
        assert self._worker is not None
        generation = self._generation
        future = self._worker.submit(lambda: self.poll(generation=generation))
        tick = min(1.0, self._time_limit / 4)
        while True:
            done, _ = await asyncio.wait({future}, timeout=tick)
            if done:
                return future.result()
            current = self._current
            if current is None or time.monotonic() - current[1] <= self._time_limit:
                continue
            row_id = current[0]
            self._generation += 1
            self._position, self._current = row_id, None
            self._worker.close()  # its thread ends once the stuck call returns, if ever
            self._worker = _Worker("event-source")
            reason = f"still being handled after {self._time_limit:g} s"
            await self._worker.run(functools.partial(self._skip_stuck, row_id, reason))
            return 1

    def _skip_stuck(self, row_id: int, reason: str) -> None:
        self._skipped.record(self.name, row_id, reason)
        self._cursors.advance(self.name, row_id)

    def close(self) -> None:
        self._engine.dispose()


class RabbitSource:
    """Consumes the bridge's RabbitMQ queue, fed by Rasa's pika broker (production)."""

    name = RABBIT_SOURCE

    def __init__(
        self,
        url: str,
        queue: str,
        relay: ShopperRelay,
        skipped: SkipLog | None = None,
        *,
        time_limit: float = EVENT_TIME_LIMIT,
    ) -> None:
        self._url = url
        self._queue = queue
        self._relay = relay
        self._skipped = skipped
        self._time_limit = time_limit

    async def run(self, stop: asyncio.Event) -> None:
        import aio_pika

        self._relay.bind(asyncio.get_running_loop())
        worker = _Worker("rabbitmq-source")
        try:
            while not stop.is_set():
                try:
                    connection = await aio_pika.connect_robust(self._url)
                    async with connection:
                        channel = await connection.channel()
                        queue = await channel.declare_queue(self._queue, durable=True)
                        async with queue.iterator() as messages:
                            async for message in messages:
                                worker = await self._handle(worker, message.body)
                                await message.ack()
                                if stop.is_set():
                                    return
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("RabbitMQ consumer failed; reconnecting in 2 s")
                    await asyncio.sleep(2)
        finally:
            worker.close()

    async def _handle(self, worker: _Worker, body: bytes) -> _Worker:
        """Handle one message on the worker thread; returns the worker to use next (a new one
        when this message was given up after the time limit)."""
        ref = f"message crc32={zlib.crc32(body):08x}"

        def handle() -> None:
            event = json.loads(body)
            if not isinstance(event, dict):
                raise ValueError(f"an event is a JSON object, not {type(event).__name__}")
            self._relay.handle(event)

        future = worker.submit(handle)
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout=self._time_limit)
        except TimeoutError:
            worker.close()
            worker = _Worker("rabbitmq-source")
            reason = f"still being handled after {self._time_limit:g} s"
            await self._record(worker, ref, reason)
        except Exception as error:
            if _transient(error):
                raise  # not acknowledged: redelivered after the reconnect
            await self._record(worker, ref, f"{type(error).__name__}: {error}"[:300])
        return worker

    async def _record(self, worker: _Worker, ref: str, reason: str) -> None:
        if self._skipped is None:
            logger.error("skipped broker %s of %s (%s)", ref, self.name, reason)
        else:
            skipped = self._skipped
            await worker.run(lambda: skipped.record(self.name, ref, reason))
