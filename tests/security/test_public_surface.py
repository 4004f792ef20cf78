"""The public HTTP surface of the running stack: nobody can speak as another shopper.

Before: Rasa's REST channel (`rest:` in credentials.yml) answered anyone under /webhooks/,
the prefix the README told operators to expose, and took any sender id, so posting
`{"sender": "whatsapp:+14155550123", "message": "where is my order 10024"}` returned the
order status of the shopper verified on that WhatsApp number. The web chat's socket took the
conversation id from each message the same way.

The store platforms' webhooks (/webhooks/shopify/webhook, /webhooks/store_push/webhook) are
public too, and take only what the shop's system signed.

Also here: odd texts (blank, lone surrogates, 1 MB) on the stack's entry points, and the web
chat page's framing headers.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
import socketio
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from bot.store.channel_models import ChannelInbound
from bot.store.database import Database
from bot.store.platform_models import PlatformWebhook
from channels.core.inbound_text import BLANK_REPLY, TOO_LONG_REPLY
from tests.channels.drivers import Delivery, WhatsAppDriver, drivers
from tests.channels.fake_providers import TWILIO, FakeProviders
from tests.conftest import RunningStack
from tests.integration.shop_factory import make_order
from tests.platforms.shopify_webhooks import ShopifySender
from tests.platforms.test_push_support import PushSender, order_record, push_body

pytestmark = pytest.mark.integration

FINISHED = ("processed", "failed", "ignored")


@pytest.fixture(scope="module")
def whatsapp(rasa_stack: RunningStack, shared_dir: Path) -> WhatsAppDriver:
    driver = drivers(shared_dir / "fixtures", rasa_stack.settings.public_url)["whatsapp"]
    assert isinstance(driver, WhatsAppDriver)
    return driver


@pytest.fixture(scope="module")
def store(rasa_stack: RunningStack) -> Iterator[Database]:
    database = Database(rasa_stack.settings.database_url)
    yield database
    database.dispose()


def deliveries(store: Database, number: str) -> list[ChannelInbound]:
    with store.session() as session:
        query = select(ChannelInbound).where(
            ChannelInbound.channel == "whatsapp", ChannelInbound.external_id == number
        )
        return list(session.execute(query).scalars())


def raw_body(driver: WhatsAppDriver, number: str, encoded_body: str) -> Delivery:
    """A WhatsApp message whose Body is sent exactly as `encoded_body` (percent-encoded
    bytes), signed over what the server decodes, as Twilio signs."""
    template = driver.message(number, "PLACEHOLDER")
    body = template.body.replace(b"Body=PLACEHOLDER", f"Body={encoded_body}".encode())
    params = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
    signature = RequestValidator(driver.credentials.twilio_auth_token).compute_signature(
        driver.public_url + driver.path, params
    )
    return Delivery(template.path, body, {**template.headers, "X-Twilio-Signature": signature})


def whatsapp_turn(
    stack: RunningStack, fake: FakeProviders, store: Database, driver: WhatsAppDriver,
    number: str, message: str | Delivery,
) -> tuple[list[str], ChannelInbound]:  # fmt: skip
    """Posts one WhatsApp message; returns the replies of its turn and its delivery row."""
    sent_before = len(fake.sent(TWILIO, number))
    rows_before = len(deliveries(store, number))
    delivery = driver.message(number, message) if isinstance(message, str) else message
    answer = delivery.post(stack.rasa_url)
    assert answer.status_code == 200, answer.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = deliveries(store, number)
        if len(rows) > rows_before and rows[-1].status in FINISHED:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"the WhatsApp delivery {delivery.body[:80]!r} never finished")
    return [r.text for r in fake.sent(TWILIO, number)[sent_before:]], rows[-1]


@pytest.fixture(scope="module")
def verified_whatsapp_shopper(
    rasa_stack: RunningStack,
    fake_providers: FakeProviders,
    store: Database,
    whatsapp: WhatsAppDriver,
) -> dict[str, Any]:
    """A shopper who asked for their order on WhatsApp from the order's phone: verified."""
    order = make_order(rasa_stack.settings.database_url, skus=["NW-TEE-MERINO-M"])
    replies, _ = whatsapp_turn(
        rasa_stack, fake_providers, store, whatsapp, order["phone"],
        f"where is my order {order['number']}",
    )  # fmt: skip
    status = "\n".join(replies)
    assert f"#{order['number']}" in status and "paid" in status, status
    return order


