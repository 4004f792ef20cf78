"""python-telegram-bot's `Bot`, pointed at a configurable Bot API base URL."""

from __future__ import annotations

import re
import warnings
from datetime import timedelta
from typing import Any

import httpx
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
    TimedOut,
)
from telegram.request import HTTPXRequest

from channels.core.messages import ProviderRequest
from channels.core.sending import ProviderError

DEFAULT_API_BASE_URL = "https://api.telegram.org"
#: Seconds to wait for the Bot API's answer. A send that times out is not repeated: the Bot API
#: cannot be asked whether it went out (docs/channels.md).
READ_TIMEOUT = 10.0
# httpx failures before the request was fully sent: repeating cannot duplicate a message.
_NEVER_SENT = (
    httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout,
    httpx.WriteError, httpx.WriteTimeout,
)  # fmt: skip
_RETRY_AFTER_TEXT = re.compile(r"retry after (\d+)", re.IGNORECASE)


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
            read_timeout=READ_TIMEOUT,
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
        except NetworkError as error:  # 5xx, 429 without parameters, timeouts, connections
            raise _network_error(error) from error
        except TelegramError as error:
            raise ProviderError(f"{type(error).__name__}: {error}", retryable=False) from error
        return str(message.message_id)


def _network_error(error: NetworkError) -> ProviderError:
    cause = error.__cause__
    detail = f"{type(error).__name__}: {error}"
    if isinstance(cause, _NEVER_SENT):
        return ProviderError(f"{detail} ({type(cause).__name__}: not sent)", retryable=True)
    if isinstance(cause, httpx.HTTPError) or isinstance(error, TimedOut):
        # Read timeout, connection dropped before the answer: Telegram may have sent it.
        return ProviderError(
            f"{detail} ({type(cause).__name__}; the message may have been sent)",
            retryable=True,
            outcome_unknown=True,
        )
    # The Bot API answered with an error status (5xx; a 429 whose retry_after is only in the
    # description).
    found = _RETRY_AFTER_TEXT.search(str(error))
    status = 429 if found else None
    return ProviderError(
        detail, retryable=True, status=status, retry_after=float(found[1]) if found else None
    )
