"""Fixtures for the channel tests that need no trained model.

`harness` runs one real connector (WhatsApp, Messenger or Telegram) over real HTTP on a Sanic
server (the web chat's dev server, which mounts any input channel where Rasa would), with a
scripted bot instead of Rasa, a fresh SQLite store and the session's fake providers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
from rasa.core.channels.channel import UserMessage
from sqlalchemy import select

from bot.store.channel_models import ChannelConversation, ChannelInbound, ChannelOutbound
from bot.store.channel_store import ChannelStore
from bot.store.database import Database
from channels.core.channel import ChannelRuntime, ProviderInput
from channels.core.sending import RetryPolicy
from channels.messenger.channel import MessengerConfig, MessengerInput
from channels.telegram.channel import TelegramConfig, TelegramInput
from channels.webchat.devserver import WebChatServer
from channels.whatsapp.channel import WhatsAppConfig, WhatsAppInput
from tests.channels.drivers import Delivery, Driver, drivers
from tests.channels.fake_providers import FakeProviders

CHANNELS = ["whatsapp", "messenger", "telegram"]
MENU = [
    {"title": "Track my order", "payload": "/track_order"},
    {"title": "Talk to a person", "payload": "/contact_human_agent"},
]

T = TypeVar("T")


def eventually(check: Callable[[], T], timeout: float = 10.0, interval: float = 0.02) -> T:
    """Polls `check` until it returns something truthy (or raises when time is up)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {result!r})")
        time.sleep(interval)


@dataclass
class ScriptedBot:
    """Stands in for Rasa: records what it is handed and answers by a tiny script."""

    received: list[UserMessage] = field(default_factory=list)

    async def __call__(self, message: UserMessage) -> None:
        self.received.append(message)
        text, output, recipient = message.text or "", message.output_channel, message.sender_id
        if text == "slow":
            await asyncio.sleep(3)
        if text == "crash":
            raise RuntimeError("the assistant crashed")
        if text == "menu":
            await output.send_text_with_buttons(recipient, "What can I do for you?", MENU)
        elif text == "picture":
            await output.send_image_url(recipient, "https://example.com/parka.png")
        else:
            await output.send_text_message(recipient, f"echo: {text}")

    def texts_from(self, sender_id: str) -> list[str]:
        return [m.text or "" for m in self.received if m.metadata["sender_id"] == sender_id]


@dataclass
class Harness:
    channel: ProviderInput
    bot: ScriptedBot
    server: WebChatServer
    driver: Driver
    fake: FakeProviders
    database: Database

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def name(self) -> str:
        return self.channel.name()

    def post(self, delivery: Delivery) -> requests.Response:
        return delivery.post(self.base_url)

    def run(self, coroutine: Any) -> Any:
        """Runs a coroutine on the server's event loop (where the channel's clients live)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.server._loop).result(30)

    def inbound(self, sender: str | None = None) -> list[ChannelInbound]:
        query = select(ChannelInbound).where(ChannelInbound.channel == self.name)
        if sender is not None:
            query = query.where(ChannelInbound.external_id == sender)
        with self.database.session() as session:
            return list(session.execute(query.order_by(ChannelInbound.id)).scalars())

    def outbound(self, sender: str) -> list[ChannelOutbound]:
        query = select(ChannelOutbound).where(
            ChannelOutbound.channel == self.name, ChannelOutbound.external_id == sender
        )
        with self.database.session() as session:
            return list(session.execute(query.order_by(ChannelOutbound.id)).scalars())

    def conversation(self, sender: str) -> ChannelConversation | None:
        with self.database.session() as session:
            return session.execute(
                select(ChannelConversation).where(
                    ChannelConversation.channel == self.name,
                    ChannelConversation.external_id == sender,
                )
            ).scalar_one_or_none()

    def replies(self, sender: str, count: int = 1, timeout: float = 10.0) -> list[Any]:
        return self.fake.wait_for(self.driver.provider, sender, count, timeout=timeout)

    def received_from(self, sender: str, count: int = 1) -> list[UserMessage]:
        """The messages the bot was handed from `sender`, once there are `count` of them."""

        def check() -> list[UserMessage] | None:
            found = [m for m in self.bot.received if m.metadata["sender_id"] == sender]
            return found if len(found) >= count else None

        return eventually(check)


def build_channel(name: str, fake: FakeProviders, runtime: ChannelRuntime) -> ProviderInput:
    credentials = fake.credentials
    if name == "whatsapp":
        return WhatsAppInput(
            WhatsAppConfig(
                account_sid=credentials.twilio_account_sid,
                auth_token=credentials.twilio_auth_token,
                whatsapp_from=credentials.twilio_whatsapp_from,
                template_content_sid=credentials.twilio_template_content_sid,
                api_base_url=fake.base_url,
            ),
            runtime,
        )
    if name == "messenger":
        return MessengerInput(
            MessengerConfig(
                page_access_token=credentials.messenger_page_access_token,
                app_secret=credentials.messenger_app_secret,
                verify_token=credentials.messenger_verify_token,
                api_base_url=fake.graph_base_url,
            ),
            runtime,
        )
    return TelegramInput(
        TelegramConfig(
            bot_token=credentials.telegram_bot_token,
            webhook_secret=credentials.telegram_webhook_secret,
            api_base_url=fake.base_url,
        ),
        runtime,
    )


@pytest.fixture
def channel_database(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'store.db'}")
    database.migrate()
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def fixtures_dir(shared_dir: Path) -> Path:
    return shared_dir / "fixtures"


def start_harness(
    name: str,
    fake: FakeProviders,
    database: Database,
    fixtures: Path,
    *,
    channel: ProviderInput | None = None,
) -> Harness:
    runtime = ChannelRuntime(
        ChannelStore(database), public_url="http://placeholder", retry=RetryPolicy(base_delay=0.02)
    )
    fake.reset_faults()  # a test that failed early may have left some
    channel = channel or build_channel(name, fake, runtime)
    bot = ScriptedBot()
    server = WebChatServer(bot, channel)  # type: ignore[arg-type]  # mounts any InputChannel
    # Twilio signs the public URL, known once the server has its port.
    channel.runtime = replace(channel.runtime, public_url=server.base_url)
    server.__enter__()
    return Harness(channel, bot, server, drivers(fixtures, server.base_url)[name], fake, database)


@pytest.fixture(params=CHANNELS)
def harness(
    request: pytest.FixtureRequest,
    fake_providers: FakeProviders,
    channel_database: Database,
    fixtures_dir: Path,
) -> Iterator[Harness]:
    running = start_harness(request.param, fake_providers, channel_database, fixtures_dir)
    try:
        yield running
    finally:
        running.server.__exit__(None, None, None)


@pytest.fixture
def make_harness(
    fake_providers: FakeProviders, channel_database: Database, fixtures_dir: Path
) -> Iterator[Callable[..., Harness]]:
    """For tests that need one particular channel, or a channel built their own way."""
    started: list[Harness] = []

    def make(name: str, channel: ProviderInput | None = None) -> Harness:
        running = start_harness(
            name, fake_providers, channel_database, fixtures_dir, channel=channel
        )
        started.append(running)
        return running

    yield make
    for running in started:
        running.server.__exit__(None, None, None)
