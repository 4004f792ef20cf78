"""``channels.whatsapp.WhatsAppInput``: WhatsApp through Twilio (docs/channels.md)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from functools import cached_property

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.settings import WhatsAppSettings
from channels.core.channel import OnNewMessage, missing
from channels.core.connector import ConnectorOutput, MessagingConnector
from channels.core.messages import OutboundMessage, ParsedWebhook, ProviderRequest, Rendered
from channels.core.origin import current_origin
from channels.core.sending import Sender
from channels.whatsapp import parsing, rendering
from channels.whatsapp.client import TwilioWhatsApp
from channels.whatsapp.rendering import WindowAction, template_request, window_action

#: The connector's configuration: its section of the settings (bot/settings.py).
WhatsAppConfig = WhatsAppSettings


class WhatsAppOutput(ConnectorOutput):
    channel_name = parsing.CHANNEL


class WhatsAppInput(MessagingConnector[WhatsAppSettings]):
    """Inbound: POST /webhooks/whatsapp/webhook (messages), /webhooks/whatsapp/status
    (status callbacks). Outbound: Twilio's Messages API from the configured sender."""

    output_class = WhatsAppOutput
    section = "whatsapp"
    # Twilio's SDK blocks.
    blocking_threads = 16

    @property
    def status_callback_url(self) -> str:
        return f"{self.runtime.public_url}/webhooks/{self.name()}/status"

    def missing_settings(self) -> list[str]:
        return missing(
            [
                ("TWILIO_ACCOUNT_SID", self.config.account_sid),
                ("TWILIO_AUTH_TOKEN", self.config.auth_token),
                ("TWILIO_WHATSAPP_FROM", self.config.whatsapp_from),
            ]
        )

    def public_request_url(self, request: Request) -> str:
        """The URL Twilio called: PUBLIC_URL + path, whatever a proxy forwarded us to."""
        query = f"?{request.query_string}" if request.query_string else ""
        return f"{self.runtime.public_url}{request.path}{query}"

    def verify(self, request: Request) -> bool:
        try:
            params = parsing.parse_form(request.body)
        except ValueError:
            return False
        signature = request.headers.get("X-Twilio-Signature", "")
        return parsing.signature_valid(
            self.config.auth_token, self.public_request_url(request), params, signature
        )

    def parse(self, request: Request) -> ParsedWebhook:
        return parsing.parse_webhook(parsing.parse_form(request.body), self._clock())

    def acknowledge(self) -> HTTPResponse:
        # Empty TwiML: Twilio sends nothing itself; replies go out through the API.
        return response.text("<Response/>", content_type="text/xml")

    def add_routes(self, blueprint: Blueprint, on_new_message: OnNewMessage) -> None:
        @blueprint.route("/status", methods=["POST"])
        async def status_callback(request: Request) -> HTTPResponse:
            return await self.receive(request, on_new_message)

    def render(self, message: OutboundMessage) -> Rendered:
        return rendering.render(message)

    @cached_property
    def twilio(self) -> TwilioWhatsApp:
        return TwilioWhatsApp(
            self.config.account_sid,
            self.config.auth_token,
            self.config.whatsapp_from,
            api_base_url=self.config.api_base_url,
            status_callback=self.status_callback_url,
        )

    async def transmit(self, external_id: str, request: ProviderRequest) -> str | None:
        return await self.in_thread(self.twilio.send, external_id, request)

    async def reconcile(
        self, external_id: str, request: ProviderRequest, since: datetime
    ) -> list[str]:
        """After a send timed out: the messages Twilio created for it (see `find_sent`)."""
        return await self.in_thread(self.twilio.find_sent, external_id, request, since)

    @property
    def sender(self) -> Sender:
        # Twilio can be asked whether a timed-out send went out, so it is not sent blindly
        # again (channels/core/sending.py).
        if self._sender is None:
            self._sender = Sender(
                self.name(), self.store, self.transmit, self.runtime.retry,
                reconcile=self.reconcile,
            )  # fmt: skip
        return self._sender

    async def deliver(
        self,
        external_id: str,
        message: OutboundMessage,
        *,
        inbound_id: int | None,
        origin: str | None = None,
    ) -> None:
        """Like the base, but each request first passes WhatsApp's 24-hour rule. `origin`
        (who caused the message, e.g. "handoff:<delivery id>"; by default the one
        `ChannelOutput` set for this response, `current_origin()`) is recorded on every send
        and blocked message, the template sent instead included."""
        if origin is None:
            origin = current_origin()
        name = self.name()
        rendered = self.render(message)
        if rendered.choices:
            await asyncio.to_thread(self.store.offer_choices, name, external_id, rendered.choices)
        for request in rendered.requests:
            window = await asyncio.to_thread(self.store.window, name, external_id)
            action = window_action(
                window.last_inbound_at,
                window.template_sent_at,
                self._clock(),
                template_configured=bool(self.config.template_content_sid),
            )
            if action is WindowAction.SEND:
                await self.sender.send(external_id, request, inbound_id=inbound_id, origin=origin)
            elif action is WindowAction.TEMPLATE:
                sid = self.config.template_content_sid
                await self.sender.record_blocked(
                    external_id, request,
                    f"outside WhatsApp's 24-hour window; template {sid} sent instead",
                    inbound_id=inbound_id, origin=origin,
                )  # fmt: skip
                result = await self.sender.send(
                    external_id, template_request(sid, request), inbound_id=inbound_id,
                    origin=origin,
                )  # fmt: skip
                if result.status == "sent":
                    await asyncio.to_thread(self.store.mark_template_sent, name, external_id)
            else:
                reason = (
                    "outside WhatsApp's 24-hour window and the template was already sent; "
                    "waiting for the shopper to write"
                    if self.config.template_content_sid
                    else "outside WhatsApp's 24-hour window and no template configured "
                    "(TWILIO_TEMPLATE_CONTENT_SID)"
                )
                await self.sender.record_blocked(
                    external_id, request, reason, inbound_id=inbound_id, origin=origin
                )
