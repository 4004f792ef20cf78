"""Where the bridge hears shoppers: Rasa's SQL event broker table (default profile) and a
RabbitMQ queue fed by Rasa's pika broker (production profile, a real server if one runs)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.future import create_engine

from bot.domain.handoff_ticket import MessageDirection
from bot.store.database import Database
from handoff.events import Cursors, RabbitSource, ShopperRelay, SqlBrokerSource
from handoff.tickets import TicketStore
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
