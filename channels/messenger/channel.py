"""``channels.messenger.MessengerInput``: Facebook Messenger (docs/channels.md)."""

from __future__ import annotations

import logging
from functools import cached_property

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.settings import MessengerSettings
from bot.store.channel_store import AcceptedDelivery
from channels.core.channel import OnNewMessage, missing
from channels.core.connector import ConnectorOutput, MessagingConnector
from channels.core.messages import OutboundMessage, ParsedWebhook, ProviderRequest, Rendered
from channels.core.sending import ProviderError
from channels.messenger import parsing, rendering
from channels.messenger.client import GraphSendApi

logger = logging.getLogger(__name__)

#: The connector's configuration: its section of the settings (bot/settings.py).
MessengerConfig = MessengerSettings


class MessengerOutput(ConnectorOutput):
    channel_name = parsing.CHANNEL


class MessengerInput(MessagingConnector[MessengerSettings]):
    """GET/POST /webhooks/messenger/webhook: the subscription handshake and page events."""

    output_class = MessengerOutput
    section = "messenger"
    # requests blocks.
    blocking_threads = 16

    def missing_settings(self) -> list[str]:
        return missing(
            [
                ("MESSENGER_PAGE_ACCESS_TOKEN", self.config.page_access_token),
                ("MESSENGER_APP_SECRET", self.config.app_secret),
                ("MESSENGER_VERIFY_TOKEN", self.config.verify_token),
            ]
        )

    def add_routes(self, blueprint: Blueprint, on_new_message: OnNewMessage) -> None:
        @blueprint.route("/webhook", methods=["GET"])
        async def handshake(request: Request) -> HTTPResponse:
            if self.missing_settings():
                return self.unconfigured_response()
            args = {key: request.args.get(key, "") for key in request.args}
            challenge = parsing.handshake_challenge(args, self.config.verify_token)
            if challenge is None:
                logger.warning("messenger: refused a webhook subscription (wrong verify token)")
                return response.text("verification failed", status=403)
            return response.text(challenge)

    def verify(self, request: Request) -> bool:
        signature = request.headers.get("X-Hub-Signature-256", "")
        return parsing.signature_valid(self.config.app_secret, request.body, signature)

    def parse(self, request: Request) -> ParsedWebhook:
        return parsing.parse_webhook(request.body, self._clock())

    def acknowledge(self) -> HTTPResponse:
        return response.text("EVENT_RECEIVED")

    def render(self, message: OutboundMessage) -> Rendered:
        return rendering.render(message)

    @cached_property
    def graph(self) -> GraphSendApi:
        return GraphSendApi(
            self.config.page_access_token, self.config.app_secret, self.config.api_base_url
        )

    async def transmit(self, external_id: str, request: ProviderRequest) -> str | None:
        return await self.in_thread(self.graph.send, external_id, request)

    async def prepare_turn(self, delivery: AcceptedDelivery) -> None:
        """Shows the typing indicator while the assistant thinks (one try, not recorded: a
        missing indicator is not worth a retry or a delay)."""
        typing = ProviderRequest("typing", {"sender_action": "typing_on"})
        try:
            await self.transmit(delivery.message.sender_id, typing)
        except ProviderError as error:
            logger.info("messenger: typing indicator not shown: %s", error)
