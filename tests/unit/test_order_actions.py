"""Order-status actions against a real (SQLite) store seeded with the demo shop, no Rasa."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import OperationalError

from actions.asking import ActionAskConfirmed, ActionAskReturnItem
from actions.changes import ActionSubmitCancelOrder
from actions.order_forms import ALREADY_VERIFIED
from actions.orders import ActionOrderStatus, ValidateOrderStatusForm
from actions.refunds import ActionRefundStatus
from actions.returns import ActionSubmitReturn
from actions.services import Services
from bot.domain.verification import VerificationPolicy
from bot.settings import Settings
from bot.store.database import Database
from bot.store.errors import StoreUnavailableError
from bot.store.order_commands import CancelResult, OrderChangeConflict, ReturnResult
from bot.store.repository import StoreRepository
from bot.store.seed import load_export

DEMO = Path(__file__).resolve().parents[2] / "bot" / "store" / "demo_store.json"
REFERENCE_DAY = date(2026, 11, 20)  # the demo export's reference_date: no rebasing needed


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    database = Database(f"sqlite:///{tmp_path_factory.mktemp('store') / 'store.db'}")
    database.migrate()
    load_export(DEMO, database)
    yield Services(
        settings=Settings.from_env({}),
        store=StoreRepository(database),
        verification=VerificationPolicy(max_attempts=3),
        now=lambda: datetime(2026, 11, 20, 12, tzinfo=UTC),
    )
    database.dispose()


def tracker(slots: dict[str, Any], sender: str = "shopper-1", channel: str = "rest") -> Tracker:
    events = [{"event": "user", "text": "hi", "input_channel": channel, "parse_data": {}}]
    return Tracker(sender, slots, {}, events, False, None, {}, "action_listen")


DOMAIN = {"forms": {"order_status_form": {"required_slots": ["order_number", "contact"]}}}


def validate(services: Services, slot: str, value: str, slots: dict[str, Any]) -> dict[str, Any]:
    action = ValidateOrderStatusForm(services)
    dispatcher = CollectingDispatcher()
    method = getattr(action, f"validate_{slot}")
    result = method(value, dispatcher, tracker({**slots, slot: value}), DOMAIN)
    result["_responses"] = [m.get("response") for m in dispatcher.messages]
    return result


@pytest.mark.parametrize(
    ("typed", "expected"), [("#10023", "10023"), ("ORD-10023", "10023"), ("99999", "99999")]
)
def test_order_number_is_normalised_without_revealing_existence(
    services: Services, typed: str, expected: str
) -> None:
    result = validate(services, "order_number", typed, {})
    assert result["order_number"] == expected
    assert result["contact"] is None  # nothing tells an unknown number apart from a real one


def test_invalid_order_number_is_refused(services: Services) -> None:
    result = validate(services, "order_number", "next tuesday", {})
    assert result["order_number"] is None
    assert result["_responses"] == ["utter_invalid_order_number"]


def test_right_contact_verifies_and_masks(services: Services) -> None:
    result = validate(services, "contact", "ava.martin@example.com", {"order_number": "10023"})
    assert result["verified_order_numbers"] == ["10023"]
    assert result["verification_failures"] == 0.0
    assert result["contact"] == "a***@example.com"


@pytest.mark.parametrize("phone", ["+1 415 555 0123", "4155550123"])
def test_a_typed_phone_verifies_only_with_the_postcode(services: Services, phone: str) -> None:
    # docs/self-service.md, "What counts as proof": the phone is not checked on its own.
    asked = validate(services, "contact", phone, {"order_number": "10023"})
    assert asked["contact"] is None and asked["_responses"] == []
    assert "verified_order_numbers" not in asked
    pending = {"order_number": "10023", "verification_phone": asked["verification_phone"]}
    result = validate(services, "contact", "94110", pending)
    assert result["verified_order_numbers"] == ["10023"]
    assert result["contact"] in {"+***0123", "***0123"}


@pytest.mark.parametrize(
    ("number", "contact"), [("10023", "liam.chen@example.com"), ("99999", "ava.martin@example.com")]
)
def test_mismatch_resets_both_slots_and_counts(
    services: Services, number: str, contact: str
) -> None:
    result = validate(services, "contact", contact, {"order_number": number})
    assert result["order_number"] is None and result["contact"] is None
    assert result["verification_failures"] == 1.0
    assert result["_responses"] == ["utter_verification_failed"]
    assert "verified_customer_id" not in result


def test_verified_customer_skips_contact_for_own_orders_only(services: Services) -> None:
    ava = services.store.find_order("10023")
    assert ava is not None
    verified = {"verified_customer_id": str(ava.customer.id), "verified_order_numbers": ["10023"]}
    own = validate(services, "order_number", "10024", verified)
    assert own["contact"] == ALREADY_VERIFIED
    assert own["verified_order_numbers"] == ["10023", "10024"]
    other = validate(services, "order_number", "10031", verified)
    assert other["contact"] is None


def test_linked_channel_identity_counts_as_verified(services: Services) -> None:
    ava = services.store.find_order("10023")
    assert ava is not None
    services.store.link_identity("webchat", "browser-42", ava.customer.id)
    action = ValidateOrderStatusForm(services)
    result = action.validate_order_number(
        "10024", CollectingDispatcher(), tracker({}, "browser-42", "webchat"), DOMAIN
    )
    assert result["contact"] == ALREADY_VERIFIED


def run_status(services: Services, slots: dict[str, Any]) -> tuple[list[dict], list[dict]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionOrderStatus(services).run(dispatcher, tracker(slots), {}))
    return dispatcher.messages, events


def test_status_for_verified_order(services: Services) -> None:
    messages, events = run_status(
        services, {"order_number": "10023", "verified_order_numbers": ["10023"]}
    )
    assert "1Z999AA10123456784" in messages[0]["text"]
    assert "in 2 days" in messages[0]["text"]
    assert {e["name"]: e["value"] for e in events} == {"order_number": None, "contact": None}


def test_no_status_without_verification(services: Services) -> None:
    messages, _ = run_status(services, {"order_number": "10023", "verified_order_numbers": []})
    assert messages == []


def test_locked_verification_says_so(services: Services) -> None:
    messages, _ = run_status(services, {"order_number": "10023", "verification_failures": 3.0})
    assert [m["response"] for m in messages] == ["utter_verification_locked"]


class UnreachableStore:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def find_order(self, number: str) -> None:
        raise self.error


DATABASE_DOWN = OperationalError("SELECT", {}, Exception("connection refused"))
SHOPIFY_DOWN = StoreUnavailableError("Shopify cannot be reached: 503")


@pytest.mark.parametrize("error", [DATABASE_DOWN, SHOPIFY_DOWN], ids=["database", "shopify"])
@pytest.mark.parametrize(
    "action",
    [ActionOrderStatus, ActionAskReturnItem, ActionAskConfirmed, ActionSubmitCancelOrder,
     ActionRefundStatus],
)  # fmt: skip
def test_an_unreachable_store_is_said_to_be_unavailable(
    services: Services, action: type[Action], error: Exception
) -> None:
    down = replace(services, store=cast(StoreRepository, UnreachableStore(error)))
    dispatcher = CollectingDispatcher()
    slots = {"order_number": "10023", "verified_order_numbers": ["10023"]}
    asyncio.run(action(down).run(dispatcher, tracker(slots), {}))
    assert [m["response"] for m in dispatcher.messages] == ["utter_order_lookup_unavailable"]


class ShopCommands:
    """Order changes as a shop system that is down, or that refuses, answers them."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    def cancel(self, number: str) -> CancelResult:
        self.calls += 1
        raise self.error


