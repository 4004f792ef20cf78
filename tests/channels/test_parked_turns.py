"""A turn whose actions could not run is not done (channels/core/turn_outcome.py, parking.py):
one real connector over HTTP, a scripted bot that behaves like Rasa 3.6 when the action server
is down (it logs "Encountered an exception while running action ..." and carries on), and a
fake action server whose /health the test switches on and off. No trained model needed; the
same through the running stack is tests/channels/test_action_server_outage.py.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy import select

from bot.store.channel_models import ChannelInbound, ChannelOutbound
from bot.store.channel_store import ChannelStore
from bot.store.database import Database
from channels.core import recovery
from channels.core.channel import ChannelRuntime, ProviderInput
from channels.core.parking import ParkState
from channels.core.recovery import ACTIONS_UNAVAILABLE_REPLY, GIVEN_UP_REPLY
from channels.core.sending import RetryPolicy
from channels.core.turn_outcome import classify, install_failure_detection, watching_turn
from channels.webchat.devserver import WebChatServer
from tests.channels.conftest import CHANNELS, build_channel, eventually
from tests.channels.drivers import Driver, drivers
from tests.channels.fake_providers import FakeProviders
from tests.conftest import free_port

NEEDS_ACTIONS = "where is my order"


class FakeActionServer:
    """Answers GET /health with 200 while `up`, 503 otherwise."""

    def __init__(self) -> None:
        self.up = True
        self.checks = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake.checks += 1
                self.send_response(200 if fake.up else 503)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/health"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class RasaLikeBot:
    """Stands in for Rasa. A message that needs actions gets "Let me check." (a response
    before the action), then the action: while the action server is down it fails the way
    Rasa 3.6 reports it and Rasa carries on to a response that would be wrong; otherwise
    "Order status for: <text>"."""

    actions: FakeActionServer
    received: list[str] = field(default_factory=list)
    #: Fail even while the action server answers (a bug in an action).
    always_fail: bool = False

    async def __call__(self, message: UserMessage) -> None:
        text, output, recipient = message.text or "", message.output_channel, message.sender_id
        self.received.append(text)
        if NEEDS_ACTIONS not in text:
            await output.send_text_message(recipient, f"echo: {text}")
            return
        await output.send_text_message(recipient, "Let me check.")
        if self.always_fail or not self.actions.up:
            try:
                raise RasaException("Failed to execute custom action 'action_order_status'")
            except RasaException:
                logging.getLogger("rasa.core.processor").exception(
                    "Encountered an exception while running action 'action_order_status'."
                    "Bot will continue, but the actions events are lost. Please check the "
                    "logs of your action server for more information."
                )
            await output.send_text_message(recipient, "Is there anything else?")  # held back
            return
        await output.send_text_message(recipient, f"Order status for: {text}")


@dataclass
class Stack:
    channel: ProviderInput
    bot: RasaLikeBot
    server: WebChatServer
    driver: Driver
    fake: FakeProviders
    database: Database

    def post(self, sender: str, text: str, **kwargs: Any) -> int:
        return self.driver.message(sender, text, **kwargs).post(self.server.base_url).status_code

    def texts(self, sender: str) -> list[str]:
        return [r.text for r in self.fake.sent(self.driver.provider, sender)]

    def inbound(self, sender: str) -> list[ChannelInbound]:
        with self.database.session() as session:
            return list(
                session.execute(
                    select(ChannelInbound)
                    .where(ChannelInbound.channel == self.channel.name())
                    .where(ChannelInbound.external_id == sender)
                    .order_by(ChannelInbound.id)
                ).scalars()
            )

    def outbound(self, sender: str) -> list[ChannelOutbound]:
        with self.database.session() as session:
            return list(
                session.execute(
                    select(ChannelOutbound)
                    .where(ChannelOutbound.channel == self.channel.name())
                    .where(ChannelOutbound.external_id == sender)
                    .order_by(ChannelOutbound.id)
                ).scalars()
            )

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.server._loop).result(30)

    def stop(self) -> None:
        self.server.__exit__(None, None, None)


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Production waits are seconds; here tenths."""
    monkeypatch.setattr(recovery, "NOTICE_DELAY", 0.6)
    monkeypatch.setattr(recovery, "RETRY_MIN_DELAY", 0.05)
    monkeypatch.setattr(recovery, "RETRY_MAX_DELAY", 0.2)
    monkeypatch.setattr("channels.core.turn_outcome.POLL_MIN_DELAY", 0.05)
    monkeypatch.setattr("channels.core.turn_outcome.POLL_MAX_DELAY", 0.1)


