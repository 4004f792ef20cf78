"""Bot responses → Twilio Messages API requests, and WhatsApp's 24-hour rule. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from channels.core.messages import OutboundMessage, ProviderRequest, Rendered
from channels.core.text import numbered_list, plain_links, split_text

#: Twilio's limit for a WhatsApp message body.
MAX_BODY = 1600
#: WhatsApp's customer-service window: free-form messages only this long after the shopper's
#: last message; after it, only approved templates.
SERVICE_WINDOW = timedelta(hours=24)
#: Twilio recommends template variables under 250 characters.
MAX_TEMPLATE_VARIABLE = 250


def render(message: OutboundMessage) -> Rendered:
    """Text (buttons as a numbered list, split at sentence boundaries), then the image.

    A response may carry a WhatsApp-specific variant as `custom: {whatsapp: {content_sid,
    content_variables}}` (an approved template or interactive message); it replaces the rest.
    """
    if message.custom and message.custom.get("content_sid"):
        params = {
            "content_sid": str(message.custom["content_sid"]),
            "content_variables": dict(message.custom.get("content_variables") or {}),
        }
        return Rendered([ProviderRequest("content", params)])
    requests: list[ProviderRequest] = []
    text = plain_links(message.text) if message.text else None
    if message.buttons:
        text = numbered_list(text, message.buttons)
    for chunk in split_text(text, MAX_BODY) if text else []:
        requests.append(ProviderRequest("text", {"body": chunk}))
    if message.image_url:
        requests.append(ProviderRequest("image", {"media_url": [message.image_url]}))
    return Rendered(requests, choices=message.buttons)


class WindowAction(StrEnum):
    SEND = "send"
    #: Send the approved template instead, to ask the shopper to re-open the conversation.
    TEMPLATE = "template"
    BLOCK = "block"


def window_action(
    last_inbound_at: datetime | None,
    template_sent_at: datetime | None,
    now: datetime,
    *,
    template_configured: bool,
) -> WindowAction:
    """What WhatsApp allows for a free-form message to this shopper right now.

    Inside 24 hours of their last message: anything. Outside: the template, once, until they
    write again (more templates would be spam, and WhatsApp rates senders on it); without a
    template nothing at all.
    """
    if last_inbound_at is not None and now - last_inbound_at < SERVICE_WINDOW:
        return WindowAction.SEND
    if not template_configured:
        return WindowAction.BLOCK
    already_reopened = template_sent_at is not None and (
        last_inbound_at is None or template_sent_at >= last_inbound_at
    )
    return WindowAction.BLOCK if already_reopened else WindowAction.TEMPLATE


def template_request(content_sid: str, withheld: ProviderRequest) -> ProviderRequest:
    """The template that stands in for `withheld`; its variable {{1}} gets the message's start."""
    body = str(withheld.params.get("body") or "")
    summary = split_text(body, MAX_TEMPLATE_VARIABLE)[0] if body.strip() else "-"
    return ProviderRequest(
        "template", {"content_sid": content_sid, "content_variables": {"1": summary}}
    )
