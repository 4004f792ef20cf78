"""``channels.messenger.MessengerInput``: Facebook Messenger (docs/channels.md)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.settings import Settings
from channels.core.channel import (
    ChannelOutput,
    ChannelRuntime,
    OnNewMessage,
    ProviderInput,
    missing,
)
from channels.core.messages import (
    OutboundMessage,
    ParsedWebhook,
    ProviderRequest,
    Rendered,
    utc_now,
)
from channels.core.sending import ProviderError
from channels.core.store import AcceptedDelivery
from channels.messenger import parsing, rendering
from channels.messenger.client import DEFAULT_API_BASE_URL, GraphSendApi

logger = logging.getLogger(__name__)

# requests blocks; Graph calls get their own threads so a slow Graph API cannot starve the
# default executor, which the webhooks need for the store.
_GRAPH_THREADS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="graph")


@dataclass(frozen=True)
class MessengerConfig:
    page_access_token: str = ""
    app_secret: str = ""
    verify_token: str = ""
    api_base_url: str = DEFAULT_API_BASE_URL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any]) -> MessengerConfig:
        values = {f.name: str(credentials.get(f.name) or "") for f in fields(cls)}
        values["api_base_url"] = values["api_base_url"] or DEFAULT_API_BASE_URL
        return cls(**values)


class MessengerOutput(ChannelOutput):
    @classmethod
    def name(cls) -> str:
        return parsing.CHANNEL


class MessengerInput(ProviderInput):
    """GET/POST /webhooks/messenger/webhook: the subscription handshake and page events."""

    @classmethod
    def name(cls) -> str:
        return parsing.CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> MessengerInput:
        return cls(
            MessengerConfig.from_credentials(credentials or {}),
            ChannelRuntime.from_settings(Settings.from_env()),
        )

    def __init__(
        self,
        config: MessengerConfig,
        runtime: ChannelRuntime,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(runtime)
        self.config = config
        self._clock = clock
        self._graph: GraphSendApi | None = None

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

    def output_channel(self, inbound_id: int | None) -> MessengerOutput:
        return MessengerOutput(self, inbound_id)

    @property
    def graph(self) -> GraphSendApi:
        if self._graph is None:
            self._graph = GraphSendApi(
                self.config.page_access_token, self.config.app_secret, self.config.api_base_url
            )
        return self._graph

    async def transmit(self, external_id: str, request: ProviderRequest) -> str | None:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_GRAPH_THREADS, self.graph.send, external_id, request)

    async def prepare_turn(self, delivery: AcceptedDelivery) -> None:
        """Shows the typing indicator while the assistant thinks (one try, not recorded: a
        missing indicator is not worth a retry or a delay)."""
        typing = ProviderRequest("typing", {"sender_action": "typing_on"})
        try:
            await self.transmit(delivery.message.sender_id, typing)
        except ProviderError as error:
            logger.info("messenger: typing indicator not shown: %s", error)