@pytest.fixture
def action_server() -> Iterator[FakeActionServer]:
    server = FakeActionServer()
    yield server
    server.stop()


@pytest.fixture
def make_stack(
    quick: None, action_server: FakeActionServer, fake_providers: FakeProviders,
    channel_database: Database, fixtures_dir: Path,
) -> Iterator[Callable[..., Stack]]:  # fmt: skip
    started: list[Stack] = []

    def make(name: str = "whatsapp", *, always_fail: bool = False) -> Stack:
        runtime = ChannelRuntime(
            ChannelStore(channel_database), public_url="http://placeholder",
            retry=RetryPolicy(base_delay=0.02), action_health_url=action_server.health_url,
        )  # fmt: skip
        fake_providers.reset_faults()
        channel = build_channel(name, fake_providers, runtime)
        bot = RasaLikeBot(action_server, always_fail=always_fail)
        server = WebChatServer(bot, channel)  # type: ignore[arg-type]  # mounts any InputChannel
        channel.runtime = replace(channel.runtime, public_url=server.base_url)
        server.__enter__()
        stack = Stack(
            channel, bot, server, drivers(fixtures_dir, server.base_url)[name],
            fake_providers, channel_database,
        )  # fmt: skip
        started.append(stack)
        return stack

    yield make
    for stack in started:
        stack.stop()


def _finished(stack: Stack, sender: str, count: int = 1) -> bool:
    rows = stack.inbound(sender)
    return len(rows) >= count and all(r.status in ("processed", "failed", "ignored") for r in rows)


# ------------------------------------------------------------------ the outage


@pytest.mark.parametrize("name", CHANNELS)
def test_failed_turn_is_parked_then_answered_once(
    make_stack: Callable[..., Stack], action_server: FakeActionServer, name: str
) -> None:
    stack = make_stack(name)
    action_server.up = False
    senders = [stack.driver.new_sender() for _ in range(3)]

    assert [stack.post(s, f"{NEEDS_ACTIONS} {i}") for i, s in enumerate(senders)] == [200] * 3

    # Parked, not done: back to "received" with the reason. The first turns ran and failed
    # (undone); once the action server is known to be down, the others are not handed over.
    for sender in senders:
        eventually(lambda s=sender: stack.inbound(s) and stack.inbound(s)[0].error)
        [row] = stack.inbound(sender)
        assert row.status == "received" and row.attempts >= 1
        reason = (ParkState.decode(row.error) or ParkState()).reason
        assert "action_order_status failed" in reason or "does not answer" in reason
    ran = [s for s in senders if stack.texts(s)[:1] == ["Let me check."]]
    assert ran and len(stack.bot.received) == len(ran)
    # What came before the failed action went out, what Rasa said after it did not. After a
    # few seconds the shopper is told, once, that the answer has to wait.
    for sender in senders:
        eventually(lambda s=sender: ACTIONS_UNAVAILABLE_REPLY in stack.texts(s), timeout=5)
        assert "Is there anything else?" not in stack.texts(sender)
        eventually(
            lambda s=sender: (ParkState.decode(stack.inbound(s)[0].error) or ParkState()).told
        )

    action_server.up = True

    for i, sender in enumerate(senders):
        eventually(lambda s=sender: _finished(stack, s), timeout=10)
        texts = stack.texts(sender)
        # Each once: the retry does not send "Let me check." again.
        assert sorted(texts) == sorted([
            "Let me check.", ACTIONS_UNAVAILABLE_REPLY, f"Order status for: {NEEDS_ACTIONS} {i}",
        ])  # fmt: skip
        assert texts[-1] == f"Order status for: {NEEDS_ACTIONS} {i}"
        [row] = stack.inbound(sender)
        assert (row.status, row.error) == ("processed", None)
        assert row.attempts == 2
    assert all(r.status == "sent" for s in senders for r in stack.outbound(s))


