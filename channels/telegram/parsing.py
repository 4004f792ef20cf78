"""Telegram webhook updates (parsed with python-telegram-bot's `Update`) → our shapes. Pure.

PTB builds its objects without checking types (a `chat` missing from a message becomes
`message.chat is None`, a list where a string belongs stays a list), so the parts of the update
we read are checked first, on the raw JSON: anything that is not what the Bot API sends is a
`PayloadError` (400), never an exception escaping to the server (500).
"""

from __future__ import annotations

import hmac
import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from telegram import Message, Update

from channels.core.messages import Attachment, InboundMessage, ParsedWebhook, PayloadError
from channels.core.text import display_name, identifier, optional_text

CHANNEL = "telegram"
#: Telegram's ids (update, chat, user, message) fit in a signed 64-bit integer.
_MAX_ID = 2**63
_MEDIA = ("document", "video", "audio", "voice", "sticker")


def secret_valid(configured: str, header: str) -> bool:
    """X-Telegram-Bot-Api-Secret-Token must be the secret_token given to setWebhook."""
    # surrogateescape: the server hands over undecodable header bytes as lone surrogates.
    return bool(configured) and hmac.compare_digest(
        header.encode("utf-8", "surrogateescape"), configured.encode("utf-8")
    )


# ---------------------------------------------------------------------- shape checks


def _integer(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -_MAX_ID < value < _MAX_ID:
        raise PayloadError(f"{what} is not a 64-bit integer")
    return value


def _object(value: Any, what: str, *, optional: bool = False) -> Mapping[str, Any] | None:
    if value is None and optional:
        return None
    if not isinstance(value, Mapping):
        raise PayloadError(f"{what} is not an object")
    return value


def _check_user(value: Any, what: str, *, optional: bool) -> None:
    user = _object(value, what, optional=optional)
    if user is None:
        return
    _integer(user.get("id"), f"{what}.id")
    optional_text(user.get("first_name"), f"{what}.first_name")
    optional_text(user.get("last_name"), f"{what}.last_name")


def _check_file(value: Any, what: str) -> None:
    media = _object(value, what)
    assert media is not None
    identifier(media.get("file_id"), f"{what}.file_id", limit=1000)
    optional_text(media.get("mime_type"), f"{what}.mime_type")


def _check_message(value: Any, what: str) -> None:
    message = _object(value, what)
    assert message is not None
    _integer(message.get("message_id"), f"{what}.message_id")
    chat = _object(message.get("chat"), f"{what}.chat")
    assert chat is not None
    _integer(chat.get("id"), f"{what}.chat.id")
    _check_user(message.get("from"), f"{what}.from", optional=True)
    optional_text(message.get("text"), f"{what}.text")
    optional_text(message.get("caption"), f"{what}.caption")
    photo = message.get("photo")
    if photo is not None:
        if not isinstance(photo, list) or not photo:
            raise PayloadError(f"{what}.photo is not a non-empty list")
        for index, size in enumerate(photo):
            _check_file(size, f"{what}.photo[{index}]")
    for kind in _MEDIA:
        if message.get(kind) is not None:
            _check_file(message[kind], f"{what}.{kind}")
    location = _object(message.get("location"), f"{what}.location", optional=True)
    if location is not None:
        for axis in ("latitude", "longitude"):
            number = location.get(axis)
            if (
                isinstance(number, bool)
                or not isinstance(number, int | float)
                or not (math.isfinite(number))
            ):
                raise PayloadError(f"{what}.location.{axis} is not a number")


def _check_update(data: Mapping[str, Any]) -> None:
    """The parts of an update `parse_update` reads are what the Bot API sends."""
    update_id = _integer(data.get("update_id"), "update_id")
    if update_id < 0:
        raise PayloadError("update_id is negative")
    for key in ("message", "edited_message"):
        if data.get(key) is not None:
            _check_message(data[key], key)
    if data.get("message") is None and data.get("edited_message") is None:
        query = _object(data.get("callback_query"), "callback_query", optional=True)
        if query is not None:
            identifier(query.get("id"), "callback_query.id")
            _check_user(query.get("from"), "callback_query.from", optional=False)
            optional_text(query.get("data"), "callback_query.data")
            inner = _object(query.get("message"), "callback_query.message", optional=True)
            if inner is not None:
                chat = _object(inner.get("chat"), "callback_query.message.chat")
                assert chat is not None
                _integer(chat.get("id"), "callback_query.message.chat.id")


# ---------------------------------------------------------------------- parsing


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


def _load(body: bytes) -> Update:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise PayloadError(f"body is not JSON: {str(error)[:200]}") from error
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        raise PayloadError("not a Telegram Update (no integer update_id)")
    _check_update(data)
    try:
        update = Update.de_json(data, None)
    except Exception as error:  # PTB on input it does not expect: any failure means malformed
        detail = f"{type(error).__name__}: {error}"[:200]
        raise PayloadError(f"not a valid Telegram Update: {detail}") from error
    if update is None:
        raise PayloadError("empty Telegram Update")
    return update


def parse_update(body: bytes, received_at: datetime) -> ParsedWebhook:
    """A message, an edit (a correction of that message) or a button tap (callback query)."""
    update = _load(body)
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
                    profile_name=display_name(user.full_name) if user else None,
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
                    profile_name=display_name(query.from_user.full_name),
                    callback_id=query.id,
                )
            ]
        )
    return ParsedWebhook(ignored=1)  # channel posts, member updates, polls, ...
