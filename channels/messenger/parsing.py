"""Messenger Platform webhooks → our shapes, the signature and the handshake checks. Pure.

Every field read is checked for the type Meta sends; anything else (a wrong type, a missing
id, nesting deeper than Python's recursion limit, text that is not valid Unicode) is a
`PayloadError` (400), never an exception escaping to the server (500).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from channels.core.messages import Attachment, InboundMessage, ParsedWebhook, PayloadError
from channels.core.text import identifier, optional_text

CHANNEL = "messenger"
SIGNATURE_PREFIX = "sha256="


def signature_valid(app_secret: str, body: bytes, header: str) -> bool:
    """X-Hub-Signature-256: "sha256=" + hex HMAC-SHA256 of the raw body with the app secret."""
    if not app_secret or not header.startswith(SIGNATURE_PREFIX):
        return False
    expected = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    given = header.removeprefix(SIGNATURE_PREFIX).strip().lower()
    # As bytes: compare_digest refuses str with non-ASCII characters (a forged header).
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogateescape"))


def handshake_challenge(args: Mapping[str, str], verify_token: str) -> str | None:
    """hub.challenge to echo if this is Facebook subscribing with our verify token."""
    token = args.get("hub.verify_token", "")
    if (
        verify_token
        and args.get("hub.mode") == "subscribe"
        and hmac.compare_digest(
            token.encode("utf-8", "surrogateescape"), verify_token.encode("utf-8")
        )
    ):
        return args.get("hub.challenge", "")
    return None


def _sender_id(event: Mapping[str, Any]) -> str:
    sender = event.get("sender")
    sender_id = sender.get("id") if isinstance(sender, Mapping) else None
    if sender_id is None:
        raise PayloadError("a messaging event has no sender.id")
    return identifier(sender_id, "sender.id")


def _payload(value: Any, what: str) -> str | None:
    """A quick reply's or postback's payload: a string (numbers are taken as text)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return optional_text(value, what)


def _attachments(raw: Any) -> tuple[Attachment, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise PayloadError("message.attachments is not a list")
    attachments = []
    for item in raw:
        if not isinstance(item, Mapping) or not isinstance(item.get("type"), str):
            raise PayloadError("an attachment has no type")
        kind = identifier(item["type"], "attachment type", limit=32)
        raw_payload = item.get("payload")
        payload: Mapping[str, Any] = raw_payload if isinstance(raw_payload, Mapping) else {}
        url = payload.get("url")
        url = optional_text(url, "attachment url") if isinstance(url, str) and url else None
        coordinates = payload.get("coordinates")
        if kind == "location" and isinstance(coordinates, Mapping):
            lat, long = coordinates.get("lat"), coordinates.get("long")
            if not all(_is_number(value) for value in (lat, long)):
                raise PayloadError("location coordinates are not numbers")
            url = f"geo:{lat},{long}"
        attachments.append(Attachment(kind, url))
    return tuple(attachments)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _event_id(event: Mapping[str, Any]) -> str:
    """Stable id for events without a mid (older postbacks): a redelivery is byte-identical."""
    try:
        canonical = json.dumps(event, sort_keys=True, separators=(",", ":"))
    except (ValueError, RecursionError) as error:
        raise PayloadError("a postback event cannot be read") from error
    return "event-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:40]


def _message(event: Mapping[str, Any], received_at: datetime) -> InboundMessage | None:
    sender_id = _sender_id(event)
    message = event.get("message")
    if isinstance(message, Mapping):
        if message.get("is_echo"):  # our own message, mirrored back by Meta
            return None
        mid = message.get("mid")
        if not isinstance(mid, str) or not mid:
            raise PayloadError("a message has no mid")
        quick_reply = message.get("quick_reply")
        payload = quick_reply.get("payload") if isinstance(quick_reply, Mapping) else None
        text = message.get("text")
        return InboundMessage(
            channel=CHANNEL,
            sender_id=sender_id,
            provider_message_id=identifier(mid, "message.mid"),
            received_at=received_at,
            text=optional_text(text, "message.text") if isinstance(text, str) else None,
            payload=_payload(payload, "quick_reply.payload"),
            attachments=_attachments(message.get("attachments")),
        )
    postback = event.get("postback")
    if isinstance(postback, Mapping):
        mid = postback.get("mid")
        title = postback.get("title")
        has_mid = isinstance(mid, str) and mid
        return InboundMessage(
            channel=CHANNEL,
            sender_id=sender_id,
            provider_message_id=identifier(mid, "postback.mid") if has_mid else _event_id(event),
            received_at=received_at,
            text=_payload(title, "postback.title"),
            payload=_payload(postback.get("payload"), "postback.payload"),
        )
    if "message" in event or "postback" in event:
        raise PayloadError("message/postback is not an object")
    return None  # delivery, read, optin, account_linking, reaction, ...: nothing to answer


def parse_webhook(body: bytes, received_at: datetime) -> ParsedWebhook:
    """Every messaging item of every entry; several may arrive batched in one POST."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise PayloadError(f"body is not JSON: {str(error)[:200]}") from error
    if not isinstance(data, Mapping) or data.get("object") != "page":
        raise PayloadError('not a Page webhook (expected {"object": "page", ...})')
    entries = data.get("entry")
    if not isinstance(entries, list):
        raise PayloadError("entry is missing or not a list")
    messages: list[InboundMessage] = []
    ignored = 0
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise PayloadError("an entry is not an object")
        events = entry.get("messaging", [])
        if not isinstance(events, list):
            raise PayloadError("entry.messaging is not a list")
        for event in events:
            if not isinstance(event, Mapping):
                raise PayloadError("a messaging event is not an object")
            message = _message(event, received_at)
            if message is None:
                ignored += 1
            else:
                messages.append(message)
    return ParsedWebhook(messages=messages, ignored=ignored)
