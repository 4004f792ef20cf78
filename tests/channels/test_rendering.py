"""Rendering bot responses for each provider, WhatsApp's 24-hour rule and the internal message
shapes. Pure: no HTTP, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from channels.core.messages import (
    Button,
    InboundMessage,
    OutboundMessage,
    ProviderRequest,
    conversation_id,
    external_id_of,
)
from channels.core.text import utf16_len
from channels.messenger.rendering import render as render_messenger
from channels.telegram.rendering import render as render_telegram
from channels.telegram.rendering import to_html
from channels.whatsapp.rendering import WindowAction, template_request, window_action
from channels.whatsapp.rendering import render as render_whatsapp

CHANNELS = ["whatsapp", "messenger", "telegram"]
MENU = (Button("Track my order", "/track_order"), Button("Talk to a person", "/human"))
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


# ------------------------------------------------------------------ shapes


def test_conversation_ids_are_channel_qualified_and_reversible() -> None:
    assert conversation_id("telegram", "42") == "telegram:42"
    assert external_id_of("telegram", "telegram:42") == "42"
    assert external_id_of("whatsapp", "whatsapp:+14155550123") == "+14155550123"
    assert external_id_of("telegram", "42") == "42"  # e.g. given bare to Rasa's API


@pytest.mark.parametrize(
    ("rasa", "expected"),
    [
        ({"text": "Hi"}, OutboundMessage(text="Hi")),
        ({"text": "Hi", "buttons": [{"title": "A", "payload": "/a"}]},
         OutboundMessage(text="Hi", buttons=(Button("A", "/a"),))),
        ({"text": "Hi", "quick_replies": [{"title": "A", "payload": "/a"}]},
         OutboundMessage(text="Hi", buttons=(Button("A", "/a"),))),
        ({"image": "https://x/p.png"}, OutboundMessage(image_url="https://x/p.png")),
        ({"attachment": {"type": "image", "payload": {"src": "https://x/p.png"}}},
         OutboundMessage(image_url="https://x/p.png")),
        ({"custom": {"telegram": {"text": "t"}}}, OutboundMessage(custom={"text": "t"})),
        ({"custom": {"messenger": {"text": "m"}}}, OutboundMessage()),  # another channel's
        ({"text": "", "elements": [{"title": "card"}]}, OutboundMessage()),
    ],
)  # fmt: skip
def test_outbound_from_rasa(rasa: dict, expected: OutboundMessage) -> None:
    assert OutboundMessage.from_rasa(rasa, "telegram") == expected


def test_inbound_round_trips_through_json_and_prefers_the_payload() -> None:
    message = InboundMessage(
        "messenger", "123", "mid.1", NOW, text="Track my order", payload="/track_order"
    )
    assert InboundMessage.from_json(message.to_json()) == message
    assert message.rasa_text() == "/track_order"
    assert message.rasa_metadata()["text"] == "Track my order"  # what the shopper saw
    assert message.conversation_id == "messenger:123"


# ------------------------------------------------------------------ WhatsApp


def test_whatsapp_buttons_become_a_numbered_list_and_choices() -> None:
    rendered = render_whatsapp(OutboundMessage(text="Hello!", buttons=MENU))

    assert rendered.requests == [
        ProviderRequest("text", {"body": "Hello!\n\n1. Track my order\n2. Talk to a person\n\n"
                                         "Reply with a number (1-2)."}),
    ]  # fmt: skip
    assert rendered.choices == MENU


def test_whatsapp_long_text_is_split_and_the_image_sent_as_media() -> None:
    text = "This sentence is forty characters long. " * 60  # 2,400 characters
    rendered = render_whatsapp(OutboundMessage(text=text, image_url="https://x/p.png"))

    *texts, image = rendered.requests
    assert [utf16_len(r.params["body"]) <= 1600 for r in texts] == [True, True]
    assert all(r.params["body"].endswith(".") for r in texts)
    assert image == ProviderRequest("image", {"media_url": ["https://x/p.png"]})


def test_whatsapp_markdown_links_are_spelled_out() -> None:
    rendered = render_whatsapp(OutboundMessage(text="[Track it](https://ups.example/1Z)"))
    assert rendered.requests[0].params["body"] == "Track it (https://ups.example/1Z)"


def test_whatsapp_specific_variant_is_sent_as_content() -> None:
    custom = {"content_sid": "HX123", "content_variables": {"1": "10023"}}
    rendered = render_whatsapp(OutboundMessage(text="ignored", custom=custom))
    assert rendered.requests == [ProviderRequest("content", custom)]


@pytest.mark.parametrize(
    ("last_inbound", "template_sent", "configured", "expected"),
    [
        (NOW - timedelta(hours=1), None, True, WindowAction.SEND),
        (NOW - timedelta(hours=23, minutes=59), None, False, WindowAction.SEND),
        (NOW - timedelta(hours=24), None, True, WindowAction.TEMPLATE),  # exactly 24 h: closed
        (NOW - timedelta(days=3), None, True, WindowAction.TEMPLATE),
        (NOW - timedelta(days=3), None, False, WindowAction.BLOCK),
        (None, None, True, WindowAction.TEMPLATE),  # never wrote to us
        (None, NOW - timedelta(hours=1), True, WindowAction.BLOCK),
        # A template already re-opened the conversation since the shopper last wrote: wait.
        (NOW - timedelta(days=3), NOW - timedelta(days=1), True, WindowAction.BLOCK),
        # The template was for an older silence; this is a new one.
        (NOW - timedelta(days=3), NOW - timedelta(days=4), True, WindowAction.TEMPLATE),
    ],
)
def test_whatsapp_24_hour_window(
    last_inbound: datetime | None,
    template_sent: datetime | None,
    configured: bool,
    expected: WindowAction,
) -> None:
    action = window_action(last_inbound, template_sent, NOW, template_configured=configured)
    assert action is expected


def test_whatsapp_template_carries_the_start_of_the_withheld_message() -> None:
    withheld = ProviderRequest("text", {"body": "Your refund was issued. " * 20})
    template = template_request("HX1", withheld)
    assert template.kind == "template" and template.params["content_sid"] == "HX1"
    summary = template.params["content_variables"]["1"]
    assert len(summary) <= 250 and summary.endswith("issued.")
    assert template_request("HX1", ProviderRequest("image", {"media_url": ["u"]})).params[
        "content_variables"
    ] == {"1": "-"}  # Twilio refuses empty variables


# ------------------------------------------------------------------ Messenger


def test_messenger_quick_replies() -> None:
    rendered = render_messenger(OutboundMessage(text="Hello!", buttons=MENU))

    assert rendered.requests == [
        ProviderRequest("text", {"message": {"text": "Hello!", "quick_replies": [
            {"content_type": "text", "title": "Track my order", "payload": "/track_order"},
            {"content_type": "text", "title": "Talk to a person", "payload": "/human"},
        ]}}),
    ]  # fmt: skip
    assert rendered.choices == ()


@pytest.mark.parametrize(
    "buttons",
    [
        tuple(Button(f"Option {i}", f"/o{i}") for i in range(14)),  # more than 13
        (Button("Yes, a person please right away", "/human"),),  # title over 20 characters
    ],
)
def test_messenger_falls_back_to_a_numbered_list(buttons: tuple[Button, ...]) -> None:
    rendered = render_messenger(OutboundMessage(text="Pick one", buttons=buttons))

    [request] = rendered.requests
    assert "quick_replies" not in request.params["message"]
    assert f"1. {buttons[0].title}" in request.params["message"]["text"]
    assert rendered.choices == buttons


def test_messenger_thirteen_short_buttons_still_fit() -> None:
    buttons = tuple(Button(f"Option {i}", f"/o{i}") for i in range(13))
    [request] = render_messenger(OutboundMessage(text="Pick", buttons=buttons)).requests
    assert len(request.params["message"]["quick_replies"]) == 13


def test_messenger_long_text_carries_quick_replies_on_its_last_part_then_image() -> None:
    text = "Here is a long sentence for you. " * 80  # 2,640 characters
    rendered = render_messenger(OutboundMessage(text=text, buttons=MENU, image_url="https://i"))

    first, last, image = rendered.requests
    assert "quick_replies" not in first.params["message"]
    assert len(last.params["message"]["quick_replies"]) == 2
    assert all(utf16_len(r.params["message"]["text"]) <= 2000 for r in (first, last))
    assert image.params["message"]["attachment"]["payload"]["url"] == "https://i"


# ------------------------------------------------------------------ Telegram


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("Q&A <3", "Q&amp;A &lt;3"),
        ("<b>not bold</b>", "&lt;b&gt;not bold&lt;/b&gt;"),
        ("Say \"hi\" it's fine", "Say \"hi\" it's fine"),
        ("See [our policy](https://x.example/r?a=1&b=2) now",
         'See <a href="https://x.example/r?a=1&amp;b=2">our policy</a> now'),
        ("[<evil>](https://x.example/\"onclick)", '<a href="https://x.example/&quot;onclick">'
                                                  "&lt;evil&gt;</a>"),
        ("*not markdown* _either_", "*not markdown* _either_"),
    ],
)  # fmt: skip
def test_telegram_html_escaping(text: str, html: str) -> None:
    assert to_html(text) == html


def test_telegram_inline_keyboard_one_button_per_row() -> None:
    [request] = render_telegram(OutboundMessage(text="Hello!", buttons=MENU)).requests

    assert request.params == {
        "text": "Hello!",
        "parse_mode": "HTML",
        "reply_markup": {"inline_keyboard": [
            [{"text": "Track my order", "callback_data": "/track_order"}],
            [{"text": "Talk to a person", "callback_data": "/human"}],
        ]},
    }  # fmt: skip


def test_telegram_payloads_over_64_bytes_become_tokens_backed_by_choices() -> None:
    long = Button(
        "Order 10023", '/inform{"order_number":"10023","contact":"ava@example.com",' + '"x":1}'
    )
    buttons = (MENU[0], long)
    rendered = render_telegram(OutboundMessage(text="Which?", buttons=buttons))

    keyboard = rendered.requests[0].params["reply_markup"]["inline_keyboard"]
    assert [row[0]["callback_data"] for row in keyboard] == ["/track_order", "#choice:2"]
    assert rendered.choices == buttons
    assert render_telegram(OutboundMessage(text="Which?", buttons=MENU)).choices == ()


def test_telegram_split_photo_and_keyboard_without_text() -> None:
    text = "Telegram allows long messages but not endless ones. " * 100  # 5,200 characters
    rendered = render_telegram(OutboundMessage(text=text, image_url="https://x/p.png"))
    first, second, photo = rendered.requests
    assert len(first.params["text"]) <= 4096 and len(second.params["text"]) <= 4096
    assert photo == ProviderRequest("photo", {"photo": "https://x/p.png"})

    [keyboard_only] = render_telegram(OutboundMessage(buttons=MENU)).requests
    assert keyboard_only.params["text"] and "reply_markup" in keyboard_only.params


# ------------------------------------------------------------------ channel-specific responses


@pytest.mark.parametrize("channel", CHANNELS)
def test_rasa_picks_the_channels_own_response_variant(channel: str) -> None:
    """Rasa matches a variation's `channel:` against the output channel's name()."""
    from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator

    from channels.messenger.channel import MessengerOutput
    from channels.telegram.channel import TelegramOutput
    from channels.whatsapp.channel import WhatsAppOutput

    outputs = {"whatsapp": WhatsAppOutput, "messenger": MessengerOutput, "telegram": TelegramOutput}
    responses = {
        "utter_where": [
            {"text": "Everyone else"},
            {"text": "Only on WhatsApp", "channel": "whatsapp"},
            {"text": "Only on Messenger", "channel": "messenger"},
            {"text": "Only on Telegram", "channel": "telegram"},
        ]
    }
    generator = TemplatedNaturalLanguageGenerator(responses)

    generated = generator.generate_from_slots("utter_where", {}, outputs[channel].name())

    assert generated is not None
    assert generated["text"] == responses["utter_where"][CHANNELS.index(channel) + 1]["text"]
