"""Bot responses → Bot API calls: HTML-escaped text, inline keyboards, photos. Pure."""

from __future__ import annotations

import html
from typing import Any

from channels.core.messages import (
    CHOICE_TOKEN_PREFIX,
    Button,
    OutboundMessage,
    ProviderRequest,
    Rendered,
)
from channels.core.text import MARKDOWN_LINK, split_text

MAX_TEXT = 4096
MAX_CAPTION = 1024
#: Telegram's limit for callback_data, in bytes.
MAX_CALLBACK_DATA = 64


def to_html(text: str) -> str:
    """Plain text for parse_mode=HTML: <, > and & escaped, so "Q&A <3" arrives as typed;
    Markdown links [label](https://...) become real links."""
    parts: list[str] = []
    position = 0
    for match in MARKDOWN_LINK.finditer(text):
        parts.append(html.escape(text[position : match.start()], quote=False))
        label = html.escape(match.group(1), quote=False)
        parts.append(f'<a href="{html.escape(match.group(2), quote=True)}">{label}</a>')
        position = match.end()
    parts.append(html.escape(text[position:], quote=False))
    return "".join(parts)


def callback_data(button: Button, index: int) -> str:
    """The payload itself when it fits in 64 bytes, else a token for option `index`."""
    if len(button.payload.encode("utf-8")) <= MAX_CALLBACK_DATA:
        return button.payload
    return f"{CHOICE_TOKEN_PREFIX}{index}"


def inline_keyboard(buttons: tuple[Button, ...]) -> dict[str, Any]:
    # One button per row: titles like "Yes, a person please" do not fit side by side.
    rows = [
        [{"text": button.title, "callback_data": callback_data(button, index)}]
        for index, button in enumerate(buttons, start=1)
    ]
    return {"inline_keyboard": rows}


def render(message: OutboundMessage) -> Rendered:
    """Text (split at sentence boundaries) with the keyboard on its last part, then photos.

    A response may carry a Telegram-specific variant as `custom: {telegram: {text,
    parse_mode, reply_markup}}` (sendMessage parameters); it replaces the rest.
    """
    if message.custom and message.custom.get("text"):
        return Rendered([ProviderRequest("custom", dict(message.custom))])
    text = message.text
    if message.buttons and not (text and text.strip()):
        text = "Please choose:"  # a keyboard needs a message to hang from
    requests: list[ProviderRequest] = []
    chunks = split_text(text, MAX_TEXT) if text else []
    for index, chunk in enumerate(chunks):
        params: dict[str, Any] = {"text": to_html(chunk), "parse_mode": "HTML"}
        if message.buttons and index == len(chunks) - 1:
            params["reply_markup"] = inline_keyboard(message.buttons)
        requests.append(ProviderRequest("text", params))
    if message.image_url:
        requests.append(ProviderRequest("photo", {"photo": message.image_url}))
    # Long payloads travel as tokens, resolved against the choices remembered here.
    needs_tokens = any(
        callback_data(b, i) != b.payload for i, b in enumerate(message.buttons, start=1)
    )
    return Rendered(requests, message.buttons if needs_tokens else ())
