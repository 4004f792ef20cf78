"""Each channel end to end: provider webhook → the running Rasa stack (trained model, action
server, demo store) → replies captured by the fake provider. Real HTTP all the way."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select, update

from bot.store.channel_models import ChannelConversation, ChannelInbound, ChannelOutbound
from bot.store.database import Database
from channels.core.messages import utc_now
from tests.channels.conftest import CHANNELS, eventually
from tests.channels.drivers import Delivery, Driver, TelegramDriver, drivers
from tests.channels.fake_providers import TELEGRAM, FakeProviders, Record
from tests.conftest import RunningStack

pytestmark = pytest.mark.integration

AVA_PHONE = "+14155550123"  # the phone on orders 10012, 10023 and 10024
TRACKING = "1Z999AA10123456784"  # order 10023's UPS parcel
FINISHED = ("processed", "failed", "ignored")


@pytest.fixture(scope="module")
def store(rasa_stack: RunningStack) -> Iterator[Database]:
    database = Database(rasa_stack.settings.database_url)
    yield database
    database.dispose()


class Shopper:
    """One shopper on one channel, talking to the running stack."""

    def __init__(
        self, stack: RunningStack, fake: FakeProviders, store: Database, driver: Driver,
        sender: str | None = None,
    ) -> None:  # fmt: skip
        self.stack, self.fake, self.store, self.driver = stack, fake, store, driver
        self.sender = sender or driver.new_sender()
        self.deliveries = 0

    @property
    def conversation_id(self) -> str:
        return f"{self.driver.channel}:{self.sender}"

    def post(self, delivery: Delivery) -> requests.Response:
        return delivery.post(self.stack.rasa_url)

    def inbound(self) -> list[ChannelInbound]:
        with self.store.session() as session:
            return list(
                session.execute(
                    select(ChannelInbound).where(
                        ChannelInbound.channel == self.driver.channel,
                        ChannelInbound.external_id == self.sender,
                    )
                ).scalars()
            )

    def outbound(self) -> list[ChannelOutbound]:
        with self.store.session() as session:
            return list(
                session.execute(
                    select(ChannelOutbound)
                    .where(
                        ChannelOutbound.channel == self.driver.channel,
                        ChannelOutbound.external_id == self.sender,
                    )
                    .order_by(ChannelOutbound.id)
                ).scalars()
            )

    def sent(self) -> list[Record]:
        return self.fake.sent(self.driver.provider, self.sender)

    def send(self, delivery: Delivery, *, new: bool = True) -> list[Record]:
        """Posts a delivery and returns the replies of the turn it starts."""
        before = len(self.sent())
        answer = self.post(delivery)
        assert answer.status_code == 200, answer.text
        self.deliveries += new
        self.wait_for_turn()
        return self.sent()[before:]

    def wait_for_turn(self) -> None:
        """A turn is over when its delivery is finished: replies are sent before that."""
        eventually(
            lambda: len([r for r in self.inbound() if r.status in FINISHED]) >= self.deliveries,
            timeout=60,
        )

    def say(self, text: str) -> str:
        return "\n".join(r.text for r in self.send(self.driver.message(self.sender, text)))

    def tracker(self) -> dict[str, Any]:
        return self.stack.tracker(self.conversation_id)


@pytest.fixture
def channel_drivers(rasa_stack: RunningStack, shared_dir: Path) -> dict[str, Driver]:
    return drivers(shared_dir / "fixtures", rasa_stack.settings.public_url)


@pytest.fixture(params=CHANNELS)
def shopper(
    request: pytest.FixtureRequest,
    rasa_stack: RunningStack,
    fake_providers: FakeProviders,
    store: Database,
    channel_drivers: dict[str, Driver],
) -> Shopper:
    fake_providers.reset_faults()
    return Shopper(rasa_stack, fake_providers, store, channel_drivers[request.param])


def make_shopper(
    rasa_stack: RunningStack, fake: FakeProviders, store: Database, driver: Driver,
    sender: str | None = None,
) -> Shopper:  # fmt: skip
    fake.reset_faults()
    return Shopper(rasa_stack, fake, store, driver, sender)


# ------------------------------------------------------------------ per channel


def test_order_status_conversation(shopper: Shopper) -> None:
    assert "order number" in shopper.say("where is my order").lower()
    asked = shopper.say("10023")
    assert "email address or phone number" in asked and "10023" in asked

    status = shopper.say("ava.martin@example.com")

    assert "UPS" in status and TRACKING in status
    # Every reply went out once and is recorded as sent.
    rows = shopper.outbound()
    assert rows and all(r.status == "sent" and r.attempts == 1 for r in rows)
    assert len(rows) == len(shopper.sent())


def test_forged_signature_is_refused(shopper: Shopper) -> None:
    delivery = shopper.driver.message(shopper.sender, "where is my order")

    assert shopper.post(delivery.forged()).status_code == 403
    assert shopper.post(delivery.unsigned()).status_code == 403

    time.sleep(1)
    assert shopper.sent() == [] and shopper.inbound() == []
    assert not [e for e in shopper.tracker().get("events") or [] if e["event"] == "user"]


def test_duplicate_delivery_gets_one_reply(shopper: Shopper) -> None:
    delivery = shopper.driver.message(shopper.sender, "where is my order")

    with ThreadPoolExecutor(max_workers=4) as pool:  # concurrent redeliveries
        statuses = list(pool.map(lambda _: shopper.post(delivery).status_code, range(4)))
    assert statuses == [200] * 4
    shopper.deliveries = 1
    shopper.wait_for_turn()
    assert shopper.send(delivery, new=False) == []  # and a late one, after the turn

    time.sleep(1)
    [reply] = shopper.sent()
    assert "order number" in reply.text.lower()
    assert len(shopper.inbound()) == 1
    assert len([e for e in shopper.tracker()["events"] if e["event"] == "user"]) == 1


def test_buttons_round_trip(shopper: Shopper) -> None:
    [greeting] = shopper.send(shopper.driver.message(shopper.sender, "hi"))
    options = _options(shopper.driver.channel, greeting)
    assert [title for title, _ in options][:1] == ["Track my order"]
    number, (title, payload) = 1, options[0]

    replies = shopper.send(shopper.driver.choose(shopper.sender, number, title, payload))

    assert "order number" in "\n".join(r.text for r in replies).lower()
    latest = [e for e in shopper.tracker()["events"] if e["event"] == "user"][-1]
    assert latest["parse_data"]["intent"]["name"] == "track_order"


def _options(channel: str, record: Record) -> list[tuple[str, str]]:
    """(title, what choosing it sends) of the buttons as the shopper sees them."""
    if channel == "whatsapp":
        lines = [line for line in record.text.splitlines() if line[:1].isdigit()]
        return [(line.split(". ", 1)[1], line.split(".", 1)[0]) for line in lines]
    if channel == "messenger":
        replies = record.params["message"]["quick_replies"]
        return [(r["title"], r["payload"]) for r in replies]
    rows = record.params["reply_markup"]["inline_keyboard"]
    return [(row[0]["text"], row[0]["callback_data"]) for row in rows]


def test_inbound_media_reaches_the_conversation(shopper: Shopper) -> None:
    url = "https://media.example/damaged-zip.jpg"

    shopper.send(shopper.driver.media(shopper.sender, url))

    latest = [e for e in shopper.tracker()["events"] if e["event"] == "user"][-1]
    [attachment] = latest["metadata"]["attachments"]
    assert attachment["kind"] == "image"
    if shopper.driver.channel == "telegram":
        assert attachment["provider_file_id"] == "large-file-id"
    else:
        assert attachment["url"] == url


def test_provider_500_then_success_is_delivered_once(shopper: Shopper) -> None:
    shopper.fake.fail_next(shopper.driver.provider, 1, status=500)

    replies = shopper.send(shopper.driver.message(shopper.sender, "where is my order"))

    assert len(replies) == 1 and "order number" in replies[0].text.lower()
    attempts = shopper.fake.sent(shopper.driver.provider, shopper.sender, ok_only=False)
    assert [r.status >= 500 for r in attempts] == [True, False]
    [row] = shopper.outbound()
    assert (row.status, row.attempts) == ("sent", 2)


# ------------------------------------------------------------------ WhatsApp


def test_whatsapp_number_on_the_order_counts_as_verified(
    rasa_stack: RunningStack, fake_providers: FakeProviders, store: Database,
    channel_drivers: dict[str, Driver],
) -> None:  # fmt: skip
    ava = make_shopper(rasa_stack, fake_providers, store, channel_drivers["whatsapp"], AVA_PHONE)
    ava.say("where is my order")

    status = ava.say("10023")  # no e-mail asked: WhatsApp proved the number

    assert TRACKING in status and "email address or phone number" not in status


def test_whatsapp_24_hour_rule_through_rasas_api(
    rasa_stack: RunningStack, fake_providers: FakeProviders, store: Database,
    channel_drivers: dict[str, Driver],
) -> None:  # fmt: skip
    shopper = make_shopper(rasa_stack, fake_providers, store, channel_drivers["whatsapp"])
    shopper.say("hi")
    with store.session() as session:
        session.execute(
            update(ChannelConversation)
            .where(ChannelConversation.external_id == shopper.sender)
            .values(last_inbound_at=utc_now() - timedelta(hours=30))
        )
    before = len(shopper.sent())

    # What an agent follow-up looks like: a bot message pushed through Rasa's HTTP API.
    answer = requests.post(
        f"{rasa_stack.rasa_url}/conversations/{shopper.conversation_id}/trigger_intent",
        params={"token": rasa_stack.token, "output_channel": "whatsapp"},
        json={"name": "greet"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text

    [template] = eventually(lambda: shopper.sent()[before:])
    assert template.params["ContentSid"] == fake_providers.credentials.twilio_template_content_sid
    assert "Northwind" in json.loads(template.params["ContentVariables"])["1"]
    rows = shopper.outbound()
    assert [(r.kind, r.status) for r in rows[-2:]] == [("text", "blocked"), ("template", "sent")]


# ------------------------------------------------------------------ Telegram


def test_telegram_edit_corrects_the_order_number(
    rasa_stack: RunningStack, fake_providers: FakeProviders, store: Database,
    channel_drivers: dict[str, Driver],
) -> None:  # fmt: skip
    driver = channel_drivers["telegram"]
    assert isinstance(driver, TelegramDriver)
    shopper = make_shopper(rasa_stack, fake_providers, store, driver)
    shopper.say("where is my order")
    typo = shopper.send(driver.message(shopper.sender, "10032", message_id=501))
    assert "10032" in typo[-1].text

    corrected = shopper.send(driver.edit(shopper.sender, 501, "10023"))

    assert "10023" in corrected[-1].text and "email" in corrected[-1].text
    status = shopper.say("ava.martin@example.com")
    assert TRACKING in status
    # Only the corrected order was looked up and verified.
    assert shopper.tracker()["slots"]["verified_order_numbers"] == ["10023"]


def test_telegram_button_tap_is_answered(
    rasa_stack: RunningStack, fake_providers: FakeProviders, store: Database,
    channel_drivers: dict[str, Driver],
) -> None:  # fmt: skip
    driver = channel_drivers["telegram"]
    shopper = make_shopper(rasa_stack, fake_providers, store, driver)
    tap = driver.choose(shopper.sender, 1, "Track my order", "/track_order")
    query_id = json.loads(tap.body)["callback_query"]["id"]

    shopper.send(tap)

    answered = fake_providers.sent(TELEGRAM, method="answerCallbackQuery")
    assert query_id in [r.params["callback_query_id"] for r in answered]
