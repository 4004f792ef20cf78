"""The order forms' verification step with the store-wide attempt limits (actions/order_forms.py,
actions/verification.py), against a real SQLite store seeded with the demo shop, no Rasa."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.order_forms import ActionAskContact
from actions.orders import ValidateOrderStatusForm
from actions.services import Services
from bot.domain.verification import VerificationPolicy
from bot.settings import Settings
from bot.store.database import Database
from bot.store.repository import StoreRepository
from bot.store.seed import load_export
from bot.store.verification_attempts import VerificationAttemptStore
from bot.store.verification_models import AttemptOutcome
from handoff.domain.escalation import EscalationDecision, Reason

DEMO = Path(__file__).resolve().parents[2] / "bot" / "store" / "demo_store.json"
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
DOMAIN = {"forms": {"order_status_form": {"required_slots": ["order_number", "contact"]}}}
LOCKED = "utter_verification_locked_handoff"
EVALUATED = [AttemptOutcome.FAILED, AttemptOutcome.VERIFIED]


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    database = Database(f"sqlite:///{tmp_path / 'store.db'}")
    database.migrate()
    load_export(DEMO, database)
    yield Services(
        settings=Settings.from_env({}),
        store=StoreRepository(database),
        verification=VerificationPolicy(max_attempts=3),
        attempts=VerificationAttemptStore(database, clock=lambda: NOW),
        now=lambda: NOW,
    )
    database.dispose()


def tracker(slots: dict[str, Any], sender: str, channel: str = "rest") -> Tracker:
    events = [{"event": "user", "text": "hi", "input_channel": channel, "parse_data": {}}]
    return Tracker(sender, slots, {}, events, False, None, {}, "action_listen")


def validate(
    services: Services, slot: str, value: str, slots: dict[str, Any], sender: str
) -> dict[str, Any]:
    dispatcher = CollectingDispatcher()
    method = getattr(ValidateOrderStatusForm(services), f"validate_{slot}")
    result = method(value, dispatcher, tracker({**slots, slot: value}, sender), DOMAIN)
    result["_responses"] = [m.get("response") for m in dispatcher.messages]
    return result


def guess(services: Services, sender: str, number: str, contact: str) -> dict[str, Any]:
    asked = validate(services, "order_number", number, {}, sender)
    if asked["_responses"]:
        return asked  # refused before a contact was asked for
    return validate(services, "contact", contact, {"order_number": number}, sender)


def evaluated(services: Services, number: str) -> int:
    assert services.attempts is not None
    return services.attempts.count(order_number=number, outcomes=EVALUATED)


def test_new_conversations_do_not_get_new_guesses(services: Services) -> None:
    replies = [
        guess(services, f"attacker-{n}", "10023", f"guess{n}@example.com")["_responses"]
        for n in range(10)
    ]
    assert replies[:4] == [["utter_verification_failed"]] * 4
    assert replies[4] == [LOCKED]  # the 5th failure locks at once: no "try again"
    assert replies[5:] == [[LOCKED]] * 5  # refused before a contact is even asked for
    assert evaluated(services, "10023") == 5
    # Even the right e-mail, from a new conversation, gets the person path, unchecked.
    owner = validate(
        services, "contact", "ava.martin@example.com", {"order_number": "10023"}, "owner"
    )
    assert owner["_responses"] == [LOCKED] and "verified_order_numbers" not in owner
    assert evaluated(services, "10023") == 5


def test_a_lock_asks_for_a_person_and_reveals_nothing(services: Services) -> None:
    for number in ("10023", "99999"):  # a real order and one that does not exist
        for n in range(5):
            guess(services, f"{number}-{n}", number, f"guess{n}@example.com")
    real = validate(services, "order_number", "10023", {}, "later-a")
    unknown = validate(services, "order_number", "99999", {}, "later-b")
    assert real == unknown  # the same words and slots for both
    assert real["_responses"] == [LOCKED]
    assert real["verification_locked"] is True
    assert real["order_number"] is None and real["contact"] is None
    decision = EscalationDecision.from_json(real["handoff_decision"])
    assert decision.reasons == (Reason.VERIFICATION_LOCKED,)


def test_the_form_hands_over_to_a_person_when_locked(services: Services) -> None:
    for n in range(5):
        guess(services, f"attacker-{n}", "10023", f"guess{n}@example.com")
    events = [
        {"event": "user", "text": "10023", "input_channel": "rest", "parse_data": {}},
        {"event": "slot", "name": "order_number", "value": "10023"},
    ]
    form_tracker = Tracker(
        "newcomer", {"order_number": "10023", "requested_slot": "order_number"}, {}, events,
        False, None, {"name": "order_status_form"}, "action_listen",
    )  # fmt: skip
    dispatcher = CollectingDispatcher()
    result = asyncio.run(ValidateOrderStatusForm(services).run(dispatcher, form_tracker, DOMAIN))
    assert {"event": "followup", "name": "action_handoff"} in [
        {k: e.get(k) for k in ("event", "name")} for e in result
    ]
    assert {"event": "slot", "name": "requested_slot", "value": None} in [
        {k: e.get(k) for k in ("event", "name", "value")} for e in result
    ]  # the form ends; the handoff follows


def test_a_typed_phone_costs_one_guess_with_its_postcode(services: Services) -> None:
    asked = validate(services, "contact", "+1 415 555 0123", {"order_number": "10023"}, "s")
    assert asked["_responses"] == [] and asked["contact"] is None
    assert asked["verification_phone"] == "+14155550123"
    assert evaluated(services, "10023") == 0  # not checked alone: nothing to learn from it
    pending = {"order_number": "10023", "verification_phone": "+14155550123"}
    wrong = validate(services, "contact", "94111", pending, "s")
    assert wrong["_responses"] == ["utter_verification_failed"]
    assert wrong["verification_phone"] is None and wrong["order_number"] is None
    assert evaluated(services, "10023") == 1
    not_a_postcode = validate(services, "contact", "no idea", pending, "s")
    assert not_a_postcode["_responses"] == ["utter_invalid_postcode"]
    assert evaluated(services, "10023") == 1
    right = validate(services, "contact", "my zip is 94110", pending, "s")
    assert right["verified_order_numbers"] == ["10023"] and right["contact"] == "+***0123"


def test_the_question_after_a_phone_is_the_postcode(services: Services) -> None:
    def ask(slots: dict[str, Any]) -> list[str | None]:
        dispatcher = CollectingDispatcher()
        asyncio.run(ActionAskContact().run(dispatcher, tracker(slots, "s"), DOMAIN))
        return [m.get("response") for m in dispatcher.messages]

    assert ask({"order_number": "10023"}) == ["utter_ask_contact"]
    assert ask({"order_number": "10023", "verification_phone": "+14155550123"}) == [
        "utter_ask_postcode_for_phone"
    ]


def test_the_order_phone_on_whatsapp_is_proof_even_when_the_order_is_locked(
    services: Services,
) -> None:
    for n in range(5):
        guess(services, f"attacker-{n}", "10023", f"guess{n}@example.com")
    dispatcher = CollectingDispatcher()
    result = ValidateOrderStatusForm(services).validate_order_number(
        "10023", dispatcher, tracker({}, "whatsapp:+14155550123", "whatsapp"), DOMAIN
    )
    # Twilio-signed, not a guess: neither counted nor refused (and the owner is not locked out
    # of self-service by someone else's guessing).
    assert result["verified_order_numbers"] == ["10023"]
    assert dispatcher.messages == []


def test_a_success_does_not_reset_the_conversation_count(services: Services) -> None:
    # Failing at other orders, then proving one's own, must not buy fresh guesses.
    result = validate(
        services, "contact", "ava.martin@example.com",
        {"order_number": "10023", "verification_failures": 2.0}, "s",
    )  # fmt: skip
    assert result["verified_order_numbers"] == ["10023"]
    assert result["verification_failures"] == 2.0


def test_the_source_limit_holds_across_orders(services: Services) -> None:
    for number in ("10024", "10025", "10026", "10027", "10028"):
        guess(services, "one-sender", number, "guess@example.com")
    refused = validate(services, "order_number", "10031", {}, "one-sender")
    assert refused["_responses"] == [LOCKED]
    other = validate(services, "order_number", "10031", {}, "someone-else")
    assert other["_responses"] == [] and other["order_number"] == "10031"
