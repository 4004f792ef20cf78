"""Every connector through real HTTP, with a scripted bot in place of Rasa (no model needed):
signatures, malformed payloads, fast acknowledgement, deduplication, buttons, media, retries,
provider outages, recovery after a restart. Runs once per channel where the behaviour is
common; provider specifics are at the end."""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import update

from bot.store.channel_models import ChannelConversation, InboundStatus
from channels.core.messages import InboundMessage, utc_now
from channels.messenger.channel import MessengerConfig, MessengerInput
from channels.telegram.channel import STALE_CHOICE_NOTICE, TelegramConfig, TelegramInput
from channels.whatsapp.channel import WhatsAppConfig, WhatsAppInput
from tests.channels.conftest import MENU, Harness, eventually
from tests.channels.drivers import MessengerDriver, TelegramDriver, WhatsAppDriver
from tests.channels.fake_providers import GRAPH, TELEGRAM, TWILIO

# ------------------------------------------------------------------ common to every channel


def test_a_message_reaches_the_bot_and_the_reply_the_provider(harness: Harness) -> None:
    sender = harness.driver.new_sender()

    answer = harness.post(harness.driver.message(sender, "where is my order"))

    assert answer.status_code == 200
    [message] = harness.received_from(sender)
    assert message.text == "where is my order"
    assert message.sender_id == f"{harness.name}:{sender}"  # channel-qualified conversation
    assert message.input_channel == harness.name
    [reply] = harness.replies(sender)
    assert reply.text == "echo: where is my order"
    eventually(lambda: harness.inbound(sender)[0].status == InboundStatus.PROCESSED)
    [sent] = harness.outbound(sender)
    assert (sent.status, sent.attempts, sent.provider_message_id) == (
        "sent", 1, reply.provider_id,
    )  # fmt: skip


def test_forged_or_missing_signature_is_refused(harness: Harness) -> None:
    sender = harness.driver.new_sender()
    delivery = harness.driver.message(sender, "hi")

    assert harness.post(delivery.forged()).status_code == 403
    assert harness.post(delivery.unsigned()).status_code == 403

    time.sleep(0.2)
    assert harness.bot.received == [] and harness.inbound() == []
    assert harness.fake.sent(recipient=sender) == []


def test_a_malformed_payload_is_refused_with_400(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    answer = harness.post(harness.driver.malformed(harness.driver.new_sender()))

    assert answer.status_code == 400
    assert "malformed payload" in answer.json()["error"]
    assert f"{harness.name}: refused a malformed webhook payload (400)" in caplog.text
    assert harness.bot.received == [] and harness.inbound() == []


def test_a_body_that_is_not_the_providers_format_is_a_400(harness: Harness) -> None:
    garbage = harness.driver.message(harness.driver.new_sender(), "hi")
    if isinstance(harness.driver, WhatsAppDriver):  # Twilio signs fields, not the body
        body = harness.driver._sign(harness.driver.path, {"Body": "no sid, no sender"})
    elif isinstance(harness.driver, MessengerDriver):
        body = harness.driver.sign({"object": "page", "entry": "not a list"})
    else:
        body = harness.driver.sign({"message": "no update_id"})
    assert harness.post(body).status_code == 400
    assert harness.post(type(garbage)(garbage.path, b"{", garbage.headers)).status_code in (
        400, 403,  # Messenger's signature covers the body, so a changed body is forged
    )  # fmt: skip


def test_the_webhook_answers_at_once_while_the_bot_is_slow(harness: Harness) -> None:
    sender = harness.driver.new_sender()

    started = time.perf_counter()
    answer = harness.post(harness.driver.message(sender, "slow"))
    elapsed = time.perf_counter() - started

    assert answer.status_code == 200
    assert elapsed < 0.5, f"the webhook took {elapsed:.2f}s; the bot takes 3s"
    assert harness.replies(sender, timeout=10)[0].text == "echo: slow"


def test_a_crashing_bot_is_recorded_and_never_reaches_the_provider(harness: Harness) -> None:
    sender = harness.driver.new_sender()

    assert harness.post(harness.driver.message(sender, "crash")).status_code == 200

    [row] = eventually(lambda: [r for r in harness.inbound(sender) if r.status == "failed"])
    assert "the assistant crashed" in (row.error or "")
    # The server is fine: the next message is answered.
    harness.post(harness.driver.message(sender, "still there?"))
    assert harness.replies(sender)[0].text == "echo: still there?"


def test_a_redelivery_is_answered_once(harness: Harness) -> None:
    sender = harness.driver.new_sender()
    delivery = harness.driver.message(sender, "hello", provider_id=_provider_id(harness))

    assert harness.post(delivery).status_code == 200
    harness.replies(sender)
    assert harness.post(delivery).status_code == 200  # providers retry; we acknowledge

    time.sleep(0.5)
    assert len(harness.fake.sent(harness.driver.provider, sender)) == 1
    assert len(harness.bot.received) == 1 and len(harness.inbound(sender)) == 1


def test_concurrent_duplicates_are_answered_once(harness: Harness) -> None:
    sender = harness.driver.new_sender()
    delivery = harness.driver.message(sender, "hello", provider_id=_provider_id(harness))

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: harness.post(delivery).status_code, range(8)))

    assert statuses == [200] * 8
    harness.replies(sender)
    time.sleep(0.5)
    assert len(harness.fake.sent(harness.driver.provider, sender)) == 1
    assert len(harness.inbound(sender)) == 1


