"""Shoppers on each provider: build real-format, correctly signed webhook deliveries.

Payloads start from the providers' own samples in ../shared/fixtures (read at run time, never
copied) with the sender, ids and text replaced. Each driver also knows where the fake provider
records the replies to that shopper. Used by the channel tests and bench/channels_bench.py.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import random
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests
from twilio.request_validator import RequestValidator

from tests.channels.fake_providers import GRAPH, TELEGRAM, TWILIO, FakeCredentials

INBOUND_FIXTURE = "twilio/captured_whatsapp_inbound_sandbox_1.parsed.json"
STATUS_FIXTURE = "twilio/captured_whatsapp_status_callback_1.parsed.json"
_counter = itertools.count(int(uuid.uuid4().int % 10**6) * 1000)


@dataclass(frozen=True)
class Delivery:
    """One webhook call as the provider would make it."""

    path: str
    body: bytes
    headers: dict[str, str]

    def post(self, base_url: str, timeout: float = 10.0) -> requests.Response:
        return requests.post(base_url + self.path, data=self.body, headers=self.headers,
                             timeout=timeout)  # fmt: skip

    def forged(self) -> Delivery:
        """The same delivery with a signature made with the wrong secret."""
        headers = dict(self.headers)
        for name in ("X-Twilio-Signature", "X-Hub-Signature-256",
                     "X-Telegram-Bot-Api-Secret-Token"):  # fmt: skip
            if name in headers:
                headers[name] = {
                    "X-Twilio-Signature": "bm90IHRoZSBzaWduYXR1cmU=",
                    "X-Hub-Signature-256": "sha256=" + "0" * 64,
                    "X-Telegram-Bot-Api-Secret-Token": "not-the-secret",
                }[name]
        return Delivery(self.path, self.body, headers)

    def unsigned(self) -> Delivery:
        headers = {k: v for k, v in self.headers.items() if k.lower() == "content-type"}
        return Delivery(self.path, self.body, headers)


def _load(fixtures: Path, name: str) -> Any:
    return json.loads((fixtures / name).read_text(encoding="utf-8"))


@dataclass
class WhatsAppDriver:
    fixtures: Path
    #: PUBLIC_URL of the server under test: Twilio signs the URL it calls.
    public_url: str
    credentials: FakeCredentials = field(default_factory=FakeCredentials)
    channel: str = "whatsapp"
    provider: str = TWILIO
    path: str = "/webhooks/whatsapp/webhook"

    def new_sender(self) -> str:
        return f"+1555{random.randrange(10**6, 10**7)}"

    def _sign(self, path: str, params: dict[str, str]) -> Delivery:
        signature = RequestValidator(self.credentials.twilio_auth_token).compute_signature(
            self.public_url + path, params
        )
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        }
        return Delivery(path, urlencode(params).encode(), headers)

    def message(
        self, sender: str, text: str = "", *, provider_id: str | None = None, **extra: str
    ) -> Delivery:
        params = dict(_load(self.fixtures, INBOUND_FIXTURE))
        sid = provider_id or "SM" + uuid.uuid4().hex
        params.update(
            MessageSid=sid, SmsMessageSid=sid, SmsSid=sid, Body=text,
            From=f"whatsapp:{sender}", WaId=sender.lstrip("+"),
            To=self.credentials.twilio_whatsapp_from,
            AccountSid=self.credentials.twilio_account_sid, ProfileName="Test Shopper",
        )  # fmt: skip
        params.update(extra)
        return self._sign(self.path, params)

    def choose(self, sender: str, number: int, title: str, payload: str) -> Delivery:
        """A shopper answers a numbered list by typing the option's number."""
        return self.message(sender, str(number))

    def media(self, sender: str, url: str, content_type: str = "image/jpeg") -> Delivery:
        return self.message(sender, "", NumMedia="1", MediaUrl0=url, MediaContentType0=content_type)

    def malformed(self, sender: str) -> Delivery:
        return self.message(sender, "hi", From="sms:+15550000000")

    def status_callback(self, message_sid: str, status: str, recipient: str) -> Delivery:
        params = dict(_load(self.fixtures, STATUS_FIXTURE))
        params.update(
            MessageSid=message_sid, SmsSid=message_sid, MessageStatus=status, SmsStatus=status,
            To=f"whatsapp:{recipient}", From=self.credentials.twilio_whatsapp_from,
            AccountSid=self.credentials.twilio_account_sid,
        )  # fmt: skip
        return self._sign("/webhooks/whatsapp/status", params)


