"""Where the bridge hears shoppers: Rasa's SQL event broker table (default profile) and a
RabbitMQ queue fed by Rasa's pika broker (production profile, a real server if one runs)."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import struct
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.future import create_engine

from bot.store.database import Database
from handoff.bridge import file_watch
from handoff.bridge.broker_sources import RabbitSource, SqlBrokerSource
from handoff.bridge.events import Cursors, ShopperRelay
from handoff.domain.ticket import MessageDirection
from handoff.store.tickets import TicketStore
from tests.handoff.conftest import open_ticket

RABBIT = "amqp://guest:guest@127.0.0.1:5672/"


def user_event(sender: str, text_: str, ts: float, **extra: Any) -> dict[str, Any]:
    parse_data = {"intent": {"name": "x"}}
    return {"sender_id": sender, "event": "user", "text": text_, "timestamp": ts,
            "message_id": uuid.uuid4().hex, "parse_data": parse_data, **extra}  # fmt: skip


def shopper_lines(tickets: TicketStore, ticket_id: int) -> list[str]:
    return [m.text for m in tickets.messages(ticket_id) if m.direction is MessageDirection.SHOPPER]


def broker_table(path: Path) -> Any:
    """Rasa's SQLEventBroker schema: events(id INTEGER PRIMARY KEY, sender_id, data)."""
    engine = create_engine(f"sqlite:///{path}", future=True)
    with engine.begin() as connection:
        connection.execute(
            text("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255), data TEXT)")
        )
    return engine


def publish(engine: Any, event: dict[str, Any]) -> None:
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO events (sender_id, data) VALUES (:s, :d)"),
            {"s": event.get("sender_id"), "d": json.dumps(event)},
        )


def test_sql_broker_source_relays_resumes_and_prunes(database: Database, tmp_path: Path) -> None:
    tickets = TicketStore(database, slack_enabled=False)
    ticket = open_ticket(tickets, "shopper-1")
    engine = broker_table(tmp_path / "events.db")
    relay = ShopperRelay(tickets, on_relayed=lambda: None)

    source = SqlBrokerSource(tmp_path / "events.db", Cursors(database), relay)
    assert source.poll() == 0
    first = user_event("shopper-1", "hello?", 5.0)
    publish(engine, first)
    publish(engine, {"sender_id": "shopper-1", "event": "bot", "text": "hi", "timestamp": 6.0})
    publish(engine, user_event("someone-else", "not handed off", 7.0))
    assert source.poll() == 3
    source.close()

    # A new bridge process continues after the stored cursor; a replayed row is not relayed
    # twice (the log's unique key), and rows already read are pruned but the newest is kept.
    publish(engine, user_event("shopper-1", "anyone?", 8.0))
    publish(engine, first)
    restarted = SqlBrokerSource(tmp_path / "events.db", Cursors(database), relay)
    assert restarted.poll() == 2
    restarted.prune()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM events")).scalar_one() == 1
    restarted.close()
    engine.dispose()
    assert shopper_lines(tickets, ticket.id) == ["the jacket arrived torn", "hello?", "anyone?"]


def rabbit_running() -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", 5672)) == 0


@pytest.mark.skipif(not rabbit_running(), reason="no RabbitMQ at 127.0.0.1:5672")
def test_rabbitmq_source_relays_each_message_once(database: Database) -> None:
    import aio_pika

    tickets = TicketStore(database, slack_enabled=False)
    ticket = open_ticket(tickets, "shopper-1")
    queue = f"relaydesk_handoff_test_{uuid.uuid4().hex[:8]}"
    relay = ShopperRelay(tickets, on_relayed=lambda: None)
    event = user_event("shopper-1", "via rabbit", 5.0)

    async def scenario() -> None:
        stop = asyncio.Event()
        consumer = asyncio.create_task(RabbitSource(RABBIT, queue, relay).run(stop))
        connection = await aio_pika.connect_robust(RABBIT)
        async with connection:
            channel = await connection.channel()
            declared = await channel.declare_queue(queue, durable=True)
            for _ in range(2):  # a redelivery
                body = aio_pika.Message(json.dumps(event).encode())
                await channel.default_exchange.publish(body, routing_key=queue)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and len(shopper_lines(tickets, ticket.id)) < 2:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)
            stop.set()
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)
            await declared.delete(if_unused=False, if_empty=False)

    asyncio.run(scenario())
    assert shopper_lines(tickets, ticket.id) == ["the jacket arrived torn", "via rabbit"]


