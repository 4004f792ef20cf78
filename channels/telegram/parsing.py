"""Telegram webhook updates (parsed with python-telegram-bot's `Update`) → our shapes. Pure."""

from __future__ import annotations

import hmac
import json
from datetime import datetime

from telegram import Message, Update

from channels.core.messages import Attachment, InboundMessage, ParsedWebhook, PayloadError

CHANNEL = "telegram"


def secret_valid(configured: str, header: str) -> bool:
    """X-Telegram-Bot-Api-Secret-Token must be the secret_token given to setWebhook."""
    return bool(configured) and hmac.compare_digest(
        header.encode("utf-8"), configured.encode("utf-8")
    )


def _attachments(message: Message) -> tuple[Attachment, ...]:
    # No URLs: Telegram file URLs contain the bot token. Actions fetch files with getFile.
    found: list[Attachment] = []
    if message.photo:
        largest = message.photo[-1]  # sizes come smallest first
        found.append(Attachment("image", provider_file_id=largest.file_id))
    if message.document:
        found.append(
            Attachment(
                "file",
                content_type=message.document.mime_type,
                provider_file_id=message.document.file_id,
            )
        )
    for kind, media in (
        ("video", message.video),
        ("audio", message.audio or message.voice),
        ("sticker", message.sticker),
    ):
        if media is not None:
            found.append(Attachment(kind, provider_file_id=media.file_id))
    if message.location:
        location = message.location
        found.append(Attachment("location", url=f"geo:{location.latitude},{location.longitude}"))
    return tuple(found)


def parse_update(body: bytes, received_at: datetime) -> ParsedWebhook:
    """A message, an edit (a correction of that message) or a button tap (callback query)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise PayloadError(f"body is not JSON: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        raise PayloadError("not a Telegram Update (no integer update_id)")
    try:
        update = Update.de_json(data, None)
    except (TypeError, KeyError, ValueError, AttributeError) as error:
        raise PayloadError(f"not a valid Telegram Update: {error}") from error
    if update is None:
        raise PayloadError("empty Telegram Update")
    update_id = str(update.update_id)

    edited = update.edited_message is not None
    message = update.message or update.edited_message
    if message is not None:
        user = message.from_user
        text = message.text or message.caption
        return ParsedWebhook(
            messages=[
                InboundMessage(
                    channel=CHANNEL,
                    sender_id=str(message.chat.id),
                    provider_message_id=update_id,
                    received_at=received_at,
                    text=text,
                    attachments=_attachments(message),
                    profile_name=user.full_name if user else None,
                    message_ref=str(message.message_id),
                    corrects=str(message.message_id) if edited else None,
                )
            ]
        )
    query = update.callback_query
    if query is not None:
        if not query.data:  # a game button: nothing for the assistant
            return ParsedWebhook(ignored=1)
        chat = query.message.chat.id if query.message is not None else query.from_user.id
        return ParsedWebhook(
            messages=[
                InboundMessage(
                    channel=CHANNEL,
                    sender_id=str(chat),
                    provider_message_id=update_id,
                    received_at=received_at,
                    payload=query.data,
                    profile_name=query.from_user.full_name,
                    callback_id=query.id,
                )
            ]
        )
    return ParsedWebhook(ignored=1)  # channel posts, member updates, polls, ...
