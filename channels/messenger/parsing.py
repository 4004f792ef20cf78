"""Messenger Platform webhooks → our shapes, the signature and the handshake checks. Pure."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from channels.core.messages import Attachment, InboundMessage, ParsedWebhook, PayloadError

CHANNEL = "messenger"
SIGNATURE_PREFIX = "sha256="


def signature_valid(app_secret: str, body: bytes, header: str) -> bool:
    """X-Hub-Signature-256: "sha256=" + hex HMAC-SHA256 of the raw body with the app secret."""
    if not app_secret or not header.startswith(SIGNATURE_PREFIX):
        return False
    expected = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix(SIGNATURE_PREFIX).strip().lower())


def handshake_challenge(args: Mapping[str, str], verify_token: str) -> str | None:
    """hub.challenge to echo if this is Facebook subscribing with our verify token."""
    token = args.get("hub.verify_token", "")
    if (
        verify_token
        and args.get("hub.mode") == "subscribe"
        and hmac.compare_digest(token.encode("utf-8"), verify_token.encode("utf-8"))
    ):
        return args.get("hub.challenge", "")
    return None


def _sender_id(event: Mapping[str, Any]) -> str:
    sender = event.get("sender")
    sender_id = sender.get("id") if isinstance(sender, Mapping) else None
    if not isinstance(sender_id, str | int) or isinstance(sender_id, bool) or sender_id == "":
        raise PayloadError("a messaging event has no sender.id")
    return str(sender_id)


def _attachments(raw: Any) -> tuple[Attachment, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise PayloadError("message.attachments is not a list")
    attachments = []
    for item in raw:
        if not isinstance(item, Mapping) or not isinstance(item.get("type"), str):
            raise PayloadError("an attachment has no type")
        payload = item.get("payload") if isinstance(item.get("payload"), Mapping) else {}
        url = payload.get("url")
        coordinates = payload.get("coordinates")
        if item["type"] == "location" and isinstance(coordinates, Mapping):
            url = f"geo:{coordinates.get('lat')},{coordinates.get('long')}"
        attachments.append(Attachment(item["type"], str(url) if url else None))
    return tuple(attachments)


def _event_id(event: Mapping[str, Any]) -> str:
    """Stable id for events without a mid (older postbacks): a redelivery is byte-identical."""
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"))
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
            provider_message_id=mid,
            received_at=received_at,
            text=text if isinstance(text, str) else None,
            payload=str(payload) if payload else None,
            attachments=_attachments(message.get("attachments")),
        )
    postback = event.get("postback")
    if isinstance(postback, Mapping):
        payload = postback.get("payload")
        mid = postback.get("mid")
        return InboundMessage(
            channel=CHANNEL,
            sender_id=sender_id,
            provider_message_id=mid if isinstance(mid, str) and mid else _event_id(event),
            received_at=received_at,
            text=str(postback.get("title") or "") or None,
            payload=str(payload) if payload else None,
        )
    if "message" in event or "postback" in event:
        raise PayloadError("message/postback is not an object")
    return None  # delivery, read, optin, account_linking, reaction, ...: nothing to answer


def parse_webhook(body: bytes, received_at: datetime) -> ParsedWebhook:
    """Every messaging item of every entry; several may arrive batched in one POST."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise PayloadError(f"body is not JSON: {error}") from error
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
