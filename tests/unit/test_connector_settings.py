"""How the connectors Rasa builds from credentials.yml get their settings: their section of the
process's settings (bot/processes/rasa_server.py sets them), overridden by keys written in
their credentials.yml entry; the web chat and the JSON endpoint likewise."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import settings as settings_module
from bot.settings import Settings, use_process_settings
from channels.core.connector import MessagingConnector
from channels.jsonapi.channel import JsonApiInput
from channels.messenger.channel import MessengerInput, MessengerOutput
from channels.telegram.channel import TelegramInput, TelegramOutput
from channels.webchat.channel import WebChatInput
from channels.whatsapp.channel import WhatsAppInput, WhatsAppOutput

ENVIRONMENT = {
    "TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "tw", "TWILIO_WHATSAPP_FROM": "whatsapp:+1",
    "MESSENGER_PAGE_ACCESS_TOKEN": "page", "MESSENGER_APP_SECRET": "app",
    "MESSENGER_VERIFY_TOKEN": "verify", "GRAPH_API_BASE_URL": "http://graph.fake/v1",
    "TELEGRAM_BOT_TOKEN": "1:AA", "TELEGRAM_WEBHOOK_SECRET": "tg",
    "CHANNEL_SEND_ATTEMPTS": "2", "CHANNEL_RETRY_BASE_DELAY": "0.1",
    "CHANNEL_MAX_TURNS_IN_FLIGHT": "3", "PUBLIC_URL": "https://support.example/",
    "WEBCHAT_EMBED_ORIGINS": "https://shop.example", "JSON_API_SECRET": "json-secret",
}  # fmt: skip


@pytest.fixture
def process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """What the Rasa server's entry point sets before Rasa builds the channels."""
    monkeypatch.setattr(settings_module._ProcessSettings, "current", None)
    settings = Settings.from_env(
        {**ENVIRONMENT, "DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    )
    use_process_settings(settings)
    yield settings


@pytest.mark.parametrize(
    ("connector", "output", "section"),
    [
        (WhatsAppInput, WhatsAppOutput, "whatsapp"),
        (MessengerInput, MessengerOutput, "messenger"),
        (TelegramInput, TelegramOutput, "telegram"),
    ],
)
@pytest.mark.parametrize("credentials", [None, {}])
def test_a_connector_listed_without_credentials_takes_its_section(
    process: Settings,
    connector: type[MessagingConnector[Any]],
    output: type[Any],
    section: str,
    credentials: dict[str, Any] | None,
) -> None:
    channel = connector.from_credentials(credentials)
    assert isinstance(channel, connector)
    assert channel.config == getattr(process, section)
    assert channel.missing_settings() == []
    assert channel.name() == output.name() == section
    assert isinstance(channel.output_channel(None), output)
    runtime = channel.runtime
    assert runtime.public_url == "https://support.example"
    assert (runtime.retry.attempts, runtime.retry.base_delay) == (2, 0.1)
    assert runtime.max_turns_in_flight == 3


def test_keys_in_credentials_override_the_section(process: Settings) -> None:
    channel = WhatsAppInput.from_credentials(
        {"account_sid": "AC2", "auth_token": "", "api_base_url": None, "unknown": "x"}
    )
    assert channel.config.account_sid == "AC2"
    # Empty values (an unset ${VAR} in an old credentials.yml) leave the setting.
    assert channel.config.auth_token == "tw"
    assert channel.config.api_base_url == "https://api.twilio.com"


def test_an_unconfigured_connector_says_which_variables_are_missing(process: Settings) -> None:
    use_process_settings(process.replace(telegram={}))
    assert TelegramInput.from_credentials(None).missing_settings() == [
        "TELEGRAM_BOT_TOKEN",
        "TELEGRAM_WEBHOOK_SECRET",
    ]


def test_web_chat_and_json_endpoint_take_their_settings(process: Settings) -> None:
    webchat = WebChatInput.from_credentials({"socketio_path": "/webhooks/webchat/socket.io"})
    assert isinstance(webchat, WebChatInput)
    assert webchat.embed_origins == ("https://shop.example",)
    json_api = JsonApiInput.from_credentials(None)
    assert isinstance(json_api, JsonApiInput) and json_api.secret == "json-secret"
    assert JsonApiInput.from_credentials({"secret": "own"}).secret == "own"  # type: ignore[attr-defined]


def test_blocking_provider_calls_run_on_the_connectors_own_threads(process: Settings) -> None:
    import asyncio
    import threading

    channel = MessengerInput.from_credentials(None)
    name = asyncio.run(channel.in_thread(lambda: threading.current_thread().name))
    assert name.startswith("messenger")