class AddressRefused(OrderChangeConflict):
    order_moved_on = False


@pytest.mark.parametrize(
    ("error", "response"),
    [
        (SHOPIFY_DOWN, "utter_change_unavailable"),
        (OrderChangeConflict("order 10024 is already fulfilled"), "utter_change_conflict"),
        (AddressRefused("Shopify: address is not valid"), "utter_change_refused"),
    ],
    ids=["shop down", "order moved on", "shop refused"],
)
def test_a_change_the_shop_does_not_confirm_is_never_reported_done(
    services: Services, error: Exception, response: str
) -> None:
    commands = ShopCommands(error)
    shop = replace(services, commands=cast(Any, commands))
    dispatcher = CollectingDispatcher()
    slots = {"order_number": "10024", "verified_order_numbers": ["10024"], "confirmed": "yes"}
    asyncio.run(ActionSubmitCancelOrder(shop).run(dispatcher, tracker(slots), {}))
    assert commands.calls == 1
    assert [m["response"] for m in dispatcher.messages] == [response]


class ApprovalShop:
    """Return requests as Shopify takes them: recorded, awaiting the shop's approval."""

    def __init__(self, store: StoreRepository) -> None:
        self.store = store

    def request_return(self, number: str, order_line_id: int, **_: Any) -> ReturnResult:
        view = self.store.find_order(number)
        assert view is not None
        return ReturnResult(view, "RMA-900000123", True, awaiting_approval=True)


def test_a_return_the_shop_must_approve_is_not_described_as_open(services: Services) -> None:
    view = services.store.find_order("10038")
    assert view is not None
    shop = replace(
        services, commands=cast(Any, ApprovalShop(cast(StoreRepository, services.store)))
    )
    dispatcher = CollectingDispatcher()
    slots = {
        "order_number": "10038", "verified_order_numbers": ["10038"], "confirmed": "yes",
        "return_item": str(view.lines[0].id), "return_reason": "too_small",
        "return_condition": "unused",
    }  # fmt: skip
    asyncio.run(ActionSubmitReturn(shop).run(dispatcher, tracker(slots), {}))
    responses = [m["response"] for m in dispatcher.messages]
    assert responses == ["utter_return_requested"]
    assert dispatcher.messages[0]["rma_number"] == "RMA-900000123"
