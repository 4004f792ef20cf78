"""Sending through each real client against the fake providers when the provider misbehaves:
per-chat message numbers (Telegram), 429 with Retry-After (waits measured on the fake's clock),
and sends that stall past the client's timeout, where the provider may have carried the request
out: the shopper gets the reply exactly once (Twilio: asked, then retried only if not sent) or
at most once with the outcome recorded as `unknown` (Telegram, Messenger: cannot be asked)."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from channels.core.messages import OutboundMessage
from channels.messenger import client as messenger_client
from channels.telegram import client as telegram_client
from channels.whatsapp import client as whatsapp_client
from tests.channels.conftest import CHANNELS, Harness, eventually
from tests.channels.fake_providers import TELEGRAM

#: Client timeout in these tests (production: 10 s); stalls last longer.
TIMEOUT = 0.5
STALL = TIMEOUT + 1.5


@pytest.fixture
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(whatsapp_client, "TIMEOUT", TIMEOUT)
    monkeypatch.setattr(messenger_client, "TIMEOUT", TIMEOUT)
    monkeypatch.setattr(telegram_client, "READ_TIMEOUT", TIMEOUT)


def finished(harness: Harness, sender: str) -> list[Any]:
    rows = harness.outbound(sender)
    return rows if rows and all(r.status != "pending" for r in rows) else []


# ------------------------------------------------------------------ Telegram's per-chat ids


def test_telegram_chats_with_the_same_message_numbers_all_get_their_replies(
    make_harness: Any,
) -> None:
    harness = make_harness("telegram")
    chats = [harness.driver.new_sender() for _ in range(3)]

    for turn in range(3):
        with ThreadPoolExecutor(len(chats)) as pool:
            answers = list(
                pool.map(
                    lambda chat, t=turn: harness.post(harness.driver.message(chat, f"t{t}")), chats
                )
            )
        assert [a.status_code for a in answers] == [200] * 3
        for chat in chats:
            harness.replies(chat, turn + 1)

    for chat in chats:
        rows = eventually(
            lambda chat=chat: len(finished(harness, chat)) == 3 and finished(harness, chat)
        )
        # The fake numbers per chat from 1, like the Bot API: every chat has ids 1, 2, 3.
        assert [(r.status, r.provider_message_id) for r in rows] == [
            ("sent", "1"), ("sent", "2"), ("sent", "3"),
        ]  # fmt: skip
        eventually(lambda chat=chat: [m.status for m in harness.inbound(chat)] == ["processed"] * 3)


# ------------------------------------------------------------------ Retry-After


@pytest.mark.parametrize("name", CHANNELS)
def test_retry_after_is_waited_on_every_channel(make_harness: Any, name: str) -> None:
    harness = make_harness(name)
    sender = harness.driver.new_sender()
    harness.fake.fail_next(harness.driver.provider, 1, status=429, retry_after=2)

    harness.post(harness.driver.message(sender, "hello"))

    harness.replies(sender, timeout=15)
    limited, delivered = harness.fake.sent(recipient=sender, ok_only=False)
    assert (limited.status, delivered.ok) == (429, True)
    waited = delivered.at - limited.at
    assert 2.0 <= waited < 3.0, f"{name} retried after {waited:.2f}s instead of Retry-After 2"
    [row] = eventually(lambda: finished(harness, sender))
    assert (row.status, row.attempts) == ("sent", 2)


# ------------------------------------------------------------------ unknown outcomes


@pytest.mark.usefixtures("short_timeouts")
def test_whatsapp_stall_past_the_timeout_is_reconciled_not_repeated(make_harness: Any) -> None:
    harness = make_harness("whatsapp")
    sender = harness.driver.new_sender()
    # Twilio takes the message and then does not answer within the client's timeout.
    harness.fake.stall_next(harness.driver.provider, 1, seconds=STALL)

    harness.post(harness.driver.message(sender, "hello"))

    [row] = eventually(lambda: finished(harness, sender), timeout=15)
    time.sleep(STALL)  # a repeat would have arrived by now
    [reply] = harness.fake.sent(recipient=sender)  # exactly once
    assert (row.status, row.provider_message_id) == ("sent", reply.provider_id)
    assert "did not answer" in (row.last_error or "") and row.attempts == 1
    asked = harness.fake.sent(recipient=sender, method="Messages.list")
    assert len(asked) == 1


@pytest.mark.usefixtures("short_timeouts")
def test_whatsapp_stall_that_sent_nothing_is_retried_once_asked(make_harness: Any) -> None:
    harness = make_harness("whatsapp")
    sender = harness.driver.new_sender()
    harness.fake.stall_next(harness.driver.provider, 1, seconds=STALL, carried_out=False)

    harness.post(harness.driver.message(sender, "hello"))

    [row] = eventually(lambda: finished(harness, sender), timeout=15)
    time.sleep(2)
    [reply] = harness.fake.sent(recipient=sender)
    assert (row.status, row.provider_message_id, row.attempts) == ("sent", reply.provider_id, 2)
    assert len(harness.fake.sent(recipient=sender, method="Messages.list")) == 1


@pytest.mark.usefixtures("short_timeouts")
@pytest.mark.parametrize("name", ["messenger", "telegram"])
def test_a_stall_that_cannot_be_asked_about_is_unknown_and_not_repeated(
    make_harness: Any, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    harness = make_harness(name)
    sender = harness.driver.new_sender()
    harness.fake.stall_next(harness.driver.provider, 1, seconds=STALL)

    harness.post(harness.driver.message(sender, "hello"))

    [row] = eventually(lambda: finished(harness, sender), timeout=15)
    time.sleep(STALL)
    assert len(harness.fake.sent(recipient=sender)) == 1  # at most once: here, once
    assert (row.status, row.attempts) == ("unknown", 1)
    assert f"{name}: outcome of message #{row.id}" in caplog.text
    # The conversation goes on.
    harness.post(harness.driver.message(sender, "again"))
    assert harness.replies(sender, 2)[-1].text == "echo: again"


@pytest.mark.usefixtures("short_timeouts")
def test_telegram_stall_that_sent_nothing_is_unknown_too(make_harness: Any) -> None:
    harness = make_harness("telegram")
    sender = harness.driver.new_sender()
    harness.fake.stall_next(TELEGRAM, 1, seconds=STALL, carried_out=False)

    harness.post(harness.driver.message(sender, "hello"))

    [row] = eventually(lambda: finished(harness, sender), timeout=15)
    assert row.status == "unknown"
    assert harness.fake.sent(recipient=sender) == []  # at most once: here, never


@pytest.mark.parametrize("name", CHANNELS)
def test_a_provider_that_cannot_be_reached_is_retried_not_unknown(
    make_harness: Any, name: str
) -> None:
    # Connection refused: the request never left, so repeating it is safe.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    channel = make_harness(name).channel
    dead = channel.config.replace(api_base_url=f"http://127.0.0.1:{closed_port}")  # type: ignore[attr-defined]
    unreachable = make_harness(name, type(channel)(dead, channel.runtime))
    sender = unreachable.driver.new_sender()

    unreachable.post(unreachable.driver.message(sender, "hello"))

    [row] = eventually(lambda: finished(unreachable, sender), timeout=15)
    assert (row.status, row.attempts) == ("failed", 4)


# ------------------------------------------------------------------ origin


def test_whatsapp_records_the_origin_of_sent_blocked_and_template_messages(
    make_harness: Any,
) -> None:
    harness = make_harness("whatsapp")
    store = harness.channel.store
    writing, silent = harness.driver.new_sender(), harness.driver.new_sender()
    harness.post(harness.driver.message(writing, "hello"))
    harness.replies(writing)
    message = OutboundMessage(text="An agent writes: your parcel left today.")

    harness.run(harness.channel.deliver(writing, message, inbound_id=None, origin="handoff:1"))
    # Never wrote: outside the 24-hour window, the template goes out instead.
    harness.run(harness.channel.deliver(silent, message, inbound_id=None, origin="handoff:2"))

    assert [r.status for r in store.outbound_by_origin("handoff:1")] == ["sent"]
    assert [r.status for r in store.outbound_by_origin("handoff:2")] == ["blocked", "sent"]
    [template] = harness.fake.sent(recipient=silent)
    assert template.params["ContentSid"] == harness.fake.credentials.twilio_template_content_sid


def test_whatsapp_takes_the_origin_chatoutput_set_for_the_response(make_harness: Any) -> None:
    harness = make_harness("whatsapp")
    sender = harness.driver.new_sender()
    harness.post(harness.driver.message(sender, "hello"))
    harness.replies(sender)
    output = harness.channel.output_channel(None)

    # What Rasa hands over for a bridged agent reply: the bot event's metadata merged in.
    harness.run(output.send_response(f"whatsapp:{sender}", {"text": "Hi!", "handoff_delivery": 7}))

    assert [r.status for r in harness.channel.store.outbound_by_origin("handoff:7")] == ["sent"]
