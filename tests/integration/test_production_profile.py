"""The production profile: relaydesk's store and Rasa's tracker store on PostgreSQL, Rasa's lock
store on Redis and its event broker on RabbitMQ, all real servers on this machine."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from bot.cli import prepare_store
from bot.processes.stack import stack_specs
from bot.processes.supervisor import Supervisor
from bot.settings import Settings
from tests.conftest import free_port

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def reachable(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def services() -> None:
    missing = [
        name
        for name, port in (("PostgreSQL", 5432), ("Redis", 6379), ("RabbitMQ", 5672))
        if not reachable(port)
    ]
    if missing:
        pytest.skip(f"production-profile services not running on 127.0.0.1: {missing}")


@pytest.fixture(scope="module")
def databases(services: None) -> Iterator[tuple[str, str]]:
    suffix = uuid.uuid4().hex[:10]
    names = (f"relaydesk_store_{suffix}", f"relaydesk_tracker_{suffix}")
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as connection:
        for name in names:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield names
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                    ),
                    {"n": name},
                )
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


class RedisCommands:
    """Records every Redis command that mentions our key prefix (Rasa's locks are short-lived,
    so watching the traffic is the only way to see them)."""

    def __init__(self, prefix: str) -> None:
        import redis

        self.prefix = prefix
        self.commands: list[str] = []
        self._client = redis.Redis(host="127.0.0.1", port=6379)
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _watch(self) -> None:
        with self._client.monitor() as monitor:
            for command in monitor.listen():
                if self.prefix in command["command"]:
                    self.commands.append(command["command"])


def consume_events(queue: str, timeout: float = 10) -> list[dict]:
    import aio_pika

    async def consume() -> list[dict]:
        connection = await aio_pika.connect_robust("amqp://guest:guest@127.0.0.1:5672/")
        events: list[dict] = []
        async with connection:
            channel = await connection.channel()
            declared = await channel.declare_queue(queue, durable=True)
            while True:
                message = await declared.get(fail=False, timeout=timeout)
                if message is None:
                    return events
                await message.ack()
                events.append(json.loads(message.body))

    return asyncio.run(consume())


@pytest.fixture(scope="module")
def production_stack(
    databases: tuple[str, str], trained_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, str, RedisCommands]]:
    store_db, tracker_db = databases
    queue = f"relaydesk_events_{uuid.uuid4().hex[:6]}"
    rasa_port = free_port()
    settings = Settings.from_env({}).replace(
        profile="production",
        database_url=f"postgresql://postgres@127.0.0.1:5432/{store_db}",
        rasa_port=rasa_port,
        action_port=free_port(),
        bridge_port=free_port(),
        rasa_token=uuid.uuid4().hex,
        json_api={"secret": uuid.uuid4().hex},
        public_url=f"http://127.0.0.1:{rasa_port}",
    )
    prepare_store(settings)
    production_env = {
        "TRACKER_DB_HOST": "127.0.0.1", "TRACKER_DB_PORT": "5432",
        "TRACKER_DB_NAME": tracker_db, "TRACKER_DB_USER": "postgres",
        "TRACKER_DB_PASSWORD": "",
        "REDIS_HOST": "127.0.0.1", "REDIS_PORT": "6379", "REDIS_DB": "0",
        "RABBITMQ_HOST": "127.0.0.1", "RABBITMQ_PORT": "5672",
        "RABBITMQ_USER": "guest", "RABBITMQ_PASSWORD": "guest", "RABBITMQ_QUEUE": queue,
    }  # fmt: skip
    specs = [
        replace(spec, env={**spec.env, **production_env})
        for spec in stack_specs(settings, settings.to_env())
    ]
    redis_commands = RedisCommands(prefix="relaydesk")
    redis_commands.start()
    workdir = tmp_path_factory.mktemp("production")
    with open(workdir / "out.log", "w") as output:
        supervisor = Supervisor(specs, output=output, log_dir=str(workdir / "logs"))
        supervisor.start()
        try:
            supervisor.wait_until_ready()
            yield settings, queue, redis_commands
        finally:
            supervisor.stop()


def test_order_status_on_postgres_redis_and_rabbitmq(
    production_stack: tuple[Settings, str, RedisCommands], databases: tuple[str, str]
) -> None:
    settings, queue, redis_commands = production_stack
    sender = f"prod-{uuid.uuid4().hex[:8]}"

    def say(message: str) -> str:
        response = requests.post(
            f"{settings.rasa_url}/webhooks/jsonapi/webhook",
            json={"sender": sender, "message": message},
            headers={"Authorization": f"Bearer {settings.json_api.secret}"},
            timeout=30,
        )
        response.raise_for_status()
        return " ".join(m.get("text", "") for m in response.json())

    say("where is my order")
    say("10023")
    assert "1Z999AA10123456784" in say("ava.martin@example.com")

    # Rasa's tracker store wrote the conversation to PostgreSQL.
    tracker = create_engine(f"postgresql://postgres@127.0.0.1:5432/{databases[1]}", future=True)
    with tracker.connect() as connection:
        count = connection.execute(
            text("SELECT count(*) FROM events WHERE sender_id = :s"), {"s": sender}
        ).scalar_one()
    tracker.dispose()
    assert count >= 10

    # Every turn took a Redis lock for this conversation.
    assert any(sender in command for command in redis_commands.commands)

    # And the event broker published the conversation's events to RabbitMQ.
    events = [event for event in consume_events(queue) if event.get("sender_id") == sender]
    assert {"user", "bot", "action"} <= {event["event"] for event in events}
