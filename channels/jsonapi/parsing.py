"""The JSON endpoint's requests → our shapes, and its credential check. Pure.

A request is Rasa's REST channel format, `{"sender": "...", "message": "...", "metadata":
{...}}`, sent with `Authorization: Bearer <JSON_API_SECRET>`. Unlike Rasa's REST channel it
cannot choose its input channel, and its sender ids cannot be another channel's
conversation ids (see `check_sender`).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from channels.core.messages import CONVERSATION_SEPARATOR, PayloadError

#: Sender ids of this endpoint: letters, digits and . _ @ + -, at most 128 characters.
SENDER_RE = re.compile(r"^[A-Za-z0-9+][A-Za-z0-9._@+-]{0,127}$")
#: The shape of the web chat's session ids (channels.webchat.channel.SESSION_ID_RE): the web
#: chat's conversations are not prefixed, so this endpoint refuses ids it could have issued.
WEBCHAT_SESSION_RE = re.compile(r"^[0-9a-f]{32}$")


class Forbidden(ValueError):
    """A well-formed request for a conversation this endpoint must not address (403)."""


@dataclass(frozen=True)
class JsonApiMessage:
    sender: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


def authorized(header: str | None, secret: str) -> bool:
    """`Authorization: Bearer <secret>`, compared in constant time. No secret: nobody."""
    if not secret or not header:
        return False
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(token.strip().encode(), secret.encode())


def check_sender(sender: Any) -> str:
    """The sender id if this endpoint may speak for it.

    Other channels' conversations are refused (Forbidden): the provider connectors' ids
    carry their channel ("whatsapp:+14155550123", "telegram:42"), so no id with a ":" is
    accepted, and the web chat's are 32 lowercase hex digits. Anything else malformed is a
    PayloadError.
    """
    if not isinstance(sender, str) or not sender:
        raise PayloadError('"sender" must be a non-empty string')
    if CONVERSATION_SEPARATOR in sender:
        raise Forbidden(
            f"sender ids containing {CONVERSATION_SEPARATOR!r} belong to other channels' "
            "conversations (whatsapp:, messenger:, telegram:, ...)"
        )
    if WEBCHAT_SESSION_RE.match(sender):
        raise Forbidden("sender ids of 32 hex digits are web chat sessions")
    if not SENDER_RE.match(sender):
        raise PayloadError(
            '"sender" must be 1-128 letters, digits or . _ @ + - (not starting with . _ @ or -)'
        )
    return sender


def parse_request(body: Any) -> JsonApiMessage:
    """The request body (already decoded from JSON) as a message, or PayloadError/Forbidden."""
    if not isinstance(body, Mapping):
        raise PayloadError("the body must be a JSON object")
    if "input_channel" in body:
        # Rasa's REST channel lets the caller name any channel, and actions trust the input
        # channel to identify the shopper (a WhatsApp number is proof of that number).
        raise Forbidden('"input_channel" cannot be chosen: this endpoint is its own channel')
    sender = check_sender(body.get("sender"))
    text = body.get("message")
    if not isinstance(text, str):
        raise PayloadError('"message" must be a string')
    metadata = body.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, Mapping):
        raise PayloadError('"metadata" must be a JSON object')
    return JsonApiMessage(sender=sender, text=text, metadata=dict(metadata))
