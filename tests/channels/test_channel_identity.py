"""Channel identities in order verification (actions/verification.py) over the demo store:
a WhatsApp number equal to the phone on the order counts as verified; identities are stored
with the provider's id, not the channel-qualified conversation id."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rasa_sdk import Tracker

from actions.services import Services
from actions.verification import OrderVerifier, channel_identity, whatsapp_number_is_order_phone
from bot.domain.contacts import Contact, ContactKind
from bot.domain.verification import VerificationPolicy
from bot.settings import Settings
from bot.store.database import Database
from bot.store.repository import StoreRepository
from bot.store.seed import load_export

DEMO = Path(__file__).resolve().parents[2] / "bot" / "store" / "demo_store.json"
AVA_PHONE = "+14155550123"  # on orders 10012, 10023, 10024


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    database = Database(f"sqlite:///{tmp_path_factory.mktemp('store') / 'store.db'}")
    database.migrate()
    load_export(DEMO, database)
    yield Services(
        settings=Settings.from_env({}),
        store=StoreRepository(database),
        verification=VerificationPolicy(max_attempts=3),
    )
    database.dispose()


def tracker(sender: str, channel: str) -> Tracker:
    events = [{"event": "user", "text": "hi", "input_channel": channel, "parse_data": {}}]
    return Tracker(sender, {}, {}, events, False, None, {}, "action_listen")


@pytest.mark.parametrize(
    ("sender", "channel", "expected"),
    [
        ("whatsapp:+14155550123", "whatsapp", ("whatsapp", "+14155550123")),
        ("telegram:42", "telegram", ("telegram", "42")),
        (
            "3f2a9c0e1b7d4e6f8a9b0c1d2e3f4a5b",
            "webchat",
            ("webchat", "3f2a9c0e1b7d4e6f8a9b0c1d2e3f4a5b"),
        ),
    ],
)
def test_channel_identity(sender: str, channel: str, expected: tuple[str, str]) -> None:
    assert channel_identity(tracker(sender, channel)) == expected


@pytest.mark.parametrize(
    ("channel", "number", "phone", "expected"),
    [
        ("whatsapp", "+14155550123", "+14155550123", True),
        ("whatsapp", "+14155550124", "+14155550123", False),
        ("whatsapp", "+14155550123", None, False),
        ("whatsapp", "4155550123", "+14155550123", False),  # WhatsApp ids are full E.164
        ("telegram", "+14155550123", "+14155550123", False),  # only WhatsApp proves a number
        ("webchat", "+14155550123", "+14155550123", False),
    ],
)
def test_whatsapp_number_rule(channel: str, number: str, phone: str | None, expected: bool) -> None:
    assert whatsapp_number_is_order_phone(channel, number, phone) is expected


def test_the_order_phone_on_whatsapp_is_verified_and_linked(services: Services) -> None:
    order = services.store.find_order("10023")
    assert order is not None
    verifier = OrderVerifier(services)

    assert verifier.already_verified(tracker(f"whatsapp:{AVA_PHONE}", "whatsapp"), order)

    linked = services.store.customer_for_identity("whatsapp", AVA_PHONE)
    assert linked is not None and linked.email == "ava.martin@example.com"


def test_another_whatsapp_number_must_verify(services: Services) -> None:
    order = services.store.find_order("10023")
    assert order is not None
    shopper = tracker("whatsapp:+15550001111", "whatsapp")
    verifier = OrderVerifier(services)

    assert not verifier.already_verified(shopper, order)
    result = verifier.verify(shopper, "10023", Contact(ContactKind.EMAIL, "ava.martin@example.com"))

    assert result.order is not None
    # Linked under the provider's id, so the next conversation on WhatsApp is recognised.
    assert services.store.customer_for_identity("whatsapp", "+15550001111") is not None
    assert services.store.customer_for_identity("whatsapp", "whatsapp:+15550001111") is None
    assert verifier.already_verified(tracker("whatsapp:+15550001111", "whatsapp"), order)


def test_a_telegram_chat_linked_to_one_customer_is_not_verified_for_another(
    services: Services,
) -> None:
    verifier = OrderVerifier(services)
    chat = tracker("telegram:777", "telegram")
    verifier.verify(chat, "10023", Contact(ContactKind.EMAIL, "ava.martin@example.com"))
    other = services.store.find_order("10031")  # Liam Chen's
    mine = services.store.find_order("10024")  # Ava's
    assert other is not None and mine is not None

    assert verifier.already_verified(chat, mine)
    assert not verifier.already_verified(chat, other)