def user_events(stack: RunningStack, conversation: str) -> list[dict[str, Any]]:
    return [e for e in stack.tracker(conversation)["events"] if e["event"] == "user"]


# ------------------------------------------------------------------ speaking as someone else


def test_forged_sender_is_refused(
    rasa_stack: RunningStack, verified_whatsapp_shopper: dict[str, Any]
) -> None:
    order = verified_whatsapp_shopper
    conversation = f"whatsapp:{order['phone']}"
    before = user_events(rasa_stack, conversation)
    forged = {"sender": conversation, "message": f"where is my order {order['number']}"}

    # The old way in: Rasa's REST channel is gone.
    old = requests.post(f"{rasa_stack.rasa_url}/webhooks/rest/webhook", json=forged, timeout=30)
    assert old.status_code in (401, 403, 404)
    # Its replacement without the secret.
    new = requests.post(rasa_stack.json_api_url, json=forged, timeout=30)
    assert new.status_code == 401
    for answer in (old, new):
        assert order["number"] not in answer.text

    assert user_events(rasa_stack, conversation) == before


@pytest.mark.parametrize(
    "body",
    [
        {"sender": "{conversation}"},
        {"sender": "{phone}", "input_channel": "whatsapp"},
        {"sender": "{phone}", "input_channel": "webchat"},
    ],
    ids=["whatsapp-id", "input-channel-whatsapp", "input-channel-webchat"],
)
def test_a_whatsapp_conversation_is_out_of_reach_even_with_the_secret(
    rasa_stack: RunningStack, verified_whatsapp_shopper: dict[str, Any], body: dict[str, str]
) -> None:
    order = verified_whatsapp_shopper
    conversation = f"whatsapp:{order['phone']}"
    before = user_events(rasa_stack, conversation)
    request = {
        **{k: v.format(conversation=conversation, phone=order["phone"]) for k, v in body.items()},
        "message": f"where is my order {order['number']}",
    }
    answer = requests.post(
        rasa_stack.json_api_url,
        json=request,
        headers={"Authorization": f"Bearer {rasa_stack.settings.json_api.secret}"},
        timeout=30,
    )
    assert answer.status_code == 403
    assert order["number"] not in answer.text
    assert user_events(rasa_stack, conversation) == before


def test_the_phone_number_as_a_plain_json_sender_proves_nothing(
    rasa_stack: RunningStack, verified_whatsapp_shopper: dict[str, Any]
) -> None:
    # The JSON endpoint's own conversation "+1628...": not the WhatsApp one, not verified.
    order = verified_whatsapp_shopper
    reply = " ".join(
        m.get("text", "")
        for m in rasa_stack.say(order["phone"], f"where is my order {order['number']}")
    )
    assert "email address or phone number" in reply
    assert "paid" not in reply
    tracker = rasa_stack.tracker(order["phone"])
    assert tracker["latest_input_channel"] == "jsonapi"
    assert not tracker["slots"].get("verified_customer_id")


class WebChatClient:
    """A socket.io client on the stack's web chat, at the path the page uses."""

    def __init__(self, rasa_url: str) -> None:
        self.replies: queue.Queue[dict[str, Any]] = queue.Queue()
        confirmed: queue.Queue[str] = queue.Queue()
        self.client = socketio.Client(reconnection=False)
        self.client.on("bot_uttered", self.replies.put)
        self.client.on("session_confirm", confirmed.put)
        self.client.connect(
            rasa_url, transports=["polling"], socketio_path="webhooks/webchat/socket.io"
        )
        self.client.emit("session_request", {"session_id": None})
        self.session_id = confirmed.get(timeout=15)

    def emit(self, text: str, session_id: str | None = None) -> None:
        payload = {"message": text, "session_id": session_id or self.session_id}
        self.client.emit("user_uttered", payload)

    def texts(self, wait: float = 2.0) -> list[str]:
        """Replies until none came for `wait` seconds."""
        texts = []
        while True:
            try:
                texts.append(str(self.replies.get(timeout=wait).get("text", "")))
            except queue.Empty:
                return texts

    def close(self) -> None:
        threading.Thread(target=self.client.eio.disconnect, kwargs={"abort": True}).start()