def test_buttons_round_trip(harness: Harness) -> None:
    sender = harness.driver.new_sender()
    harness.post(harness.driver.message(sender, "menu"))
    [offer] = harness.replies(sender)
    _assert_menu_rendered(harness.name, offer.params)

    harness.post(harness.driver.choose(sender, 2, "Talk to a person", "/contact_human_agent"))

    chosen = harness.received_from(sender, 2)[1]
    assert chosen.text == "/contact_human_agent"


def _assert_menu_rendered(channel: str, params: dict[str, Any]) -> None:
    if channel == "whatsapp":  # a numbered list
        assert params["Body"] == (
            "What can I do for you?\n\n1. Track my order\n2. Talk to a person\n\n"
            "Reply with a number (1-2)."
        )
    elif channel == "messenger":  # quick replies
        assert params["message"] == {
            "text": "What can I do for you?",
            "quick_replies": [
                {"content_type": "text", "title": b["title"], "payload": b["payload"]} for b in MENU
            ],
        }
    else:  # an inline keyboard
        assert params["text"] == "What can I do for you?" and params["parse_mode"] == "HTML"
        assert params["reply_markup"] == {
            "inline_keyboard": [[{"text": b["title"], "callback_data": b["payload"]}] for b in MENU]
        }


def test_inbound_media_reaches_the_bot_as_an_attachment(harness: Harness) -> None:
    sender = harness.driver.new_sender()
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"

    assert harness.post(harness.driver.media(sender, url)).status_code == 200

    [message] = harness.received_from(sender)
    [attachment] = message.metadata["attachments"]
    assert attachment["kind"] == "image"
    if harness.name == "telegram":  # the largest size; no URL (it would contain the token)
        assert attachment["provider_file_id"] == "large-file-id" and "url" not in attachment
        assert message.text == "the damaged zip"
    else:
        assert attachment["url"] == url and message.text == url


def test_images_go_out_as_media(harness: Harness) -> None:
    sender = harness.driver.new_sender()
    harness.post(harness.driver.message(sender, "picture"))

    [sent] = harness.replies(sender)

    if harness.name == "whatsapp":
        assert sent.params["MediaUrl"] == ["https://example.com/parka.png"]
    elif harness.name == "messenger":
        assert sent.params["message"]["attachment"] == {
            "type": "image",
            "payload": {"url": "https://example.com/parka.png", "is_reusable": True},
        }
    else:
        assert (sent.method, sent.params["photo"]) == ("sendPhoto", "https://example.com/parka.png")


def test_a_provider_500_is_retried_and_delivered_once(harness: Harness) -> None:
    sender = harness.driver.new_sender()
    harness.fake.fail_next(harness.driver.provider, 1, status=500)

    harness.post(harness.driver.message(sender, "hello"))

    harness.replies(sender)
    time.sleep(0.3)
    attempts = harness.fake.sent(recipient=sender, ok_only=False)
    assert [r.status for r in attempts] == [500, 200 if harness.name != "whatsapp" else 201]
    [row] = harness.outbound(sender)
    assert (row.status, row.attempts) == ("sent", 2)
    assert "500" in (row.last_error or "")


