"""``channels.telegram.TelegramInput``: a Telegram bot over webhooks (docs/channels.md)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.settings import Settings
from channels.core.channel import ChannelOutput, ChannelRuntime, ProviderInput, missing
from channels.core.messages import (
    OutboundMessage,
    ParsedWebhook,
    ProviderRequest,
    Rendered,
    utc_now,
)
from channels.core.sending import ProviderError
from channels.core.store import AcceptedDelivery
from channels.telegram import parsing, rendering
from channels.telegram.client import DEFAULT_API_BASE_URL, TelegramBotApi

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
STALE_CHOICE_NOTICE = "That menu has expired. Please type your answer instead."


@dataclass(frozen=True)
class TelegramConfig:
    bot_token: str = ""
    webhook_secret: str = ""
    api_base_url: str = DEFAULT_API_BASE_URL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any]) -> TelegramConfig:
        values = {f.name: str(credentials.get(f.name) or "") for f in fields(cls)}
        values["api_base_url"] = values["api_base_url"] or DEFAULT_API_BASE_URL
        return cls(**values)


class TelegramOutput(ChannelOutput):
    @classmethod
    def name(cls) -> str:
        return parsing.CHANNEL


class TelegramInput(ProviderInput):
    """POST /webhooks/telegram/webhook, registered with setWebhook and a secret_token."""

    @classmethod
    def name(cls) -> str:
        return parsing.CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TelegramInput:
        return cls(
            TelegramConfig.from_credentials(credentials or {}),
            ChannelRuntime.from_settings(Settings.from_env()),
        )

    def __init__(
        self,
        config: TelegramConfig,
        runtime: ChannelRuntime,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(runtime)
        self.config = config
        self._clock = clock
        self._api: TelegramBotApi | None = None

    def missing_settings(self) -> list[str]:
        # No secret, no webhook: anyone who guesses the URL could post as any chat.
        return missing(
            [
                ("TELEGRAM_BOT_TOKEN", self.config.bot_token),
                ("TELEGRAM_WEBHOOK_SECRET", self.config.webhook_secret),
            ]
        )

    def verify(self, request: Request) -> bool:
        header = request.headers.get(SECRET_HEADER, "")
        return parsing.secret_valid(self.config.webhook_secret, header)

    def parse(self, request: Request) -> ParsedWebhook:
        return parsing.parse_update(request.body, self._clock())

    def acknowledge(self) -> HTTPResponse:
        return response.empty(status=200)

    def render(self, message: OutboundMessage) -> Rendered:
        return rendering.render(message)

    def output_channel(self, inbound_id: int | None) -> TelegramOutput:
        return TelegramOutput(self, inbound_id)

    @property
    def api(self) -> TelegramBotApi:
        if self._api is None:
            self._api = TelegramBotApi(self.config.bot_token, self.config.api_base_url)
        return self._api

    async def transmit(self, external_id: str, request: ProviderRequest) -> str | None:
        return await self.api.send(external_id, request)

    async def _answer_callback(self, delivery: AcceptedDelivery, text: str | None = None) -> None:
        """Stops the spinner on the tapped button (one try: it expires within seconds)."""
        callback_id = delivery.message.callback_id
        if not callback_id:
            return
        params: dict[str, Any] = {"callback_query_id": callback_id}
        if text:
            params["text"] = text
        answer = ProviderRequest("answer_callback", params)
        try:
            await self.transmit(delivery.message.sender_id, answer)
        except ProviderError as error:
            logger.info("telegram: callback query %s not answered: %s", callback_id, error)

    async def prepare_turn(self, delivery: AcceptedDelivery) -> None:
        await self._answer_callback(delivery)

    async def on_stale_choice(self, delivery: AcceptedDelivery) -> None:
        await self._answer_callback(delivery, STALE_CHOICE_NOTICE)
