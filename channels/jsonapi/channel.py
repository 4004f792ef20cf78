"""``channels.jsonapi.JsonApiInput``: shopper messages as plain JSON, for trusted callers.

Rasa's REST channel (`rest:`) answers anyone and takes any sender id, so anyone who can reach
it speaks as any shopper: posting `{"sender": "whatsapp:+14155550123", ...}` continued the
WhatsApp conversation of that number, verified order included. This replaces it for the
callers that need a synchronous JSON turn (the test suite, scripts, a back-office tool):

    POST /webhooks/jsonapi/webhook
    Authorization: Bearer <JSON_API_SECRET>
    {"sender": "crm-4711", "message": "where is my order", "metadata": {...}}
    → 200 [{"recipient_id": "crm-4711", "text": "..."}, ...]     (Rasa's REST answer)

- off (503) until `secret` (JSON_API_SECRET) is set; 401 without the secret;
- its conversations are its own: a sender id of another channel (any id with a ":", a web
  chat session id) is refused (403), and so is a conversation whose tracker holds messages
  from another channel (403); the input channel is always `jsonapi` (Rasa's `input_channel`
  field is refused), so actions never take these messages for a WhatsApp number or a
  Telegram chat;
- texts go through channels.core.inbound_text: blank or over-long messages are answered
  here and never reach the NLU.

It is not meant to be public: the README's reverse-proxy configuration does not forward it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.core.events import UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.settings import process_settings
from channels.core.channel import webhook_blueprint
from channels.core.inbound_text import screen_text
from channels.core.messages import PayloadError
from channels.jsonapi.parsing import Forbidden, authorized, parse_request

logger = logging.getLogger(__name__)

SECRET_VARIABLE = "JSON_API_SECRET"

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


async def _foreign_channel(agent: Any, sender: str, own: str) -> str | None:
    """The other input channel this conversation already has messages from, if any."""
    store = getattr(agent, "tracker_store", None)
    if store is None:
        return None
    # All sessions, not just the latest: an old WhatsApp session is still that shopper's.
    retrieve = getattr(store, "retrieve_full_tracker", None) or store.retrieve
    tracker = await retrieve(sender)
    if tracker is None:
        return None
    for event in tracker.events:
        if isinstance(event, UserUttered) and event.input_channel not in (None, own):
            return str(event.input_channel)
    return None


class JsonApiInput(InputChannel):
    """Synchronous JSON turns, behind a shared secret (see the module docstring)."""

    @classmethod
    def name(cls) -> str:
        return "jsonapi"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        # The setting, unless the credentials.yml entry names a secret of its own.
        secret = (credentials or {}).get("secret") or process_settings().json_api.secret
        return cls(secret=str(secret))

    def __init__(self, secret: str = "") -> None:
        self.secret = secret

    def missing_settings(self) -> list[str]:
        return [] if self.secret else [SECRET_VARIABLE]

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        return webhook_blueprint(self, on_new_message)

    async def receive(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        name = self.name()
        if self.missing_settings():
            logger.error("%s: called but off (set %s)", name, SECRET_VARIABLE)
            return response.json(
                {"error": f"the JSON API is off: set {SECRET_VARIABLE}"}, status=503
            )
        if not authorized(request.headers.get("authorization"), self.secret):
            logger.warning("%s: refused a call from %s without the secret", name, request.ip)
            return response.json(
                {"error": f"send Authorization: Bearer <{SECRET_VARIABLE}>"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="relaydesk"'},
            )
        try:
            message = parse_request(request.json)
        except Forbidden as error:
            logger.warning("%s: refused a message for another channel: %s", name, error)
            return response.json({"error": str(error)}, status=403)
        except PayloadError as error:
            return response.json({"error": f"malformed request: {error}"}, status=400)
        except Exception:  # Sanic's request.json raises on a body that is not JSON
            return response.json({"error": "malformed request: the body is not JSON"}, status=400)

        agent = getattr(request.app.ctx, "agent", None)
        foreign = await _foreign_channel(agent, message.sender, name)
        if foreign is not None:
            logger.warning(
                "%s: refused sender %r: a %s conversation", name, message.sender, foreign
            )
            return response.json(
                {"error": f"this sender id is a conversation of the {foreign} channel"},
                status=403,
            )

        text, reply = screen_text(message.text)
        if reply is not None:
            return response.json([{"recipient_id": message.sender, "text": reply}])
        collector = CollectingOutputChannel()
        try:
            await on_new_message(
                UserMessage(
                    text,
                    collector,
                    message.sender,
                    input_channel=name,
                    metadata=message.metadata,
                )
            )
        except Exception:
            logger.exception("%s: processing a message from %r failed", name, message.sender)
            return response.json({"error": "the assistant failed on this message"}, status=500)
        return response.json(collector.messages)
