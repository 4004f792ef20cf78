"""No single broker event can stall the bridge: not a huge one, not one whose handling raises,
not one that takes for ever, and not across a restart.

The last tests run the real `relaydesk bridge` process (as `relaydesk run` starts it) on a
broker table that already holds 100 000- and 1 000 000-letter shopper messages, with and
without an open ticket, and check that it is healthy within its ready timeout and keeps
acknowledging Slack well inside Slack's 3 seconds meanwhile. (Before the fix: the 100 000-letter
message delayed acknowledgements to 9.4 s; the 1 MB one kept the bridge from starting at all.)
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy.exc import OperationalError

from bot.settings import Settings
from bot.store.database import Database
from handoff import rasa_events
from handoff.bridge.broker_sources import SQL_BROKER_CURSOR, SqlBrokerSource
from handoff.bridge.events import RELAY_TEXT_LIMIT, Cursors, ShopperRelay, skipped_events
from handoff.domain.masking import mask_secrets
from handoff.store.tickets import TicketStore
from tests.conftest import REPO_ROOT, free_port
from tests.handoff.conftest import AGENTS, open_ticket
from tests.handoff.fake_slack import FakeSlack
from tests.handoff.slack_requests import message_event, post_event, vector
from tests.handoff.test_event_sources import broker_table, publish, shopper_lines, user_event

#: bot/processes/stack.py gives the bridge this long to answer its health check.
READY_TIMEOUT = 60.0


class ExplodingRelay(ShopperRelay):
    """Raises for events whose text is "boom", sleeps for "slow", relays the rest."""

    def __init__(self, tickets: TicketStore, sleep: float = 0.0) -> None:
        super().__init__(tickets, on_relayed=lambda: None)
        self.sleep = sleep

    def handle(self, event: Any) -> bool:
        if event.get("text") == "boom":
            raise KeyError("something this event lacks")
        if event.get("text") == "slow":
            time.sleep(self.sleep)
        return super().handle(event)


def test_an_event_that_raises_is_skipped_counted_and_never_read_again(
    database: Database, tmp_path: Path
) -> None:
    tickets = TicketStore(database, slack_enabled=False)
    ticket = open_ticket(tickets, "shopper-1")
    engine = broker_table(tmp_path / "events.db")
    publish(engine, user_event("shopper-1", "before", 5.0))
    publish(engine, user_event("shopper-1", "boom", 6.0))
    # Not what Rasa writes, but what a broken producer could: each is skipped on its own.
    publish(engine, {"sender_id": "shopper-1", "event": "user", "metadata": ["not", "a", "map"]})
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO events (sender_id, data) VALUES ('x', '[1, 2]')")
        connection.exec_driver_sql("INSERT INTO events (sender_id, data) VALUES ('x', '{nope')")
    publish(engine, user_event("shopper-1", "after", 7.0))

    source = SqlBrokerSource(tmp_path / "events.db", Cursors(database), ExplodingRelay(tickets))
    assert source.poll() == 6
    source.close()
    assert shopper_lines(tickets, ticket.id)[1:] == ["before", "after"]
    assert skipped_events(database) == 4
    assert Cursors(database).get(SQL_BROKER_CURSOR) == 6
    assert Cursors(database).get(SQL_BROKER_CURSOR + ":last_skipped") == 5

    restarted = SqlBrokerSource(tmp_path / "events.db", Cursors(database), ExplodingRelay(tickets))
    assert restarted.poll() == 0  # nothing is read again
    restarted.close()
    engine.dispose()
    assert skipped_events(database) == 4


def test_an_event_that_takes_too_long_is_skipped_and_the_stream_goes_on(
    database: Database, tmp_path: Path
) -> None:
    tickets = TicketStore(database, slack_enabled=False)
    ticket = open_ticket(tickets, "shopper-1")
    engine = broker_table(tmp_path / "events.db")
    publish(engine, user_event("shopper-1", "slow", 5.0))
    publish(engine, user_event("shopper-1", "next", 6.0))
    relay = ExplodingRelay(tickets, sleep=6.0)
    source = SqlBrokerSource(tmp_path / "events.db", Cursors(database), relay, time_limit=0.5)

    async def scenario() -> float:
        stop = asyncio.Event()
        task = asyncio.create_task(source.run(stop))
        started = time.monotonic()
        while "next" not in shopper_lines(tickets, ticket.id):
            assert time.monotonic() - started < 5, "the stream waited for the stuck event"
            await asyncio.sleep(0.05)
        took = time.monotonic() - started
        stop.set()
        await task
        return took

    took = asyncio.run(scenario())
    source.close()
    assert took < 3.0
    assert skipped_events(database) == 1
    # A bridge restarted now (the stuck one killed) starts after the slow event.
    assert Cursors(database).get(SQL_BROKER_CURSOR) == 2
    engine.dispose()


class DownStore(Cursors):
    """Cursors whose store stops answering `ping` while `down` is set."""

    down = True

    def ping(self) -> bool:
        return not self.down


def test_a_store_outage_is_waited_out_not_taken_for_a_poisoned_event(
    database: Database, tmp_path: Path
) -> None:
    tickets = TicketStore(database, slack_enabled=False)
    ticket = open_ticket(tickets, "shopper-1")
    engine = broker_table(tmp_path / "events.db")
    publish(engine, user_event("shopper-1", "during the outage", 5.0))
    failures = {"left": 8}

    class FlakyRelay(ShopperRelay):
        def handle(self, event: Any) -> bool:
            if failures["left"]:
                failures["left"] -= 1
                raise OperationalError("SELECT", {}, Exception("database is locked"))
            return super().handle(event)

    cursors = DownStore(database)
    source = SqlBrokerSource(tmp_path / "events.db", cursors, FlakyRelay(tickets, lambda: None))
    for _ in range(8):  # more than MAX_ATTEMPTS, but the store is down: never skipped
        with pytest.raises(OperationalError):
            source.poll()
    cursors.down = False
    assert source.poll() == 1
    source.close()
    engine.dispose()
    assert shopper_lines(tickets, ticket.id)[1:] == ["during the outage"]
    assert skipped_events(database) == 0


def test_only_messages_a_ticket_takes_are_masked(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    masked: list[str] = []
    real = rasa_events.mask_secrets
    monkeypatch.setattr(rasa_events, "mask_secrets", lambda t: masked.append(t) or real(t))
    tickets = TicketStore(database, slack_enabled=False)
    ticket = open_ticket(tickets, "shopper-1")
    relay = ShopperRelay(tickets, on_relayed=lambda: None)

    assert not relay.handle(user_event("nobody", "x" * 100_000, 5.0))
    assert not relay.handle(user_event("shopper-1", "already in the transcript", 0.5))
    assert masked == []
    assert relay.handle(user_event("shopper-1", "card 4242 4242 4242 4242", 5.0))
    assert masked == ["card 4242 4242 4242 4242"]
    assert shopper_lines(tickets, ticket.id)[-1] == "card [card ending 4242]"


def test_a_huge_message_is_masked_whole_and_relayed_cut(database: Database) -> None:
    tickets = TicketStore(database, slack_enabled=False)
    ticket = open_ticket(tickets, "shopper-1")
    relay = ShopperRelay(tickets, on_relayed=lambda: None)
    text = "a" * (RELAY_TEXT_LIMIT - 10) + " 4242 4242 4242 4242 " + "b" * 1_000_000
    started = time.monotonic()
    assert relay.handle(user_event("shopper-1", text, 5.0))
    assert time.monotonic() - started < 5
    line = shopper_lines(tickets, ticket.id)[-1]
    assert line.endswith(f"… [cut: {len(mask_secrets(text)):,} characters in all]")
    assert "4242 4242" not in line and "[card end" in line


def test_relayed_from_a_worker_thread_wakes_the_loop_safely(database: Database) -> None:
    tickets = TicketStore(database, slack_enabled=False)
    open_ticket(tickets, "shopper-1")

    async def scenario() -> bool:
        woken = asyncio.Event()
        relay = ShopperRelay(tickets, on_relayed=woken.set)
        relay.bind(asyncio.get_running_loop())
        await asyncio.to_thread(relay.handle, user_event("shopper-1", "hi", 5.0))
        await asyncio.wait_for(woken.wait(), timeout=2)
        return woken.is_set()

    assert asyncio.run(scenario())


# -- the real bridge process with huge messages in the broker ------------------------------
@dataclass
class Started:
    healthy_after: float | None
    ack_latencies: list[float]
    statuses: list[int]
    health: dict[str, Any]


def bridge_environment(settings: Settings, repo: Path) -> dict[str, str]:
    return {
        **os.environ,
        **settings.handoff.to_env(),
        "DATABASE_URL": settings.database_url,
        "BRIDGE_PORT": str(settings.bridge_port),
        "RASA_PORT": str(settings.rasa_port),
        "RASA_TOKEN": settings.rasa_token,
        "PYTHONPATH": str(repo),
    }


def start_bridge_and_measure(
    settings: Settings, repo: Path, log: Path, *, watch_seconds: float = 4.0
) -> Started:
    """Starts `relaydesk bridge` from `repo` and, from that moment, sends a signed Slack event
    every 100 ms (as soon as the port takes connections), recording how long each took to be
    acknowledged, until `watch_seconds` after the bridge answered its health check (or
    READY_TIMEOUT passed without it)."""
    url = f"http://127.0.0.1:{settings.bridge_port}"
    secret = settings.handoff.slack_signing_secret
    latencies: list[float] = []
    statuses: list[int] = []
    done = threading.Event()

    def slack() -> None:
        while not done.is_set():
            body = message_event("C111", "1.000001", "W111", "an agent's reply")
            sent = time.monotonic()
            try:
                status = post_event(f"{url}/slack/events", secret, body).status_code
            except requests.ConnectionError:
                time.sleep(0.05)  # not listening yet
                continue
            except requests.RequestException:
                status = 0  # no answer within 10 s
            latencies.append(time.monotonic() - sent)
            statuses.append(status)
            time.sleep(0.1)

    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "bridge"], cwd=repo,
        env=bridge_environment(settings, repo), stdout=log.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    sender = threading.Thread(target=slack, daemon=True)
    sender.start()
    health: dict[str, Any] = {}
    try:
        started, healthy_after = time.monotonic(), None
        while time.monotonic() - started < READY_TIMEOUT and process.poll() is None:
            try:
                if requests.get(f"{url}/health", timeout=1).ok:
                    healthy_after = time.monotonic() - started
                    break
            except requests.RequestException:
                pass
            time.sleep(0.1)
        if healthy_after is not None:
            time.sleep(watch_seconds)
            health = requests.get(f"{url}/health", timeout=10).json()
        return Started(healthy_after, list(latencies), list(statuses), health)
    finally:
        done.set()
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        sender.join(15)


def prepare(workdir: Path, fake: FakeSlack, *, ticket: bool, sizes: tuple[int, ...]) -> Settings:
    """A store (with an open ticket for shopper-1 when `ticket`) and a broker table holding one
    single-word shopper message of each of `sizes` letters, as Rasa would have written them."""
    settings = Settings.from_env({}).replace(
        database_url=f"sqlite:///{workdir / 'store.db'}",
        rasa_port=free_port(),
        rasa_token="test-token",
        bridge_port=free_port(),
    )
    settings = fake.configure(settings, workdir, agents=frozenset(AGENTS))
    database = Database(settings.database_url)
    database.migrate()
    if ticket:
        open_ticket(TicketStore(database, slack_enabled=True), "shopper-1")
    database.dispose()
    engine = broker_table(settings.handoff.events_db_path)
    for number, size in enumerate(sizes):
        publish(engine, user_event("shopper-1", "a" * size, 10.0 + number))
    engine.dispose()
    return settings


@pytest.fixture
def slack_fake() -> Iterator[FakeSlack]:
    with FakeSlack(users=dict(AGENTS)) as fake:
        yield fake


@pytest.mark.parametrize("ticket", [True, False], ids=["open ticket", "no ticket"])
def test_the_bridge_starts_and_acknowledges_slack_with_huge_messages_in_the_broker(
    tmp_path: Path, slack_fake: FakeSlack, ticket: bool
) -> None:
    assert vector()["signing_secret"]
    settings = prepare(tmp_path, slack_fake, ticket=ticket, sizes=(100_000, 1_000_000))
    started = start_bridge_and_measure(settings, REPO_ROOT, tmp_path / "bridge.log")

    log = (tmp_path / "bridge.log").read_text()[-3000:]
    assert started.healthy_after is not None, f"not healthy in {READY_TIMEOUT} s:\n{log}"
    assert started.healthy_after < 30, log
    assert started.statuses and set(started.statuses) == {200}, started.statuses
    assert max(started.ack_latencies) < 1.0, started.ack_latencies
    assert started.health.get("skipped_events") == 0, started.health

    database = Database(settings.database_url)
    try:
        assert Cursors(database).get(SQL_BROKER_CURSOR) == 2  # both read, none left to re-read
        if ticket:
            lines = shopper_lines(TicketStore(database, slack_enabled=True), 1)
            assert len(lines) == 3
            assert lines[1].endswith("a… [cut: 100,000 characters in all]")
            assert lines[2].endswith("a… [cut: 1,000,000 characters in all]")
    finally:
        database.dispose()


def test_rabbitmq_messages_that_raise_or_hang_are_skipped_and_acknowledged(
    database: Database,
) -> None:
    """RabbitSource's handling of one message (the consumer acks whatever this returns)."""
    from handoff.bridge.broker_sources import RabbitSource, _Worker
    from handoff.bridge.events import SkipLog

    tickets = TicketStore(database, slack_enabled=False)
    ticket = open_ticket(tickets, "shopper-1")
    relay = ExplodingRelay(tickets, sleep=5.0)
    source = RabbitSource("amqp://unused", "q", relay, SkipLog(Cursors(database)), time_limit=0.5)

    async def scenario() -> float:
        relay.bind(asyncio.get_running_loop())
        worker = _Worker("test")
        for text in ("boom", "not json {"):
            body = (
                b"{nope"
                if text.startswith("not")
                else json.dumps(user_event("shopper-1", text, 5.0)).encode()
            )
            worker = await source._handle(worker, body)
        started = time.monotonic()
        worker = await source._handle(
            worker, json.dumps(user_event("shopper-1", "slow", 6.0)).encode()
        )
        took = time.monotonic() - started
        worker = await source._handle(
            worker, json.dumps(user_event("shopper-1", "fine", 7.0)).encode()
        )
        worker.close()
        return took

    took = asyncio.run(scenario())
    assert took < 2.0
    assert skipped_events(database) == 3
    assert shopper_lines(tickets, ticket.id)[1:] == ["fine"]