def test_later_messages_wait_behind_a_parked_one(
    make_stack: Callable[..., Stack], action_server: FakeActionServer
) -> None:
    stack = make_stack()
    sender = stack.driver.new_sender()
    action_server.up = False
    assert stack.post(sender, f"{NEEDS_ACTIONS} 1") == 200
    eventually(lambda: stack.inbound(sender) and stack.inbound(sender)[0].status == "received"
               and stack.inbound(sender)[0].error)  # fmt: skip
    assert stack.post(sender, "thanks") == 200
    assert stack.post(sender, f"{NEEDS_ACTIONS} 3") == 200
    eventually(
        lambda: len(stack.inbound(sender)) == 3 and all(r.error for r in stack.inbound(sender))
    )

    # Neither later message reached the bot: they wait in order behind the first.
    assert stack.bot.received == [f"{NEEDS_ACTIONS} 1"]
    assert [r.status for r in stack.inbound(sender)] == ["received"] * 3

    action_server.up = True

    eventually(lambda: _finished(stack, sender, 3), timeout=10)
    assert stack.bot.received == [f"{NEEDS_ACTIONS} 1", f"{NEEDS_ACTIONS} 1", "thanks",
                                  f"{NEEDS_ACTIONS} 3"]  # fmt: skip
    assert [t for t in stack.texts(sender) if t.startswith(("Order", "echo"))] == [
        f"Order status for: {NEEDS_ACTIONS} 1",
        "echo: thanks",
        f"Order status for: {NEEDS_ACTIONS} 3",
    ]
    assert stack.texts(sender).count(ACTIONS_UNAVAILABLE_REPLY) <= 1


def test_while_the_action_server_is_known_down_nothing_is_handed_over(
    make_stack: Callable[..., Stack], action_server: FakeActionServer
) -> None:
    stack = make_stack()
    first, second = stack.driver.new_sender(), stack.driver.new_sender()
    action_server.up = False
    assert stack.post(first, NEEDS_ACTIONS) == 200
    eventually(lambda: stack.inbound(first) and stack.inbound(first)[0].error)

    assert stack.post(second, "hello") == 200
    eventually(lambda: stack.inbound(second) and stack.inbound(second)[0].error)

    assert stack.bot.received == [NEEDS_ACTIONS]
    assert "does not answer" in stack.inbound(second)[0].error
    action_server.up = True
    eventually(lambda: _finished(stack, first) and _finished(stack, second), timeout=10)
    assert stack.texts(second)[-1] == "echo: hello"