@pytest.fixture
def webchat(rasa_stack: RunningStack) -> Iterator[WebChatClient]:
    client = WebChatClient(rasa_stack.rasa_url)
    yield client
    client.close()


def test_a_web_chat_socket_cannot_write_into_a_whatsapp_conversation(
    rasa_stack: RunningStack, verified_whatsapp_shopper: dict[str, Any], webchat: WebChatClient
) -> None:
    order = verified_whatsapp_shopper
    conversation = f"whatsapp:{order['phone']}"
    before = user_events(rasa_stack, conversation)

    webchat.emit(f"where is my order {order['number']}", session_id=conversation)
    assert webchat.texts(wait=3) == []
    assert user_events(rasa_stack, conversation) == before
    # Its own session still works.
    webchat.emit("hi")
    assert any("assistant" in text for text in webchat.texts())


def test_the_web_chat_is_served_under_one_public_prefix(rasa_stack: RunningStack) -> None:
    # The page, its assets and the socket: one reverse-proxy rule for /webhooks/webchat/.
    page = requests.get(rasa_stack.webchat_url, timeout=10)
    assert page.status_code == 200
    assert 'data-socket-path="socket.io"' in page.text
    poll = requests.get(
        f"{rasa_stack.rasa_url}/webhooks/webchat/socket.io/",
        params={"EIO": "4", "transport": "polling"},
        timeout=10,
    )
    assert poll.status_code == 200 and poll.text.startswith("0{")  # an Engine.IO handshake


def test_the_chat_page_may_only_be_framed_by_itself(rasa_stack: RunningStack) -> None:
    response = requests.get(rasa_stack.webchat_url, timeout=10)
    directives = [d.strip() for d in response.headers["Content-Security-Policy"].split(";")]
    assert "frame-ancestors 'self'" in directives  # WEBCHAT_EMBED_ORIGINS is unset here
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"


# ------------------------------------------------------------------ store platforms


def test_the_shopify_webhook_is_public_but_takes_only_signed_webhooks(
    rasa_stack: RunningStack, store: Database
) -> None:
    # Public (Shopify calls it), so it must refuse whatever Shopify did not sign. The stack
    # leaves Shopify off unless its settings name a shop: then the endpoint is a 503.
    health = requests.get(f"{rasa_stack.rasa_url}/webhooks/shopify/", timeout=10)
    assert health.status_code == 200  # Rasa mounted it from credentials.yml
    configured = health.json()["status"] == "ok"
    forged = ShopifySender(secret="not-the-apps-secret").sample("orders_create")
    unsigned = forged.with_headers({"X-Shopify-Hmac-Sha256": None})

    for delivery in (forged, unsigned):
        answer = delivery.post(rasa_stack.rasa_url)
        assert answer.status_code == (401 if configured else 503), answer.text
    with store.session() as session:
        assert session.execute(select(PlatformWebhook)).first() is None


def test_the_store_push_webhook_is_public_but_takes_only_signed_pushes(
    rasa_stack: RunningStack, store: Database
) -> None:
    # The generic webhook for other shop systems: off (503) without STORE_PUSH_SECRET, and
    # a push signed with another secret, or not at all, is refused either way.
    health = requests.get(f"{rasa_stack.rasa_url}/webhooks/store_push/", timeout=10)
    assert health.status_code == 200  # Rasa mounted it from credentials.yml
    configured = health.json()["status"] == "ok"
    forged = PushSender(secrets=("not-the-shops-secret",)).delivery(
        push_body(order_record("10023"))
    )
    unsigned = forged.with_headers({"X-Relaydesk-Signature": None})
    for delivery in (forged, unsigned):
        answer = delivery.post(rasa_stack.rasa_url)
        assert answer.status_code == (401 if configured else 503), answer.text
    with store.session() as session:
        pushed = session.execute(
            select(PlatformWebhook).where(PlatformWebhook.platform == "push")
        ).first()
        assert pushed is None


