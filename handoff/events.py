"""How the bridge learns what shoppers write while a person has their conversation.

Rasa publishes every tracker event to its event broker, paused conversations included (the
message is logged, only the bot stays silent). The bridge reads that stream rather than polling
trackers:

- default profile: Rasa's SQL event broker writes to a SQLite file (endpoints.yml); the bridge
  reads new rows every 20 ms and keeps its position in `handoff_cursors`, so a restart resumes
  where it stopped (rows are relayed at least once; the ticket log's unique keys drop repeats).
- production profile: Rasa's pika broker fans events out to RabbitMQ queues; the bridge consumes
  its own queue and acknowledges a message only once it has been handled.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.future import create_engine

from bot.domain.handoff_transcript import is_shopper_message, shopper_text
from bot.store.database import Database
from bot.store.handoff_models import HandoffCursor
from handoff.tickets import TicketStore

logger = logging.getLogger(__name__)

SQL_BROKER_CURSOR = "rasa_sql_event_broker"
POLL_SECONDS = 0.02
#: Rows already read are deleted now and then so the file does not grow forever.
PRUNE_EVERY_SECONDS = 300.0


class ShopperRelay:
    """One broker event in: a shopper message logged on its open ticket (and queued for the
    Slack thread), or nothing."""

    def __init__(self, tickets: TicketStore, on_relayed: Callable[[], None]) -> None:
        self._tickets = tickets
        self._on_relayed = on_relayed

    def handle(self, event: Mapping[str, Any]) -> bool:
        sender = event.get("sender_id")
        if not sender or not is_shopper_message(event):
            return False
        message_id = event.get("message_id") or event.get("timestamp")
        relayed = self._tickets.record_shopper_message(
            str(sender),
            shopper_text(event),
            float(event.get("timestamp") or 0.0),
            dedupe_key=f"rasa:{sender}:{message_id}",
        )
        if relayed:
            self._on_relayed()
        return relayed


class Cursors:
    def __init__(self, database: Database) -> None:
        self._database = database

    def get(self, name: str) -> int:
        with self._database.session() as session:
            row = session.get(HandoffCursor, name)
            return row.position if row is not None else 0

    def set(self, name: str, position: int) -> None:
        with self._database.session() as session:
            row = session.get(HandoffCursor, name)
            if row is None:
                session.add(HandoffCursor(name=name, position=position))
            else:
                row.position = position


class SqlBrokerSource:
    """Tails the `events` table of Rasa's SQL event broker (a SQLite file)."""

    def __init__(self, path: Path, cursors: Cursors, relay: ShopperRelay) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._engine = create_engine(
            f"sqlite:///{path}", future=True, connect_args={"check_same_thread": False}
        )
        self._cursors = cursors
        self._relay = relay
        self._position: int | None = None
        self._wal_set = False

    def poll(self, limit: int = 500) -> int:
        """Handle the rows written since the last call; returns how many there were."""
        if self._position is None:
            self._position = self._cursors.get(SQL_BROKER_CURSOR)
        try:
            with self._engine.connect() as connection:
                if not self._wal_set:
                    # Readers then never block Rasa's writes (the mode is stored in the file).
                    connection.exec_driver_sql("PRAGMA journal_mode=WAL")
                    self._wal_set = True
                rows = connection.execute(
                    text("SELECT id, data FROM events WHERE id > :after ORDER BY id LIMIT :n"),
                    {"after": self._position, "n": limit},
                ).all()
        except OperationalError as error:
            if "no such table" in str(error):
                return 0  # Rasa has not started (and created the table) yet
            raise
        for row_id, data in rows:
            try:
                self._relay.handle(json.loads(data))
            except (ValueError, TypeError):
                logger.warning("skipping unreadable broker event %s", row_id)
            self._position = int(row_id)
        if rows:
            self._cursors.set(SQL_BROKER_CURSOR, int(self._position))
        return len(rows)

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
        last_prune = loop.time()
        while not stop.is_set():
            try:
                handled = self.poll()
            except Exception:  # keep tailing whatever happens to one batch
                logger.exception("reading Rasa's event broker failed; retrying")
                handled = 0
            if loop.time() - last_prune > PRUNE_EVERY_SECONDS:
                self.prune()
                last_prune = loop.time()
            if not handled:
                await asyncio.sleep(POLL_SECONDS)

    def close(self) -> None:
        self._engine.dispose()


class RabbitSource:
    """Consumes the bridge's RabbitMQ queue, fed by Rasa's pika broker (production)."""

    def __init__(self, url: str, queue: str, relay: ShopperRelay) -> None:
        self._url = url
        self._queue = queue
        self._relay = relay

    async def run(self, stop: asyncio.Event) -> None:
        import aio_pika

        while not stop.is_set():
            try:
                connection = await aio_pika.connect_robust(self._url)
                async with connection:
                    channel = await connection.channel()
                    queue = await channel.declare_queue(self._queue, durable=True)
                    async with queue.iterator() as messages:
                        async for message in messages:
                            try:
                                self._relay.handle(json.loads(message.body))
                            except (ValueError, TypeError):
                                logger.warning("skipping unreadable broker message")
                            await message.ack()
                            if stop.is_set():
                                return
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("RabbitMQ consumer failed; reconnecting in 2 s")
                await asyncio.sleep(2)
