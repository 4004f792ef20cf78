"""How the bridge learns what shoppers write while a person has their conversation: one
broker event in, a shopper message logged on its open ticket; the broker readers' positions
(`handoff_cursors`) and the events they gave up on.

The readers themselves (Rasa's SQL event broker, RabbitMQ) are handoff/bridge/broker_sources.py.
An event whose handling raises (not because the store is down) or takes too long is skipped:
logged, counted in `handoff_cursors` (`<source>:skipped`, shown as `skipped_events` on the
bridge's /health) and stepped over.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import func, select, text, update

from bot.store.database import Database, rows_changed
from handoff.rasa_events import is_shopper_message, shopper_text
from handoff.store.models import HandoffCursor
from handoff.store.tickets import TicketStore

logger = logging.getLogger(__name__)

SKIPPED_SUFFIX = ":skipped"
LAST_SKIPPED_SUFFIX = ":last_skipped"
#: Characters of one shopper message relayed to the ticket and its thread (Slack's section
#: limit is 3,000); the tracker keeps the whole message.
RELAY_TEXT_LIMIT = 3000


class ShopperRelay:
    """One broker event in: a shopper message logged on its open ticket (and queued for the
    Slack thread), or nothing. Only messages a case takes are masked at all."""

    def __init__(self, tickets: TicketStore, on_relayed: Callable[[], None]) -> None:
        self._tickets = tickets
        self._on_relayed = on_relayed
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """`on_relayed` runs on `loop` (it wakes asyncio tasks) when handle() runs elsewhere."""
        self._loop = loop

    def handle(self, event: Mapping[str, Any]) -> bool:
        sender = event.get("sender_id")
        if not sender or not is_shopper_message(event):
            return False
        timestamp = float(event.get("timestamp") or 0.0)
        ticket = self._tickets.for_conversation(str(sender))
        # As TicketStore.record_shopper_message decides (it checks again, atomically): an
        # active case, or a closed one whose bot has not resumed yet; nothing already in the
        # transcript.
        if ticket is None or timestamp <= ticket.transcript_until:
            return False
        if not (ticket.status.is_active or ticket.resumed_at is None):
            return False
        message_id = event.get("message_id") or event.get("timestamp")
        relayed = self._tickets.record_shopper_message(
            str(sender),
            shopper_text(event, limit=RELAY_TEXT_LIMIT),
            timestamp,
            dedupe_key=f"rasa:{sender}:{message_id}",
        )
        if relayed:
            self._notify()
        return relayed

    def _notify(self) -> None:
        loop = self._loop
        try:
            on_loop = loop is None or asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            self._on_relayed()
        elif loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._on_relayed)


class Cursors:
    """Named integers in `handoff_cursors`: read positions, and counts of skipped events."""

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

    def advance(self, name: str, position: int) -> None:
        """Set, but never backwards (a late writer cannot undo a later position)."""
        with self._database.session() as session:
            moved = rows_changed(
                session.execute(
                    update(HandoffCursor)
                    .where(HandoffCursor.name == name, HandoffCursor.position < position)
                    .values(position=position)
                )
            )
            if not moved and session.get(HandoffCursor, name) is None:
                session.add(HandoffCursor(name=name, position=position))

    def increment(self, name: str) -> int:
        with self._database.session() as session:
            row = session.get(HandoffCursor, name)
            if row is None:
                row = HandoffCursor(name=name, position=0)
                session.add(row)
            row.position += 1
            return row.position

    def total(self, suffix: str) -> int:
        with self._database.session() as session:
            return int(
                session.execute(
                    select(func.coalesce(func.sum(HandoffCursor.position), 0)).where(
                        HandoffCursor.name.like(f"%{suffix}")
                    )
                ).scalar_one()
            )

    def ping(self) -> bool:
        try:
            with self._database.session() as session:
                session.execute(text("SELECT 1"))
        except Exception:  # any failure: the store is not answering
            return False
        return True


class SkipLog:
    """Events given up on: one log line each and a count per source in `handoff_cursors`."""

    def __init__(self, cursors: Cursors) -> None:
        self._cursors = cursors

    def record(self, source: str, ref: int | str, reason: str) -> None:
        count = self._cursors.increment(source + SKIPPED_SUFFIX)
        if isinstance(ref, int):
            self._cursors.set(source + LAST_SKIPPED_SUFFIX, ref)
        logger.error("skipped broker event %s of %s (%s); %s skipped so far", ref, source,
                     reason, count)  # fmt: skip

    def total(self) -> int:
        return self._cursors.total(SKIPPED_SUFFIX)


def skipped_events(database: Database) -> int:
    """Events the bridge skipped, all sources, ever (for /health)."""
    return SkipLog(Cursors(database)).total()