# ------------------------------------------------------------------ odd texts


@pytest.mark.parametrize(
    "text", ["", "   ", "\ud800", "\u200b"], ids=["empty", "spaces", "lone-surrogate", "zero-width"]
)
def test_blank_texts_get_a_polite_answer_on_the_json_endpoint(
    rasa_stack: RunningStack, sender_id: str, text: str
) -> None:
    assert rasa_stack.say(sender_id, text) == [{"recipient_id": sender_id, "text": BLANK_REPLY}]
    # Nothing reached the assistant; the conversation goes on as before.
    assert "order number" in " ".join(
        m.get("text", "") for m in rasa_stack.say(sender_id, "where is my order")
    )


@pytest.mark.parametrize("text", ["", "   ", "\ud800"], ids=["empty", "spaces", "lone-surrogate"])
def test_blank_texts_get_a_polite_answer_on_the_web_chat(webchat: WebChatClient, text: str) -> None:
    webchat.emit(text)
    assert webchat.texts() == [BLANK_REPLY]


def test_a_lone_surrogate_inside_a_message_is_understood(
    rasa_stack: RunningStack, sender_id: str, webchat: WebChatClient
) -> None:
    reply = rasa_stack.say(sender_id, "where is my order \ud800")
    assert "order number" in reply[0]["text"]
    webchat.emit("where is my order \ud800")
    assert any("order number" in text for text in webchat.texts())


@pytest.mark.parametrize(
    "encoded_body",
    ["", "+++", "%ED%A0%80"],  # %ED%A0%80: a lone surrogate (U+D800) encoded as UTF-8 bytes
    ids=["empty", "spaces", "lone-surrogate"],
)
def test_blank_whatsapp_messages_get_a_polite_answer(
    rasa_stack: RunningStack,
    fake_providers: FakeProviders,
    store: Database,
    whatsapp: WhatsAppDriver,
    encoded_body: str,
) -> None:
    # Needs the provider connectors to screen texts (channels/core/channel.py calling
    # channels.core.inbound_text); before, the NLU raised and the delivery was "failed".
    number = whatsapp.new_sender()
    delivery = raw_body(whatsapp, number, encoded_body)
    replies, row = whatsapp_turn(rasa_stack, fake_providers, store, whatsapp, number, delivery)
    # Answered at the entry point, deliberately not handed to the assistant: "ignored", with
    # the reason; never "failed" (before: the NLU raised).
    assert row.status == "ignored", row.error
    assert replies == [BLANK_REPLY]


def test_a_1_mb_message_is_answered_at_once_and_blocks_nobody(
    rasa_stack: RunningStack, sender_id: str
) -> None:
    # Before: 17.6 s for the 1 MB message, and 7.4 s for another shopper's "hi" meanwhile.
    huge = ("where is my order " * 60_000)[:1_000_000]
    results: dict[str, tuple[float, list[dict[str, Any]]]] = {}

    def timed(name: str, sender: str, text: str) -> None:
        start = time.perf_counter()
        reply = rasa_stack.say(sender, text)
        results[name] = (time.perf_counter() - start, reply)

    big = threading.Thread(target=timed, args=("huge", sender_id, huge))
    big.start()
    time.sleep(0.05)
    timed("other", f"other-{uuid.uuid4().hex[:8]}", "hi")
    big.join(timeout=60)

    huge_seconds, huge_reply = results["huge"]
    other_seconds, other_reply = results["other"]
    assert huge_reply == [{"recipient_id": sender_id, "text": TOO_LONG_REPLY}]
    assert huge_seconds < 3, huge_seconds
    assert other_reply and other_seconds < 5, other_seconds