def test_a_provider_outage_is_recorded_logged_and_survived(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    sender = harness.driver.new_sender()
    harness.fake.fail_next(harness.driver.provider, 4, status=503)

    assert harness.post(harness.driver.message(sender, "hello")).status_code == 200

    [row] = eventually(lambda: [r for r in harness.outbound(sender) if r.status == "failed"])
    assert row.attempts == 4 and "503" in (row.last_error or "")
    assert f"{harness.name}: gave up sending text message #{row.id}" in caplog.text
    # The shopper's message itself was handled; the server keeps serving.
    eventually(lambda: harness.inbound(sender)[0].status == "processed")
    harness.post(harness.driver.message(sender, "again"))
    assert harness.replies(sender)[0].text == "echo: again"


def test_a_permanent_provider_error_is_not_retried(harness: Harness) -> None:
    sender = harness.driver.new_sender()
    harness.fake.fail_next(harness.driver.provider, 1, status=400)

    harness.post(harness.driver.message(sender, "hello"))

    [row] = eventually(lambda: [r for r in harness.outbound(sender) if r.status == "failed"])
    assert row.attempts == 1


def test_unfinished_deliveries_are_processed_at_start_up(
    harness: Harness, make_harness: Any
) -> None:
    # A delivery acknowledged by a process that stopped before handing it on.
    sender = harness.driver.new_sender()
    message = InboundMessage(
        channel=harness.name,
        sender_id=sender,
        provider_message_id=f"lost-{sender}",
        received_at=utc_now() - timedelta(seconds=5),
        text="are you there?",
    )
    assert harness.channel.store.accept(message) is not None

    restarted = make_harness(harness.name)

    assert restarted.replies(sender)[0].text == "echo: are you there?"
    eventually(lambda: [r.status for r in restarted.inbound(sender)] == ["processed"])


def test_an_unconfigured_channel_answers_503_and_says_what_is_missing(
    harness: Harness, make_harness: Any
) -> None:
    configs = {
        "whatsapp": (WhatsAppInput, WhatsAppConfig(), "TWILIO_ACCOUNT_SID"),
        "messenger": (MessengerInput, MessengerConfig(), "MESSENGER_APP_SECRET"),
        "telegram": (TelegramInput, TelegramConfig(), "TELEGRAM_BOT_TOKEN"),
    }
    channel_class, empty, variable = configs[harness.name]
    idle = make_harness(harness.name, channel_class(empty, harness.channel.runtime))

    answer = idle.post(idle.driver.message(idle.driver.new_sender(), "hi"))

    assert answer.status_code == 503
    assert variable in answer.json()["error"]
    status = requests.get(f"{idle.base_url}/webhooks/{idle.name}/", timeout=5).json()
    assert status["status"] == "unconfigured" and variable in status["missing"]
    assert harness.channel.get_output_channel() is not None
    assert idle.channel.get_output_channel() is None


def _provider_id(harness: Harness) -> str:
    if harness.name == "telegram":
        return str(int(time.time() * 1000) % 10**9 + 10**9)
    return f"dup-{time.time_ns()}"


# ------------------------------------------------------------------ WhatsApp


def test_whatsapp_numbered_reply_by_title_and_plain_numbers_elsewhere(make_harness: Any) -> None:
    h = make_harness("whatsapp")
    sender = h.driver.new_sender()
    h.post(h.driver.message(sender, "menu"))
    h.replies(sender)

    h.post(h.driver.message(sender, "track my order"))  # the option's text works too
    h.post(h.driver.message(sender, "2"))  # the choices were used up by the reply before

    messages = h.received_from(sender, 3)
    assert [m.text for m in messages] == ["menu", "/track_order", "2"]
    assert messages[1].metadata["text"] == "track my order"


def test_whatsapp_long_replies_are_split_at_sentences(make_harness: Any) -> None:
    h = make_harness("whatsapp")
    sender = h.driver.new_sender()
    sentence = "Your parcel is on its way and should arrive soon. "
    long_text = (sentence * 40).strip()  # 2,039 characters

    h.run(h.channel.get_output_channel().send_text_message(f"whatsapp:{sender}", long_text))

    # No message from the shopper yet: outside the 24-hour window, so the template goes out.
    [template] = h.replies(sender)
    assert template.params["ContentSid"] == h.fake.credentials.twilio_template_content_sid
    h.post(h.driver.message(sender, "hi"))
    h.replies(sender, 2)
    h.run(h.channel.get_output_channel().send_text_message(f"whatsapp:{sender}", long_text))
    sent = h.replies(sender, 4)[2:]
    bodies = [r.params["Body"] for r in sent]
    assert all(len(b) <= 1600 and b.endswith(".") for b in bodies)
    assert " ".join(bodies) == long_text


def test_whatsapp_status_callbacks_are_recorded_against_the_message(make_harness: Any) -> None:
    h = make_harness("whatsapp")
    driver: WhatsAppDriver = h.driver
    sender = driver.new_sender()
    h.post(driver.message(sender, "hello"))
    [reply] = h.replies(sender)

    for status in ("sent", "read", "delivered"):  # Twilio posts them concurrently
        answer = h.post(driver.status_callback(reply.provider_id, status, sender))
        assert answer.status_code == 200

    [row] = h.outbound(sender)
    assert row.delivery_status == "read"  # a late "delivered" does not undo "read"
    failed = driver.status_callback(reply.provider_id, "failed", sender)
    assert h.post(failed.forged()).status_code == 403
    assert h.post(failed).status_code == 200
    assert h.outbound(sender)[0].delivery_status == "failed"


def test_whatsapp_signatures_use_the_public_url_behind_a_proxy(make_harness: Any) -> None:
    h = make_harness("whatsapp")
    proxied = "https://support.example.com/relaydesk"
    h.channel.runtime = replace(h.channel.runtime, public_url=proxied)
    sender = h.driver.new_sender()
    behind_proxy = WhatsAppDriver(h.driver.fixtures, proxied)

    # Signed for the public URL, received on the internal one: accepted.
    assert h.post(behind_proxy.message(sender, "hi")).status_code == 200
    # Signed for the internal URL Twilio never calls: refused.
    assert h.post(h.driver.message(sender, "hi")).status_code == 403


def test_whatsapp_24_hour_rule(make_harness: Any, caplog: pytest.LogCaptureFixture) -> None:
    h = make_harness("whatsapp")
    sender = h.driver.new_sender()
    h.post(h.driver.message(sender, "hello"))
    h.replies(sender)
    with h.database.session() as session:
        session.execute(
            update(ChannelConversation)
            .where(ChannelConversation.external_id == sender)
            .values(last_inbound_at=utc_now() - timedelta(hours=25))
        )
    output = h.channel.get_output_channel()

    h.run(output.send_text_message(f"whatsapp:{sender}", "Your refund was issued today."))
    h.run(output.send_text_message(f"whatsapp:{sender}", "Anything else?"))

    sent = h.replies(sender, 2)
    template = sent[1].params
    assert template["ContentSid"] == h.fake.credentials.twilio_template_content_sid
    assert template["ContentVariables"] == '{"1": "Your refund was issued today."}'
    assert "Body" not in template
    rows = h.outbound(sender)
    assert [(r.kind, r.status) for r in rows[1:]] == [
        ("text", "blocked"), ("template", "sent"), ("text", "blocked"),
    ]  # fmt: skip
    assert "waiting for the shopper to write" in (rows[-1].last_error or "")
    assert "not sent: outside WhatsApp's 24-hour window" in caplog.text

    # The shopper answers: the window is open again.
    h.post(h.driver.message(sender, "yes?"))
    assert h.replies(sender, 3)[2].text == "echo: yes?"


def test_whatsapp_without_a_template_blocks_outside_the_window(make_harness: Any) -> None:
    harness = make_harness("whatsapp")
    config = harness.channel.config
    no_template = WhatsAppInput(
        WhatsAppConfig(**{**config.__dict__, "template_content_sid": ""}), harness.channel.runtime
    )
    sender = harness.driver.new_sender()

    asyncio.run(no_template.get_output_channel().send_text_message(sender, "Hello!"))

    [row] = harness.outbound(sender)
    assert row.status == "blocked" and "no template configured" in (row.last_error or "")
    assert harness.fake.sent(TWILIO, sender) == []


# ------------------------------------------------------------------ Messenger


def test_messenger_handshake(make_harness: Any) -> None:
    h = make_harness("messenger")
    url = f"{h.base_url}/webhooks/messenger/webhook"
    good = {"hub.mode": "subscribe", "hub.verify_token": "fake-verify-token",
            "hub.challenge": "1158201444"}  # fmt: skip

    answer = requests.get(url, params=good, timeout=5)
    assert (answer.status_code, answer.text) == (200, "1158201444")
    wrong = requests.get(url, params={**good, "hub.verify_token": "guess"}, timeout=5)
    assert wrong.status_code == 403


def test_messenger_handles_every_item_of_a_batch_and_ignores_the_rest(
    make_harness: Any,
) -> None:
    h = make_harness("messenger")
    driver: MessengerDriver = h.driver
    alice, bob = driver.new_sender(), driver.new_sender()
    echo = driver.message_event(alice, "sent by the page")
    echo["message"]["is_echo"] = True
    events = [
        driver.message_event(alice, "first"),
        echo,
        driver.fixture_event("fbmessenger_fixture_delivery.json", alice),
        driver.fixture_event("fbmessenger_fixture_read.json", alice),
        driver.message_event(alice, "second"),
    ]
    payload = driver.envelope(*events)
    second_entry = driver.envelope(driver.message_event(bob, "from bob"))["entry"][0]
    payload["entry"].append(second_entry)

    assert h.post(driver.sign(payload)).status_code == 200

    assert [m.text for m in h.received_from(alice, 2)] == ["first", "second"]  # in order
    assert [m.text for m in h.received_from(bob)] == ["from bob"]
    time.sleep(0.3)
    assert len(h.bot.received) == 3


def test_messenger_postback_and_typing_indicator(make_harness: Any) -> None:
    h = make_harness("messenger")
    sender = h.driver.new_sender()

    h.post(h.driver.postback(sender, "/track_order"))

    assert h.received_from(sender)[0].text == "/track_order"
    h.replies(sender)
    typing = h.fake.sent(GRAPH, sender, method="sender_action")
    assert typing and typing[0].params["sender_action"] == "typing_on"
    assert typing[0].at < h.fake.sent(GRAPH, sender)[-1].at


def test_messenger_too_many_buttons_become_a_numbered_list(make_harness: Any) -> None:
    h = make_harness("messenger")
    sender = h.driver.new_sender()
    buttons = [{"title": f"Option number {i} of many", "payload": f"/opt{i}"} for i in range(3)]

    h.run(h.channel.get_output_channel().send_text_with_buttons(sender, "Pick", buttons))
    [sent] = h.replies(sender)
    assert "quick_replies" not in sent.params["message"]
    assert "2. Option number 1 of many" in sent.params["message"]["text"]
    h.post(h.driver.message(sender, "2"))

    assert h.received_from(sender)[0].text == "/opt1"


# ------------------------------------------------------------------ Telegram


def test_telegram_callback_queries_are_answered(make_harness: Any) -> None:
    h = make_harness("telegram")
    sender = h.driver.new_sender()
    tap = h.driver.choose(sender, 1, "Track my order", "/track_order")

    h.post(tap)

    assert h.received_from(sender)[0].text == "/track_order"
    answered = h.fake.wait_for(TELEGRAM, None, method="answerCallbackQuery", timeout=10)
    query_id = json.loads(tap.body)["callback_query"]["id"]
    assert query_id in [r.params["callback_query_id"] for r in answered]


def test_telegram_long_payloads_travel_as_tokens(make_harness: Any) -> None:
    h = make_harness("telegram")
    sender = h.driver.new_sender()
    long_payload = '/inform{"order_number": "10023", "contact": "ava.martin@example.com"}'
    buttons = [{"title": "Order 10023", "payload": long_payload}]

    h.run(h.channel.get_output_channel().send_text_with_buttons(sender, "Which one?", buttons))
    [sent] = h.replies(sender)
    data = sent.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    assert data == "#choice:1"
    h.post(h.driver.choose(sender, 1, "Order 10023", data))
    assert h.received_from(sender)[0].text == long_payload

    # Tapping it again after the menu was used: the shopper is told, the bot is not bothered.
    h.post(h.driver.choose(sender, 1, "Order 10023", data))
    stale = eventually(
        lambda: [
            r
            for r in h.fake.sent(TELEGRAM, method="answerCallbackQuery")
            if r.params.get("text") == STALE_CHOICE_NOTICE
        ]
    )
    assert stale
    assert len(h.received_from(sender)) == 1


def test_telegram_edits_are_passed_on_as_corrections(make_harness: Any) -> None:
    h = make_harness("telegram")
    driver: TelegramDriver = h.driver
    sender = driver.new_sender()
    h.post(driver.message(sender, "10032", message_id=77))
    h.post(driver.edit(sender, 77, "10023"))

    original, correction = h.received_from(sender, 2)
    assert correction.text == "10023"
    assert correction.metadata["corrects"] == "77" == original.metadata["message_ref"]


def test_telegram_text_is_escaped_for_html(make_harness: Any) -> None:
    h = make_harness("telegram")
    sender = h.driver.new_sender()

    h.post(h.driver.message(sender, "Q&A <b>not bold</b>"))

    [sent] = h.replies(sender)
    assert sent.params["text"] == "echo: Q&amp;A &lt;b&gt;not bold&lt;/b&gt;"


def test_the_same_id_on_two_channels_is_two_conversations(make_harness: Any) -> None:
    # A PSID and a Telegram chat id are both plain numbers; they must never share a tracker.
    messenger, telegram = make_harness("messenger"), make_harness("telegram")
    sender = "1234567890"

    messenger.post(messenger.driver.message(sender, "one"))
    telegram.post(telegram.driver.message(sender, "two"))

    assert messenger.received_from(sender)[0].sender_id == f"messenger:{sender}"
    assert telegram.received_from(sender)[0].sender_id == f"telegram:{sender}"
    assert messenger.conversation(sender) is not None and telegram.conversation(sender)