@dataclass
class MessengerDriver:
    fixtures: Path
    public_url: str = ""
    credentials: FakeCredentials = field(default_factory=FakeCredentials)
    channel: str = "messenger"
    provider: str = GRAPH
    path: str = "/webhooks/messenger/webhook"
    page_id: str = "100200300400500"

    def new_sender(self) -> str:
        return str(random.randrange(10**15, 10**16))  # PSIDs are 16-digit numbers

    def sign(self, payload: dict[str, Any]) -> Delivery:
        body = json.dumps(payload).encode()
        digest = hmac.new(self.credentials.messenger_app_secret.encode(), body, hashlib.sha256)
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": "sha256=" + digest.hexdigest(),
        }
        return Delivery(self.path, body, headers)

    def envelope(self, *events: dict[str, Any]) -> dict[str, Any]:
        payload = _load(self.fixtures, "facebook/fbmessenger_fixture_message.json")
        payload["entry"][0]["id"] = self.page_id
        payload["entry"][0]["messaging"] = list(events)
        return dict(payload)

    def message_event(
        self, sender: str, text: str = "", *, provider_id: str | None = None
    ) -> dict[str, Any]:
        event = copy.deepcopy(
            _load(self.fixtures, "facebook/fbmessenger_fixture_message.json")["entry"][0][
                "messaging"
            ][0]
        )
        event["sender"]["id"] = sender
        event["recipient"]["id"] = self.page_id
        event["message"]["mid"] = provider_id or f"m_{uuid.uuid4().hex}"
        event["message"]["text"] = text
        return dict(event)

    def message(self, sender: str, text: str = "", *, provider_id: str | None = None) -> Delivery:
        return self.sign(self.envelope(self.message_event(sender, text, provider_id=provider_id)))

    def choose(self, sender: str, number: int, title: str, payload: str) -> Delivery:
        """A tap on a quick reply, in the shape of Meta's documentation example."""
        data = _load(self.fixtures, "facebook/meta_docs_style_quick_reply_wrapped.json")
        event = data["entry"][0]["messaging"][0]
        event["sender"]["id"] = sender
        event["recipient"]["id"] = self.page_id
        event["message"].update(mid=f"m_{uuid.uuid4().hex}", text=title)
        event["message"]["quick_reply"]["payload"] = payload
        return self.sign(self.envelope(event))

    def postback(self, sender: str, payload: str) -> Delivery:
        data = _load(self.fixtures, "facebook/fbmessenger_fixture_postback.json")
        event = data["entry"][0]["messaging"][0]
        event["sender"]["id"] = sender
        event["timestamp"] = next(_counter)
        event["postback"]["payload"] = payload
        return self.sign(self.envelope(event))

    def media(self, sender: str, url: str, content_type: str = "image/jpeg") -> Delivery:
        event = self.message_event(sender)
        del event["message"]["text"]
        event["message"]["attachments"] = [{"type": "image", "payload": {"url": url}}]
        return self.sign(self.envelope(event))

    def malformed(self, sender: str) -> Delivery:
        event = self.message_event(sender, "hi")
        del event["message"]["mid"]
        return self.sign(self.envelope(event))

    def fixture_event(self, name: str, sender: str) -> dict[str, Any]:
        event = dict(_load(self.fixtures, f"facebook/{name}")["entry"][0]["messaging"][0])
        event["sender"] = {"id": sender}
        return event


@dataclass
class TelegramDriver:
    fixtures: Path
    public_url: str = ""
    credentials: FakeCredentials = field(default_factory=FakeCredentials)
    channel: str = "telegram"
    provider: str = TELEGRAM
    path: str = "/webhooks/telegram/webhook"

    def new_sender(self) -> str:
        return str(random.randrange(10**9, 10**10))

    def sign(self, update: dict[str, Any]) -> Delivery:
        headers = {
            "Content-Type": "application/json",
            "X-Telegram-Bot-Api-Secret-Token": self.credentials.telegram_webhook_secret,
        }
        return Delivery(self.path, json.dumps(update).encode(), headers)

    def message_update(
        self, sender: str, text: str | None = "", *, provider_id: str | None = None,
        message_id: int | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        update = _load(self.fixtures, "telegram/tgbot_update_message.json")
        update["update_id"] = int(provider_id) if provider_id else next(_counter)
        message = update["message"]
        message["chat"]["id"] = int(sender)
        message["from"]["id"] = int(sender)
        message["message_id"] = message_id or next(_counter)
        if text is None:
            del message["text"]
        else:
            message["text"] = text
        return dict(update)

    def message(
        self, sender: str, text: str = "", *, provider_id: str | None = None,
        message_id: int | None = None,
    ) -> Delivery:  # fmt: skip
        return self.sign(
            self.message_update(sender, text, provider_id=provider_id, message_id=message_id)
        )

    def edit(self, sender: str, message_id: int, text: str) -> Delivery:
        update = _load(self.fixtures, "telegram/tgbot_update_edited_message.json")
        update["update_id"] = next(_counter)
        edited = update["edited_message"]
        edited["chat"]["id"] = int(sender)
        edited["from"]["id"] = int(sender)
        edited["message_id"] = message_id
        edited["text"] = text
        return self.sign(update)

    def choose(self, sender: str, number: int, title: str, payload: str) -> Delivery:
        """A tap on an inline keyboard button: a callback query carrying its data."""
        query = _load(self.fixtures, "telegram/tgbot_callback_query_object_full.json")
        query["id"] = f"cbq-{uuid.uuid4().hex[:12]}"
        query["from"]["id"] = int(sender)
        query["message"]["chat"] = {"id": int(sender), "type": "private", "first_name": "John"}
        query["data"] = payload
        return self.sign({"update_id": next(_counter), "callback_query": query})

    def media(self, sender: str, url: str, content_type: str = "image/jpeg") -> Delivery:
        update = self.message_update(sender, None)
        update["message"]["photo"] = [
            {"file_id": "small-file-id", "file_unique_id": "s1", "width": 90, "height": 90},
            {"file_id": "large-file-id", "file_unique_id": "l1", "width": 800, "height": 800},
        ]
        update["message"]["caption"] = "the damaged zip"
        return self.sign(update)

    def malformed(self, sender: str) -> Delivery:
        # tg-rs's minimal callback query lacks chat_instance, which the Bot API always sends.
        return self.sign(_load(self.fixtures, "telegram/tgbot_update_callback_query_minimal.json"))


Driver = WhatsAppDriver | MessengerDriver | TelegramDriver


def drivers(fixtures: Path, public_url: str) -> dict[str, Driver]:
    return {
        "whatsapp": WhatsAppDriver(fixtures, public_url),
        "messenger": MessengerDriver(fixtures, public_url),
        "telegram": TelegramDriver(fixtures, public_url),
    }
