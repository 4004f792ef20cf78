"""Every provider entry point screens the shopper's text before the assistant sees it
(channels/core/inbound_text.py): cleaned, and a message over TEXT_LIMIT is recorded and
acknowledged (so the provider does not redeliver it) but never reaches the NLU; the shopper is
told to send something shorter.

The harness tests run a real connector with a scripted bot; the stack tests post a 100 000
letter WhatsApp message and a 1 MB Telegram one to the running Rasa and measure how long it
stops answering (`-s` prints the figures, so a run on older code measures the "before").
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from bot.store.channel_models import ChannelInbound
from bot.store.database import Database
from channels.core.inbound_text import BLANK_REPLY, TEXT_LIMIT, TOO_LONG_REPLY, clean_text
from tests.channels.conftest import Harness, eventually
from tests.channels.drivers import Delivery, Driver, drivers
from tests.channels.fake_providers import FakeProviders
from tests.conftest import RunningStack

FINISHED = ("processed", "failed", "ignored")


# ------------------------------------------------------------------ one connector, no Rasa


def test_inbound_text_is_cleaned_before_the_assistant_sees_it(harness: Harness) -> None:
    sender = harness.driver.new_sender()
    raw = "where is\x00 my order\r\n10023\u2028 Cafe\u0301"

    assert harness.post(harness.driver.message(sender, raw)).status_code == 200

    [received] = harness.received_from(sender)
    assert received.text == clean_text(raw) == "where is my order\n10023\n Café"
    [row] = harness.inbound(sender)
    assert row.message["text"] == clean_text(raw)


def test_too_long_message_is_answered_without_the_assistant(harness: Harness) -> None:
    sender = harness.driver.new_sender()
    # Under Twilio's form size and Telegram's body limits, over ours.
    delivery = harness.driver.message(sender, "a" * (TEXT_LIMIT + 1))

    assert harness.post(delivery).status_code == 200
    [reply] = harness.replies(sender)
    assert reply.text == TOO_LONG_REPLY
    assert harness.post(delivery).status_code == 200  # a redelivery: still one reply

    row = eventually(lambda: next((r for r in harness.inbound(sender)
                                   if r.status in FINISHED), None))  # fmt: skip
    assert (row.status, row.error) == ("ignored", "over the text limit")
    assert harness.bot.texts_from(sender) == []
    time.sleep(0.3)
    assert len(harness.fake.sent(harness.driver.provider, sender)) == 1
    assert len(harness.inbound(sender)) == 1


def test_message_at_the_limit_reaches_the_assistant(harness: Harness) -> None:
    sender = harness.driver.new_sender()
    text = "b" * TEXT_LIMIT

    assert harness.post(harness.driver.message(sender, text)).status_code == 200

    [received] = harness.received_from(sender)
    assert received.text == text


def test_blank_message_is_answered_without_the_assistant(harness: Harness) -> None:
    sender = harness.driver.new_sender()

    assert harness.post(harness.driver.message(sender, " \u200b\t")).status_code == 200

    [reply] = harness.replies(sender)
    assert reply.text == BLANK_REPLY
    assert harness.bot.texts_from(sender) == []


# ------------------------------------------------------------------ the running stack


@pytest.fixture(scope="module")
def stack_store(rasa_stack: RunningStack) -> Iterator[Database]:
    database = Database(rasa_stack.settings.database_url)
    yield database
    database.dispose()


@pytest.fixture
def stack_drivers(rasa_stack: RunningStack, shared_dir: Path) -> dict[str, Driver]:
    return drivers(shared_dir / "fixtures", rasa_stack.settings.public_url)


class Stall:
    """Polls Rasa's root (`GET /`, answered on the event loop) while a test runs; the longest
    answer is how long the server could not answer anyone."""

    def __init__(self, url: str, interval: float = 0.05) -> None:
        self._url, self._interval = url, interval
        self._stop = threading.Event()
        self.longest = 0.0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with requests.Session() as http:
            while not self._stop.is_set():
                started = time.perf_counter()
                with contextlib.suppress(requests.RequestException):
                    http.get(self._url, timeout=60)
                self.longest = max(self.longest, time.perf_counter() - started)
                self._stop.wait(self._interval)

    def __enter__(self) -> Stall:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=70)


def _rows(store: Database, channel: str, sender: str) -> list[ChannelInbound]:
    with store.session() as session:
        return list(
            session.execute(
                select(ChannelInbound).where(
                    ChannelInbound.channel == channel, ChannelInbound.external_id == sender
                )
            ).scalars()
        )


def _huge_message_through_the_stack(
    stack: RunningStack, fake: FakeProviders, store: Database, driver: Driver,
    delivery_for: Callable[[str], Delivery], label: str,
) -> None:  # fmt: skip
    fake.reset_faults()
    sender = driver.new_sender()
    delivery = delivery_for(sender)
    with Stall(f"{stack.rasa_url}/") as stall:
        started = time.perf_counter()
        status = delivery.post(stack.rasa_url, timeout=60).status_code
        acknowledged = time.perf_counter() - started
        # The turn is over when its delivery is finished (whatever the outcome).
        eventually(
            lambda: any(r.status in FINISHED for r in _rows(store, driver.channel, sender)),
            timeout=120, interval=0.1,
        )  # fmt: skip
        finished = time.perf_counter() - started
        time.sleep(1.0)  # the stall meter keeps polling past the turn
    replies = fake.sent(driver.provider, sender)
    [row] = _rows(store, driver.channel, sender)
    tracker = requests.get(
        f"{stack.rasa_url}/conversations/{driver.channel}:{sender}/tracker",
        params={"token": stack.token}, timeout=10,
    ).json()  # fmt: skip
    users = [e for e in tracker.get("events") or [] if e["event"] == "user"]
    print(
        f"\n{label}: HTTP {status} in {acknowledged:.2f}s, turn finished after "
        f"{finished:.2f}s ({row.status}), Rasa unresponsive for up to {stall.longest:.2f}s, "
        f"{len(replies)} repl{'y' if len(replies) == 1 else 'ies'}, "
        f"{len(users)} user event(s) in the tracker, stored text "
        f"{len(row.message.get('text') or ''):,} characters"
    )
    assert status == 200 and acknowledged < 2.0
    assert [r.text for r in replies] == [TOO_LONG_REPLY]
    assert (row.status, row.error) == ("ignored", "over the text limit")
    assert users == []  # the NLU never saw it
    assert stall.longest < 0.5
    assert len(row.message["text"]) == TEXT_LIMIT + 1  # kept short in the store


@pytest.mark.integration
def test_100k_letter_whatsapp_message_does_not_block_rasa(
    rasa_stack: RunningStack, fake_providers: FakeProviders, stack_store: Database,
    stack_drivers: dict[str, Driver],
) -> None:  # fmt: skip
    driver = stack_drivers["whatsapp"]
    _huge_message_through_the_stack(
        rasa_stack, fake_providers, stack_store, driver,
        lambda sender: driver.message(sender, "a" * 100_000), "WhatsApp, 100 000 letters",
    )  # fmt: skip


@pytest.mark.integration
def test_1mb_telegram_message_does_not_block_rasa(
    rasa_stack: RunningStack, fake_providers: FakeProviders, stack_store: Database,
    stack_drivers: dict[str, Driver],
) -> None:  # fmt: skip
    driver = stack_drivers["telegram"]
    words = ("where is my order " * 60_000)[:1_000_000]  # 1 MB of words
    _huge_message_through_the_stack(
        rasa_stack, fake_providers, stack_store, driver,
        lambda sender: driver.message(sender, words), "Telegram, 1 MB",
    )  # fmt: skip