def test_short_outage_answers_without_a_notice(
    make_stack: Callable[..., Stack], action_server: FakeActionServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(recovery, "NOTICE_DELAY", 3.0)
    stack = make_stack()
    sender = stack.driver.new_sender()
    action_server.up = False
    assert stack.post(sender, NEEDS_ACTIONS) == 200
    eventually(lambda: stack.inbound(sender) and stack.inbound(sender)[0].error)

    action_server.up = True  # back within seconds (the supervisor restarted it)

    eventually(lambda: _finished(stack, sender), timeout=5)
    assert stack.texts(sender) == ["Let me check.", f"Order status for: {NEEDS_ACTIONS}"]
    assert stack.inbound(sender)[0].status == "processed"


def test_redelivery_of_a_parked_message_is_a_duplicate(
    make_stack: Callable[..., Stack], action_server: FakeActionServer
) -> None:
    stack = make_stack()
    sender = stack.driver.new_sender()
    delivery = stack.driver.message(sender, NEEDS_ACTIONS)
    action_server.up = False
    assert delivery.post(stack.server.base_url).status_code == 200
    eventually(lambda: stack.inbound(sender) and stack.inbound(sender)[0].error)

    assert delivery.post(stack.server.base_url).status_code == 200
    action_server.up = True
    eventually(lambda: _finished(stack, sender), timeout=10)
    assert delivery.post(stack.server.base_url).status_code == 200

    assert len(stack.inbound(sender)) == 1
    assert stack.texts(sender).count(f"Order status for: {NEEDS_ACTIONS}") == 1


def test_an_action_that_keeps_failing_is_given_up_and_the_shopper_told(
    make_stack: Callable[..., Stack], action_server: FakeActionServer
) -> None:
    stack = make_stack(always_fail=True)  # the action server answers; the action raises
    sender = stack.driver.new_sender()

    assert stack.post(sender, NEEDS_ACTIONS) == 200

    eventually(lambda: _finished(stack, sender), timeout=10)
    [row] = stack.inbound(sender)
    assert row.status == "failed" and row.attempts == recovery.MAX_UP_FAILURES
    assert row.error.startswith(f"gave up after {recovery.MAX_UP_FAILURES} failed attempts")
    assert stack.texts(sender) == ["Let me check.", GIVEN_UP_REPLY]


def test_parked_deliveries_survive_a_restart(
    make_stack: Callable[..., Stack], action_server: FakeActionServer
) -> None:
    """The process stops while messages are parked; the next one replays them at start-up
    (their user events may be in the tracker: `undone` says they do not count)."""
    first = make_stack()
    sender = first.driver.new_sender()
    action_server.up = False
    assert first.post(sender, f"{NEEDS_ACTIONS} A") == 200
    assert first.post(sender, f"{NEEDS_ACTIONS} B") == 200
    eventually(
        lambda: len(first.inbound(sender)) == 2 and all(r.error for r in first.inbound(sender))
    )
    first.stop()
    told_before = first.texts(sender).count(ACTIONS_UNAVAILABLE_REPLY)
    action_server.up = True

    second = make_stack()  # a new process: recovery at start-up

    eventually(lambda: _finished(second, sender, 2), timeout=10)
    texts = second.texts(sender)
    assert [t for t in texts if t.startswith("Order")] == [
        f"Order status for: {NEEDS_ACTIONS} A", f"Order status for: {NEEDS_ACTIONS} B",
    ]  # fmt: skip
    assert texts.count("Let me check.") == 2  # once per message, not again on the retry
    assert texts.count(ACTIONS_UNAVAILABLE_REPLY) == told_before <= 1


# ------------------------------------------------------------------ the detection itself


def test_rasas_own_connection_error_is_recorded_on_the_turn() -> None:
    """Rasa's RemoteAction against a port nobody listens on: the record it logs before
    raising is classified as this turn's failure."""
    install_failure_detection()
    action = RemoteAction(
        "action_order_status", EndpointConfig(f"http://127.0.0.1:{free_port()}/webhook")
    )
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    async def run() -> None:
        await action.run(
            CollectingOutputChannel(), None, DialogueStateTracker("t", []), Domain.empty()
        )

    with watching_turn() as turn, pytest.raises(RasaException):
        asyncio.run(run())
    assert turn.failed and turn.failures[0].action == "action_order_status"
    # Outside a watched turn nothing is recorded anywhere.
    assert classify(logging.LogRecord("other", logging.ERROR, "", 0, "x", None, None)) is None


def test_origin_of_a_bridged_reply_is_recorded(make_stack: Callable[..., Stack]) -> None:
    """A bot event's metadata reaches `send_response` as top-level keys (Rasa's
    `BotUttered.message()`); `handoff_delivery` becomes the send's origin."""
    stack = make_stack("telegram")
    sender = stack.driver.new_sender()

    stack.run(stack.channel.output_channel(None).send_response(
        f"telegram:{sender}", {"text": "Maya here, I'm on it.", "handoff_delivery": 42},
    ))  # fmt: skip

    [row] = stack.outbound(sender)
    assert (row.origin, row.status) == ("handoff:42", "sent")
