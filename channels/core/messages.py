"""The two shapes every connector translates to and from.

`InboundMessage` is what a provider's webhook becomes after parsing; `OutboundMessage` is one
bot response (Rasa's response dict) before a channel renders it into provider requests.
Pure data: no I/O, no provider SDKs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

# Re-exported: the connectors and channels.core take their clock default from here.
from bot.domain.clock import utc_now as utc_now

#: Callback data standing for "option N of the latest offered choices" (Telegram limits
#: callback data to 64 bytes, so long payloads travel as this token instead).
CHOICE_TOKEN_PREFIX = "#choice:"
#: Separates the channel from the provider's id in Rasa conversation ids ("telegram:42").
CONVERSATION_SEPARATOR = ":"


def conversation_id(channel: str, external_id: str) -> str:
    """The Rasa sender id of a shopper on a channel.

    Qualified with the channel because provider ids are only unique within their provider: a
    Telegram chat id and a Messenger PSID are both plain numbers, and two shoppers sharing one
    tracker would share its verified-customer slots.
    """
    return f"{channel}{CONVERSATION_SEPARATOR}{external_id}"


def external_id_of(channel: str, sender_id: str) -> str:
    """Inverse of `conversation_id`; unqualified ids (e.g. from Rasa's HTTP API) pass through."""
    return sender_id.removeprefix(f"{channel}{CONVERSATION_SEPARATOR}")


@dataclass(frozen=True)
class Attachment:
    #: "image", "video", "audio", "file", "location", "sticker", ...
    kind: str
    #: Where to fetch it. Provider URLs may need the channel's credentials (Twilio media).
    url: str | None = None
    content_type: str | None = None
    #: Provider handle when there is no URL without secrets in it (Telegram file_id).
    provider_file_id: str | None = None


@dataclass(frozen=True)
class InboundMessage:
    channel: str
    #: The provider's stable id of the shopper: WhatsApp number (E.164), PSID, Telegram chat id.
    sender_id: str
    #: The delivery's id, the deduplication key: MessageSid, message mid, update_id.
    provider_message_id: str
    received_at: datetime
    text: str | None = None
    #: Button / quick reply / postback / callback data, sent to Rasa instead of the text.
    payload: str | None = None
    attachments: tuple[Attachment, ...] = ()
    profile_name: str | None = None
    #: The provider's id of the message itself when it differs from the delivery id
    #: (Telegram message_id), so later edits can find it.
    message_ref: str | None = None
    #: Set on an edit: the `message_ref` of the message it corrects.
    corrects: str | None = None
    #: Telegram callback query id, answered so the client's spinner stops.
    callback_id: str | None = None

    @property
    def conversation_id(self) -> str:
        return conversation_id(self.channel, self.sender_id)

    def rasa_text(self) -> str:
        """What Rasa sees: a payload wins over the text it came with (it is what was chosen);
        an attachment without a caption is represented by its URL, as Rasa's own channels do."""
        if self.payload:
            return self.payload
        if self.text and self.text.strip():
            return self.text
        for attachment in self.attachments:
            return attachment.url or f"[{attachment.kind}]"
        return ""

    def rasa_metadata(self) -> dict[str, Any]:
        """Stored with the user event in the tracker, where actions read attachments from."""
        metadata: dict[str, Any] = {
            "channel": self.channel,
            "sender_id": self.sender_id,
            "provider_message_id": self.provider_message_id,
            "attachments": [
                {k: v for k, v in asdict(a).items() if v is not None} for a in self.attachments
            ],
        }
        optional = {
            "profile_name": self.profile_name,
            "message_ref": self.message_ref,
            "corrects": self.corrects,
            "text": self.text if self.payload else None,
        }
        metadata.update({key: value for key, value in optional.items() if value is not None})
        return metadata

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["received_at"] = self.received_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InboundMessage:
        values = dict(data)
        values["received_at"] = datetime.fromisoformat(values["received_at"])
        values["attachments"] = tuple(Attachment(**a) for a in values.get("attachments") or ())
        return cls(**values)


@dataclass(frozen=True)
class Button:
    title: str
    payload: str

    @classmethod
    def from_rasa(cls, button: Mapping[str, Any]) -> Button:
        title = str(button.get("title") or button.get("payload") or "")
        return cls(title=title, payload=str(button.get("payload") or title))


@dataclass(frozen=True)
class OutboundMessage:
    """One bot response, as far as our channels can show it."""

    text: str | None = None
    buttons: tuple[Button, ...] = ()
    image_url: str | None = None
    #: `custom` payload for this channel (see `from_rasa`), sent as-is by channels that can.
    custom: Mapping[str, Any] | None = None

    @classmethod
    def from_rasa(cls, message: Mapping[str, Any], channel: str) -> OutboundMessage:
        """From the dict Rasa hands to `OutputChannel.send_response`.

        `buttons` and `quick_replies` are the same thing to a shopper. A `custom` payload is
        taken when it is keyed by this channel's name (`custom: {telegram: {...}}`), so one
        response can carry a provider-specific message for the channel that needs it.
        """
        buttons: Sequence[Mapping[str, Any]] = (
            message.get("buttons") or message.get("quick_replies") or ()
        )
        custom = message.get("custom")
        channel_custom = custom.get(channel) if isinstance(custom, Mapping) else None
        attachment = message.get("attachment")
        image = message.get("image")
        if not image and isinstance(attachment, Mapping) and attachment.get("type") == "image":
            image = (attachment.get("payload") or {}).get("src")
        return cls(
            text=message.get("text") or None,
            buttons=tuple(Button.from_rasa(b) for b in buttons if isinstance(b, Mapping)),
            image_url=str(image) if image else None,
            custom=channel_custom if isinstance(channel_custom, Mapping) else None,
        )

    @property
    def is_empty(self) -> bool:
        return not (self.text or self.buttons or self.image_url or self.custom)


class PayloadError(ValueError):
    """The webhook body is not what the provider sends; answered with 400."""


@dataclass(frozen=True)
class StatusReport:
    """A provider's delivery report about a message we sent (Twilio status callback)."""

    provider_message_id: str
    status: str
    error_code: str | None = None


@dataclass(frozen=True)
class ParsedWebhook:
    messages: list[InboundMessage] = field(default_factory=list)
    statuses: list[StatusReport] = field(default_factory=list)
    #: Events deliberately skipped (echoes, reads, ...), for the log.
    ignored: int = 0


@dataclass(frozen=True)
class ProviderRequest:
    """One call to a provider's send API, in the provider's own terms."""

    #: "text", "image", "template", ... (recorded as the outbound message's kind).
    kind: str
    #: JSON-serialisable parameters; recorded as sent, so never put credentials here.
    params: dict[str, Any]


@dataclass(frozen=True)
class Rendered:
    """A bot response in provider terms, plus the choices a typed reply may pick from."""

    requests: list[ProviderRequest]
    choices: tuple[Button, ...] = ()
