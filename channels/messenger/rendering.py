"""Bot responses → Send API message objects. Pure."""

from __future__ import annotations

from typing import Any

from channels.core.messages import Button, OutboundMessage, ProviderRequest, Rendered
from channels.core.text import numbered_list, plain_links, split_text, utf16_len

MAX_TEXT = 2000
MAX_QUICK_REPLIES = 13
MAX_QUICK_REPLY_TITLE = 20
MAX_QUICK_REPLY_PAYLOAD = 1000


def quick_replies_fit(buttons: tuple[Button, ...]) -> bool:
    """Messenger shows at most 13 quick replies with titles of at most 20 characters."""
    return 0 < len(buttons) <= MAX_QUICK_REPLIES and all(
        utf16_len(b.title) <= MAX_QUICK_REPLY_TITLE
        and 0 < utf16_len(b.payload) <= MAX_QUICK_REPLY_PAYLOAD
        for b in buttons
    )


def render(message: OutboundMessage) -> Rendered:
    """Text with quick replies on its last part, or a numbered list when they do not fit.

    A response may carry a Messenger-specific variant as `custom: {messenger: <Send API
    message object>}` (a template, say); it replaces the rest.
    """
    if message.custom:
        return Rendered([ProviderRequest("custom", {"message": dict(message.custom)})])
    text = plain_links(message.text) if message.text else None
    quick_replies: list[dict[str, Any]] = []
    choices: tuple[Button, ...] = ()
    if message.buttons and text and quick_replies_fit(message.buttons):
        quick_replies = [
            {"content_type": "text", "title": b.title, "payload": b.payload}
            for b in message.buttons
        ]
    elif message.buttons:
        text = numbered_list(text, message.buttons)
        choices = message.buttons
    requests: list[ProviderRequest] = []
    chunks = split_text(text, MAX_TEXT) if text else []
    for index, chunk in enumerate(chunks):
        body: dict[str, Any] = {"text": chunk}
        if quick_replies and index == len(chunks) - 1:
            body["quick_replies"] = quick_replies
        requests.append(ProviderRequest("text", {"message": body}))
    if message.image_url:
        attachment = {"type": "image", "payload": {"url": message.image_url, "is_reusable": True}}
        requests.append(ProviderRequest("image", {"message": {"attachment": attachment}}))
    return Rendered(requests, choices)
