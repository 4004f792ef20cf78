"""The questions the order forms ask from code (actions/asking.py, actions/refunds.py), as the
shopper sees them: each action's messages rendered the way Rasa renders a custom action's
messages (its responses filled from domain/*.yml, buttons appended), against the demo shop.

The expected texts and payloads are what these actions said before their words moved into the
domain; rules and tests elsewhere depend on the payloads."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.asking import ActionAskConfirmed, ActionAskOrderNumber, ActionAskReturnItem
from actions.refunds import ActionRefundStatus
from actions.services import Services
from bot.domain.verification import VerificationPolicy
from bot.knowledge.policy_file import load_store_policy
from bot.settings import Settings
from bot.store.database import Database
from bot.store.repository import StoreRepository
from bot.store.seed import load_export

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "bot" / "store" / "demo_store.json"

Shown = list[tuple[str | None, list[tuple[str, str]]]]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain"))


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    database = Database(f"sqlite:///{tmp_path_factory.mktemp('store') / 'store.db'}")
    database.migrate()
    load_export(DEMO, database)
    settings = Settings.from_env({})
    yield Services(
        settings=settings,
        store=StoreRepository(database),
        verification=VerificationPolicy(max_attempts=3),
        policy=load_store_policy(settings.policy_file),
        now=lambda: datetime(2026, 11, 20, 12, tzinfo=UTC),
    )
    database.dispose()


def shown(domain: Domain, action: Action, slots: dict[str, Any], form: str | None) -> Shown:
    """(text, [(title, payload)]) of each message, as Rasa would send them to the channel."""
    dispatcher = CollectingDispatcher()
    sdk_tracker = Tracker(
        "shopper", slots, {}, [], False, None, {"name": form} if form else {}, "action_listen"
    )
    asyncio.run(action.run(dispatcher, sdk_tracker, {}))
    rasa_tracker = DialogueStateTracker.from_events(
        "shopper", [SlotSet(k, v) for k, v in slots.items()], slots=domain.slots
    )
    uttered = asyncio.run(
        RemoteAction._utter_responses(
            dispatcher.messages,
            CollectingOutputChannel(),
            TemplatedNaturalLanguageGenerator(domain.responses),
            rasa_tracker,
        )
    )
    return [
        (e.text, [(b["title"], b["payload"]) for b in e.data.get("buttons") or []]) for e in uttered
    ]


def verified(number: str, **slots: Any) -> dict[str, Any]:
    return {"order_number": number, "verified_order_numbers": [number], **slots}


UNAVAILABLE = (
    "I'm sorry, I can't reach our order system right now. Please try again in a few minutes, "
    "or ask for a person and our team will look it up for you."
)
YES, NO = "/affirm", "/deny"


def test_a_verified_shopper_picks_an_order(domain: Domain, services: Services) -> None:
    slots = {"verified_customer_id": "1"}
    assert shown(domain, ActionAskOrderNumber(services), slots, "return_form") == [
        (
            "Which order is it about? Pick one, or type another order number.",
            [
                ("#10023 · Nov 16 · shipped", '/inform{"order_id": "10023"}'),
                ("#10012 · Sep 7 · delivered", '/inform{"order_id": "10012"}'),
            ],
        )
    ]


def test_anyone_else_types_the_order_number(domain: Domain, services: Services) -> None:
    ((text, buttons),) = shown(domain, ActionAskOrderNumber(services), {}, "return_form")
    assert text is not None and text.startswith("Sure, I can help with that.")
    assert buttons == []


def test_the_return_item_is_picked_from_the_order_lines(domain: Domain, services: Services) -> None:
    assert shown(domain, ActionAskReturnItem(services), verified("10017"), "return_form") == [
        (
            "Which item would you like to return?",
            [
                ("Stormline Waterproof Jacket, Men's M", '/inform{"return_item": "9"}'),
                ("Ridgeback Trail Boots, Men's US 10", '/inform{"return_item": "10"}'),
                ("Trailhead Hiking Pants, 32x32", '/inform{"return_item": "11"}'),
                ("Merino Crew Base Layer, M", '/inform{"return_item": "12"}'),
            ],
        )
    ]


@pytest.mark.parametrize("action", [ActionAskReturnItem, ActionAskConfirmed])
def test_an_order_the_store_cannot_find_is_unavailable(
    domain: Domain, services: Services, action: type[Action]
) -> None:
    assert shown(domain, action(services), verified("99999"), "return_form") == [(UNAVAILABLE, [])]
    assert shown(domain, action(services), {"order_number": "10017"}, "return_form") == [
        (UNAVAILABLE, [])
    ]


CANCEL_BUTTONS = [("Yes, cancel it", YES), ("No, keep it", NO)]


def test_cancelling_a_paid_order_is_confirmed_with_its_refund(
    domain: Domain, services: Services
) -> None:
    assert shown(domain, ActionAskConfirmed(services), verified("10024"), "cancel_order_form") == [
        (
            "Here's what I'll cancel: order #10024 (1 x Cascade Half-Zip Fleece, S; 1 x Fireside "
            "Knit Beanie (clearance); total 108.97 USD). Cancelling is free. You'll get a full "
            "refund of 108.97 USD to your original payment method within 5-10 business days."
            "\n\nShall I cancel it?",
            CANCEL_BUTTONS,
        )
    ]


def test_cancelling_an_unpaid_order_with_a_fee(domain: Domain, services: Services) -> None:
    with_fee = replace(services, policy=replace(services.store_policy, cancellation_fee=Decimal(5)))
    assert shown(domain, ActionAskConfirmed(with_fee), verified("10025"), "cancel_order_form") == [
        (
            "Here's what I'll cancel: order #10025 (1 x Stormline Waterproof Jacket, Men's M; "
            "1 x Merino Crew Base Layer, M; total 282.95 USD). A cancellation fee of 5.00 USD "
            "applies. You haven't been charged, so there's nothing to refund."
            "\n\nShall I cancel it?",
            CANCEL_BUTTONS,
        )
    ]


def test_an_address_change_is_confirmed_from_and_to(domain: Domain, services: Services) -> None:
    slots = verified("10024", new_address="221 Pine St, Apt 4, Portland, OR 97205, US")
    assert shown(domain, ActionAskConfirmed(services), slots, "address_change_form") == [
        (
            "Change the delivery address of order #10024\n"
            "from: 2145 Valencia St, Apt 3, San Francisco, CA 94110, US\n"
            "to: 221 Pine St, Apt 4, Portland, OR 97205, US\n\nShall I make the change?",
            [
                ("Yes, change it", YES),
                ("Fix the address", '/inform{"correction": "new_address"}'),
                ("No, leave it", NO),
            ],
        )
    ]


RETURN_BUTTONS = [
    ("Yes, open it", YES),
    ("Change item", '/inform{"correction": "return_item"}'),
    ("Change reason", '/inform{"correction": "return_reason"}'),
    ("Change condition", '/inform{"correction": "return_condition"}'),
    ("No, stop", NO),
]


def test_a_return_is_confirmed_with_its_summary(domain: Domain, services: Services) -> None:
    slots = verified(
        "10017", return_item="10", return_reason="too_small", return_condition="unused"
    )
    assert shown(domain, ActionAskConfirmed(services), slots, "return_form") == [
        (
            "Return for order #10017: 1 x Ridgeback Trail Boots, Men's US 10; reason: too small; "
            "condition: opened, not used. Refund: 159.00 USD to your original payment method, "
            "5-10 business days after we receive and check the item. The return label is free."
            "\n\nShall I open the return?",
            RETURN_BUTTONS,
        )
    ]


def test_a_return_without_answers_is_confirmed_by_its_order(
    domain: Domain, services: Services
) -> None:
    assert shown(domain, ActionAskConfirmed(services), verified("10017"), "return_form") == [
        ("Return for order #10017.\n\nShall I open the return?", RETURN_BUTTONS)
    ]


@pytest.mark.parametrize(
    ("number", "buttons"),
    [
        ("10012", [("Start a return", "/start_return")]),
        ("10037", [("Talk to a person", "/contact_human_agent")]),
        ("10018", []),
    ],
)
def test_refund_status_offers_the_next_step(
    domain: Domain, services: Services, number: str, buttons: list[tuple[str, str]]
) -> None:
    order = services.store.find_order(number)
    assert order is not None
    expected = services.refund_describer.describe(order, services.today()).text
    assert shown(domain, ActionRefundStatus(services), verified(number), "refund_status_form") == [
        (expected, buttons)
    ]
