"""channels.jsonapi: the JSON endpoint that replaced Rasa's open `rest:` channel.

The channel's blueprint runs on a real Sanic server (channels.webchat.devserver.AppServer)
with a fake agent whose tracker store is Rasa's in-memory one; the assistant is a responder
that echoes. What it must guarantee: nobody without the secret gets in, and nobody with it
can reach another channel's conversation.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from rasa.core.channels.channel import UserMessage
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Sanic

from channels.core.inbound_text import BLANK_REPLY, TEXT_LIMIT, TOO_LONG_REPLY
from channels.core.messages import PayloadError
from channels.jsonapi import JsonApiInput
from channels.jsonapi.parsing import Forbidden, authorized, check_sender, parse_request
from channels.webchat.devserver import AppServer

SECRET = "s3cret-for-tests"
AUTH = {"Authorization": f"Bearer {SECRET}"}
WHATSAPP_SHOPPER = "whatsapp:+14155550123"
_apps = itertools.count(1)

received: list[UserMessage] = []


async def echo(message: UserMessage) -> None:
    received.append(message)
    await message.output_channel.send_text_message(message.sender_id, f"echo: {message.text}")


class Server(AppServer):
    def __init__(self, channel: JsonApiInput) -> None:
        app = Sanic(f"jsonapi_test_{next(_apps)}")
        app.config.MOTD = False
        app.blueprint(channel.blueprint(echo), url_prefix="/webhooks/jsonapi")
        self.tracker_store = InMemoryTrackerStore(Domain.empty())
        app.ctx.agent = SimpleNamespace(tracker_store=self.tracker_store)
        super().__init__(app)

    @property
    def url(self) -> str:
        return f"{self.base_url}/webhooks/jsonapi/webhook"

    def post(self, body: Any, headers: dict[str, str] | None = AUTH) -> requests.Response:
        return requests.post(self.url, json=body, headers=headers or {}, timeout=30)

    def add_conversation(self, sender: str, channel: str | None) -> None:
        tracker = DialogueStateTracker.from_events(
            sender, [UserUttered("hi", {"intent": {"name": "greet"}}, input_channel=channel)]
        )
        asyncio.run_coroutine_threadsafe(self.tracker_store.save(tracker), self._loop).result(5)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    channel = JsonApiInput.from_credentials({"secret": SECRET})
    assert isinstance(channel, JsonApiInput)
    with Server(channel) as running:
        yield running


def no_turn(before: int) -> bool:
    return len(received) == before


# ------------------------------------------------------------------ pure parts


@pytest.mark.parametrize(
    ("header", "secret", "ok"),
    [
        (f"Bearer {SECRET}", SECRET, True),
        (f"bearer {SECRET}", SECRET, True),
        (f"  Bearer   {SECRET}  ", SECRET, True),
        (None, SECRET, False),
        ("", SECRET, False),
        (SECRET, SECRET, False),  # no scheme
        (f"Basic {SECRET}", SECRET, False),
        (f"Bearer {SECRET}x", SECRET, False),
        (f"Bearer {SECRET[:-1]}", SECRET, False),
        ("Bearer ", SECRET, False),
        ("Bearer ", "", False),  # no secret configured: nobody, not everybody
        ("Bearer x", "", False),
    ],
)
def test_authorized(header: str | None, secret: str, ok: bool) -> None:
    assert authorized(header, secret) is ok


@pytest.mark.parametrize(
    "sender",
    [
        WHATSAPP_SHOPPER,
        "messenger:1234567890123456",
        "telegram:42",
        "jsonapi:crm-1",  # a prefix of its own is not needed and not taken
        "x:y",
        "0123456789abcdef0123456789abcdef",  # a web chat session id
        "7c3fd680bd804ee3a190ce0fd6bf69a4",
    ],
)
def test_other_channels_sender_ids_are_forbidden(sender: str) -> None:
    with pytest.raises(Forbidden):
        check_sender(sender)


@pytest.mark.parametrize(
    "sender",
    [None, "", 42, ["a"], {"a": 1}, " lead", "with space", "a/b", "a\nb", "x" * 129, "é", "-x"],
)
def test_malformed_sender_ids_are_refused(sender: Any) -> None:
    with pytest.raises(PayloadError):
        check_sender(sender)


@pytest.mark.parametrize(
    "sender",
    [
        "test-a1b2c3d4e5f6",
        "test-a1b2c3d4e5f6-2",
        "prod-1a2b3c4d",
        "crm.4711",
        "ava@example.com",
        "+14155550123",  # a phone number as a plain id: this channel's, never WhatsApp's
        "0123456789ABCDEF0123456789ABCDEF",  # upper case: not a web chat id
        "x" * 128,
    ],
)
def test_own_sender_ids_are_accepted(sender: str) -> None:
    assert check_sender(sender) == sender


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ([], PayloadError),
        ("hi", PayloadError),
        ({"message": "hi"}, PayloadError),
        ({"sender": "a1", "message": None}, PayloadError),
        ({"sender": "a1", "message": 5}, PayloadError),
        ({"sender": "a1"}, PayloadError),
        ({"sender": "a1", "message": "hi", "metadata": "x"}, PayloadError),
        ({"sender": "a1", "message": "hi", "metadata": [1]}, PayloadError),
        ({"sender": "a1", "message": "hi", "input_channel": "whatsapp"}, Forbidden),
        ({"sender": "a1", "message": "hi", "input_channel": "jsonapi"}, Forbidden),
        ({"sender": WHATSAPP_SHOPPER, "message": "hi"}, Forbidden),
    ],
)
def test_parse_request_refuses(body: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_request(body)


def test_parse_request() -> None:
    message = parse_request({"sender": "a1", "message": "hi", "metadata": {"k": [1]}})
    assert (message.sender, message.text, message.metadata) == ("a1", "hi", {"k": [1]})
    assert parse_request({"sender": "a1", "message": ""}).metadata == {}


# ------------------------------------------------------------------ over HTTP


def test_off_without_a_secret() -> None:
    channel = JsonApiInput.from_credentials({"secret": None})
    assert isinstance(channel, JsonApiInput)
    with Server(channel) as running:
        before = len(received)
        for headers in (None, {"Authorization": "Bearer "}, {"Authorization": "Bearer None"}):
            answer = running.post({"sender": "a1", "message": "hi"}, headers=headers)
            assert answer.status_code == 503
            assert "JSON_API_SECRET" in answer.json()["error"]
        health = requests.get(f"{running.base_url}/webhooks/jsonapi/", timeout=10).json()
        assert health == {"status": "unconfigured", "missing": ["JSON_API_SECRET"]}
        assert no_turn(before)


@pytest.mark.parametrize(
    "headers",
    [
        None,
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {SECRET}"},
        {"Authorization": SECRET},
        {"X-Api-Key": SECRET},
    ],
)
def test_refused_without_the_secret(server: Server, headers: dict[str, str] | None) -> None:
    before = len(received)
    answer = server.post({"sender": WHATSAPP_SHOPPER, "message": "where is my order"}, headers)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert no_turn(before)
    # The secret in a query string (it would end up in access logs) does not count either.
    answer = requests.post(
        server.url,
        params={"token": SECRET},
        json={"sender": "a1", "message": "hi"},
        timeout=10,
    )
    assert answer.status_code == 401


def test_a_turn_with_the_secret(server: Server) -> None:
    answer = server.post({"sender": "crm-1", "message": "hello", "metadata": {"k": "v"}})
    assert answer.status_code == 200
    assert answer.json() == [{"recipient_id": "crm-1", "text": "echo: hello"}]
    message = received[-1]
    assert (message.sender_id, message.input_channel) == ("crm-1", "jsonapi")
    assert message.metadata == {"k": "v"}
    health = requests.get(f"{server.base_url}/webhooks/jsonapi/", timeout=10).json()
    assert health == {"status": "ok"}


@pytest.mark.parametrize(
    "body",
    [
        {"sender": WHATSAPP_SHOPPER, "message": "where is my order 10024"},
        {"sender": "messenger:1234567890123456", "message": "hi"},
        {"sender": "telegram:42", "message": "hi"},
        {"sender": "0123456789abcdef0123456789abcdef", "message": "hi"},
        # Rasa's REST channel let the caller pick the input channel, and actions trust it.
        {"sender": "+14155550123", "message": "hi", "input_channel": "whatsapp"},
    ],
)
def test_other_channels_conversations_are_forbidden_even_with_the_secret(
    server: Server, body: dict[str, Any]
) -> None:
    before = len(received)
    answer = server.post(body)
    assert answer.status_code == 403
    assert no_turn(before)


@pytest.mark.parametrize("channel", ["whatsapp", "webchat", "telegram", "rest"])
def test_a_conversation_with_another_channels_messages_is_forbidden(
    server: Server, channel: str
) -> None:
    # E.g. a web chat session from before session ids were checked, or a conversation
    # written through Rasa's own channels: whatever its id, it is not this endpoint's.
    sender = f"shared-{channel}-id"
    server.add_conversation(sender, channel)
    before = len(received)
    answer = server.post({"sender": sender, "message": "where is my order"})
    assert answer.status_code == 403
    assert channel in answer.json()["error"]
    assert no_turn(before)


def test_its_own_conversations_continue(server: Server) -> None:
    server.add_conversation("own-1", "jsonapi")
    server.add_conversation("api-made-1", None)  # Rasa's HTTP API, with the Rasa token
    for sender in ("own-1", "api-made-1"):
        assert server.post({"sender": sender, "message": "more"}).status_code == 200


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"sender": "a1"}', b'{"sender": "a b", "message": "hi"}'],
)
def test_malformed_requests_are_400(server: Server, body: bytes) -> None:
    answer = requests.post(
        server.url,
        data=body,
        headers={**AUTH, "Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("malformed request")


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("", BLANK_REPLY),
        ("   ", BLANK_REPLY),
        ("\ud800", BLANK_REPLY),
        ("\u200b\n", BLANK_REPLY),
        ("x" * (TEXT_LIMIT + 1), TOO_LONG_REPLY),
        ("where is my order " * 60_000, TOO_LONG_REPLY),  # about 1 MB
    ],
    ids=["empty", "spaces", "lone-surrogate", "zero-width", "4097", "1MB"],
)
def test_blank_and_too_long_texts_are_answered_here(server: Server, text: str, reply: str) -> None:
    before = len(received)
    answer = server.post({"sender": "crm-2", "message": text})
    assert answer.status_code == 200
    assert answer.json() == [{"recipient_id": "crm-2", "text": reply}]
    assert no_turn(before)


def test_texts_reach_the_assistant_cleaned(server: Server) -> None:
    answer = server.post({"sender": "crm-3", "message": "order\x00 10024\r\n\ud83d\ude00 \ud800"})
    assert answer.json()[0]["text"] == "echo: order 10024\n\U0001f600 \ufffd"
    limit = "x" * TEXT_LIMIT
    assert server.post({"sender": "crm-3", "message": limit}).json()[0]["text"] == f"echo: {limit}"
