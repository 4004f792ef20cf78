"""python-telegram-bot's `Bot`, pointed at a configurable Bot API base URL."""

from __future__ import annotations

import warnings
from datetime import timedelta
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest

from channels.core.messages import ProviderRequest
from channels.core.sending import ProviderError

DEFAULT_API_BASE_URL = "https://api.telegram.org"


def reply_markup(markup: dict[str, Any] | None) -> InlineKeyboardMarkup | None:
    if not markup:
        return None
    rows = [
        [
            InlineKeyboardButton(
                str(button["text"]),
                callback_data=button.get("callback_data"),
                url=button.get("url"),
            )
            for button in row
        ]
        for row in markup.get("inline_keyboard", [])
    ]
    return InlineKeyboardMarkup(rows)


def _seconds(value: int | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramBotApi:
    def __init__(self, token: str, base_url: str = DEFAULT_API_BASE_URL) -> None:
        base = base_url.rstrip("/")
        # PTB's default pool is a handful of connections; replies to many chats go out at once.
        request = HTTPXRequest(
            connection_pool_size=64,
            connect_timeout=5.0,
            read_timeout=10.0,
            write_timeout=10.0,
            pool_timeout=5.0,
        )
        self.bot = Bot(
            token, base_url=f"{base}/bot", base_file_url=f"{base}/file/bot", request=request
        )

    async def send(self, chat_id: str, request: ProviderRequest) -> str | None:
        params = request.params
        try:
            if request.kind == "answer_callback":
                await self.bot.answer_callback_query(
                    params["callback_query_id"], text=params.get("text")
                )
                return None
            message: Message
            if request.kind == "photo":
                message = await self.bot.send_photo(
                    chat_id, photo=params["photo"], caption=params.get("caption")
                )
            else:
                message = await self.bot.send_message(
                    chat_id,
                    text=params["text"],
                    parse_mode=params.get("parse_mode"),
                    reply_markup=reply_markup(params.get("reply_markup")),
                )
        except RetryAfter as error:
            with warnings.catch_warnings():  # PTB 22 warns about the int/timedelta switch
                warnings.simplefilter("ignore")
                retry_after = _seconds(error.retry_after)
            raise ProviderError(
                str(error), retryable=True, status=429, retry_after=retry_after
            ) from error
        except (BadRequest, Forbidden, InvalidToken, ChatMigrated, Conflict) as error:
            # Checked before NetworkError: BadRequest is one. Sending again would fail again.
            raise ProviderError(f"{type(error).__name__}: {error}", retryable=False) from error
        except NetworkError as error:  # 5xx, timeouts, connection errors
            raise ProviderError(f"{type(error).__name__}: {error}", retryable=True) from error
        except TelegramError as error:
            raise ProviderError(f"{type(error).__name__}: {error}", retryable=False) from error
        return str(message.message_id)
