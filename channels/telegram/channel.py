"""``channels.telegram.TelegramInput``: a Telegram bot over webhooks (docs/channels.md)."""

from __future__ import annotations

import logging
from functools import cached_property
from typing import Any

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.settings import TelegramSettings
from bot.store.channel_store import AcceptedDelivery
from channels.core.channel import missing
from channels.core.connector import ConnectorOutput, MessagingConnector
from channels.core.messages import OutboundMessage, ParsedWebhook, ProviderRequest, Rendered
from channels.core.sending import ProviderError
from channels.telegram import parsing, rendering
from channels.telegram.client import TelegramBotApi

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
STALE_CHOICE_NOTICE = "That menu has expired. Please type your answer instead."

#: The connector's configuration: its section of the settings (bot/settings.py).
TelegramConfig = TelegramSettings


class TelegramOutput(ConnectorOutput):
    channel_name = parsing.CHANNEL


class TelegramInput(MessagingConnector[TelegramSettings]):
    """POST /webhooks/telegram/webhook, registered with setWebhook and a secret_token."""

    output_class = TelegramOutput
    section = "telegram"

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

    @cached_property
    def api(self) -> TelegramBotApi:
        return TelegramBotApi(self.config.bot_token, self.config.api_base_url)

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
