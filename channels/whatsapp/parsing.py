"""Twilio's WhatsApp webhooks (form-encoded) → our shapes, and the signature check. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import parse_qs

from twilio.request_validator import RequestValidator

from channels.core.messages import (
    Attachment,
    InboundMessage,
    ParsedWebhook,
    PayloadError,
    StatusReport,
)
from channels.core.text import display_name, identifier

CHANNEL = "whatsapp"
ADDRESS_PREFIX = "whatsapp:"
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
# Twilio's message statuses are lower-case words ("queued", "delivered", "partially_delivered").
_STATUS = re.compile(r"[a-z_-]{1,32}")
# Twilio's own limit; more would be a forged or broken request.
MAX_MEDIA = 10


class FormParams(dict[str, list[str]]):
    """Form fields with every value kept: Twilio signs repeated keys value by value, and
    `RequestValidator` reads them through `getlist` (as it does Django's QueryDict)."""

    def getlist(self, key: str) -> list[str]:
        return list(self.get(key, []))

    def first(self, key: str) -> str:
        values = self.get(key)
        return values[0] if values else ""


def parse_form(body: bytes) -> FormParams:
    """The form body with blank values kept (Twilio signs `Body=` too)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PayloadError("body is not UTF-8 form data") from error
    return FormParams(parse_qs(text, keep_blank_values=True))


def signature_valid(
    auth_token: str, url: str, params: Mapping[str, list[str]], signature: str
) -> bool:
    """X-Twilio-Signature check: base64 HMAC-SHA1 over the public URL and the sorted fields.

    `url` must be the URL Twilio called (the public one, not what a proxy forwarded to).
    """
    if not signature or not auth_token:
        return False
    return bool(RequestValidator(auth_token).validate(url, FormParams(params), signature))


def _attachment_kind(content_type: str) -> str:
    major = content_type.split("/", 1)[0].lower()
    return major if major in ("image", "video", "audio") else "file"


def parse_webhook(params: FormParams, received_at: datetime) -> ParsedWebhook:
    """An inbound message or a status callback (`MessageStatus` set) as Twilio posts them."""
    sid = params.first("MessageSid") or params.first("SmsMessageSid")
    if not sid:
        raise PayloadError("MessageSid is missing")
    sid = identifier(sid, "MessageSid")
    status = params.first("MessageStatus")
    if status:
        status = status.lower()
        if not _STATUS.fullmatch(status):
            raise PayloadError(f"MessageStatus is not a Twilio status: {status[:40]!r}")
        error_code = params.first("ErrorCode") or None
        if error_code is not None:
            error_code = identifier(error_code, "ErrorCode", limit=32)
        return ParsedWebhook(statuses=[StatusReport(sid, status, error_code)])

    sender = params.first("From")
    number = sender.removeprefix(ADDRESS_PREFIX)
    if not sender.startswith(ADDRESS_PREFIX) or not _E164.fullmatch(number):
        raise PayloadError(f"From is not a WhatsApp address (whatsapp:+<E.164>): {sender!r}")
    count = params.first("NumMedia") or "0"
    if not count.isascii() or not count.isdigit() or len(count) > 2:
        raise PayloadError(f"NumMedia is not a number: {count[:20]!r}")
    media_count = int(count)
    if not 0 <= media_count <= MAX_MEDIA:
        raise PayloadError(f"NumMedia out of range: {media_count}")
    attachments: list[Attachment] = []
    for index in range(media_count):
        url = params.first(f"MediaUrl{index}")
        if not url:
            raise PayloadError(f"MediaUrl{index} is missing although NumMedia={media_count}")
        content_type = params.first(f"MediaContentType{index}") or "application/octet-stream"
        attachments.append(Attachment(_attachment_kind(content_type), url, content_type))
    latitude, longitude = params.first("Latitude"), params.first("Longitude")
    if latitude and longitude:
        attachments.append(Attachment("location", f"geo:{latitude},{longitude}"))

    message = InboundMessage(
        channel=CHANNEL,
        sender_id=number,
        provider_message_id=sid,
        received_at=received_at,
        text=params.first("Body") or None,
        # Set when the shopper taps a quick-reply button of a template or interactive message.
        payload=params.first("ButtonPayload") or None,
        attachments=tuple(attachments),
        profile_name=display_name(params.first("ProfileName")),
    )
    return ParsedWebhook(messages=[message])