# -- waiting on the file instead of polling it (handoff/bridge/file_watch.py) ----------------
def test_inotify_events_are_parsed() -> None:
    def record(mask: int, name: bytes, padded: int) -> bytes:
        return struct.pack("iIII", 1, mask, 0, padded) + name.ljust(padded, b"\0")

    data = record(file_watch.IN_MODIFY, b"events.db-wal", 16) + record(0x100, b"", 0)
    assert list(file_watch.parse_events(data)) == [(file_watch.IN_MODIFY, "events.db-wal"),
                                                   (0x100, "")]  # fmt: skip
    assert file_watch.sqlite_files(Path("/x/events.db")) == {
        "events.db", "events.db-wal", "events.db-journal"
    }  # fmt: skip


def test_the_watch_reports_writes_to_the_database_and_not_reads(tmp_path: Path) -> None:
    engine = broker_table(tmp_path / "events.db")
    with engine.begin() as connection:
        connection.exec_driver_sql("PRAGMA journal_mode=WAL")

    async def scenario() -> tuple[int, int, int]:
        changed = asyncio.Event()
        watch = file_watch.FileWatch(tmp_path, file_watch.sqlite_files(tmp_path / "events.db"),
                                     changed.set)  # fmt: skip
        if not watch.start():
            pytest.skip("no inotify on this system")
        (tmp_path / "unrelated.txt").write_text("not ours")
        for _ in range(3):  # readers opening and closing the database
            await asyncio.to_thread(lambda: engine.connect().execute(text("SELECT 1")).all())
        await asyncio.sleep(0.2)
        after_reads = watch.changes
        await asyncio.to_thread(publish, engine, user_event("s", "hi", 1.0))
        await asyncio.wait_for(changed.wait(), timeout=5)
        after_write = watch.changes
        watch.close()
        return after_reads, after_write, int(watch.active)

    after_reads, after_write, active = asyncio.run(scenario())
    assert after_reads == 0 and after_write >= 1 and not active
    engine.dispose()


def test_an_idle_source_reads_only_on_its_safety_timer_and_a_write_wakes_it_at_once(
    database: Database, tmp_path: Path
) -> None:
    tickets = TicketStore(database, slack_enabled=False)
    ticket = open_ticket(tickets, "shopper-1")
    engine = broker_table(tmp_path / "events.db")
    relay = ShopperRelay(tickets, on_relayed=lambda: None)
    source = SqlBrokerSource(tmp_path / "events.db", Cursors(database), relay, safety_poll=1.0)

    async def scenario() -> tuple[int, float]:
        stop = asyncio.Event()
        task = asyncio.create_task(source.run(stop))
        await asyncio.sleep(0.5)
        assert source.watch is not None
        if not source.watch.active:
            stop.set()
            await task
            pytest.skip("no inotify on this system: the source reads on its timer only")
        before = source.polls
        await asyncio.sleep(3.0)
        idle_reads = source.polls - before  # the old source read 150 times in 3 s
        latencies = []
        for n in range(5):
            await asyncio.to_thread(publish, engine, user_event("shopper-1", f"m{n}", 5.0 + n))
            sent = time.monotonic()
            while f"m{n}" not in shopper_lines(tickets, ticket.id):
                await asyncio.sleep(0.005)
            latencies.append(time.monotonic() - sent)
        stop.set()
        await task
        return idle_reads, max(latencies)

    idle_reads, slowest = asyncio.run(scenario())
    source.close()
    engine.dispose()
    assert idle_reads <= 4
    assert slowest < 0.5  # woken by the write, not by the 1-second timer


def test_a_throttled_call_runs_at_once_then_at_most_every_interval_and_settles() -> None:
    async def scenario() -> tuple[list[float], float]:
        loop = asyncio.get_running_loop()
        calls: list[float] = []
        throttled = file_watch.ThrottledCall(lambda: calls.append(loop.time()), 0.2)
        start = loop.time()
        while loop.time() - start < 0.5:  # a burst of changes
            throttled()
            await asyncio.sleep(0.01)
        burst = loop.time() - start
        await asyncio.sleep(0.6)
        throttled.cancel()
        return [at - start for at in calls], burst

    calls, burst = asyncio.run(scenario())
    assert calls[0] < 0.05  # at once
    assert all(b - a >= 0.19 for a, b in itertools.pairwise(calls))
    assert calls[-1] >= burst  # and once more after the last change
    assert len(calls) <= burst / 0.2 + 3
