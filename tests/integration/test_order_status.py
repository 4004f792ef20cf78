"""The order-status conversation through Rasa's real HTTP channel, against the demo store."""

from __future__ import annotations

import re

import pytest

from tests.conftest import RunningStack
from tests.integration.conversation import texts

pytestmark = pytest.mark.integration


def test_greeting_offers_menu_buttons(rasa_stack: RunningStack, sender_id: str) -> None:
    reply = rasa_stack.say(sender_id, "hi")
    assert "Northwind" in texts(reply)
    buttons = [b["payload"] for m in reply for b in m.get("buttons", [])]
    assert "/track_order" in buttons


def test_order_status_happy_path_by_email(rasa_stack: RunningStack, sender_id: str) -> None:
    assert "order number" in texts(rasa_stack.say(sender_id, "where is my order")).lower()
    ask_contact = texts(rasa_stack.say(sender_id, "#10023"))
    assert "email" in ask_contact.lower() and "10023" in ask_contact
    status = texts(rasa_stack.say(sender_id, "ava.martin@example.com"))
    assert "UPS" in status
    assert "1Z999AA10123456784" in status
    assert re.search(r"https://\S+1Z999AA10123456784", status)
    assert "Expected delivery" in status and "in 2 days" in status


@pytest.mark.parametrize("order_form", ["10023", "ORD-10023", "order no. 10023"])
def test_order_number_forms_and_phone(
    rasa_stack: RunningStack, sender_id: str, order_form: str
) -> None:
    rasa_stack.say(sender_id, "where is my order")
    rasa_stack.say(sender_id, order_form)
    # A typed phone counts only with the delivery postcode (docs/self-service.md).
    asked = texts(rasa_stack.say(sender_id, "+1 (415) 555-0123"))
    assert "postcode" in asked.lower() and "1Z999AA10123456784" not in asked
    status = texts(rasa_stack.say(sender_id, "94110"))
    assert "1Z999AA10123456784" in status


def test_order_number_inline_skips_the_question(rasa_stack: RunningStack, sender_id: str) -> None:
    reply = texts(rasa_stack.say(sender_id, "where is my order #10023"))
    assert "email address or phone number" in reply and "10023" in reply


def test_wrong_contact_reveals_nothing(rasa_stack: RunningStack, sender_id: str) -> None:
    rasa_stack.say(sender_id, "where is my order")
    rasa_stack.say(sender_id, "10023")
    reply = texts(rasa_stack.say(sender_id, "someone.else@example.com"))
    for secret in ("UPS", "1Z999AA10123456784", "Ava", "Martin", "shipped", "a***@"):
        assert secret not in reply
    assert "couldn't find an order #10023 that matches" in reply


def test_unknown_order_and_wrong_contact_are_indistinguishable(
    rasa_stack: RunningStack, sender_id: str
) -> None:
    def attempt(sender: str, number: str) -> str:
        rasa_stack.say(sender, "where is my order")
        rasa_stack.say(sender, number)
        return texts(rasa_stack.say(sender, "someone.else@example.com"))

    wrong_contact = attempt(sender_id + "-a", "10031")
    unknown_order = attempt(sender_id + "-b", "99999")
    assert wrong_contact.replace("10031", "N") == unknown_order.replace("99999", "N")
    # Helpful: it says where to find the number and asks again.
    assert "confirmation email" in unknown_order
    assert "order number" in unknown_order.lower()


def test_three_failures_lock_verification(rasa_stack: RunningStack, sender_id: str) -> None:
    rasa_stack.say(sender_id, "where is my order")
    for attempt in range(3):
        rasa_stack.say(sender_id, "10023")
        reply = texts(rasa_stack.say(sender_id, f"wrong{attempt}@example.com"))
    assert "stop asking" in reply
    # Even the right details are refused now, and the bot offers a person instead.
    rasa_stack.say(sender_id, "where is my order")
    later = rasa_stack.say(sender_id, "track order 10023")
    later += rasa_stack.say(sender_id, "ava.martin@example.com")
    assert "1Z999AA10123456784" not in texts(later)


def test_verified_shopper_is_not_asked_again(rasa_stack: RunningStack, sender_id: str) -> None:
    rasa_stack.say(sender_id, "where is my order 10023")
    rasa_stack.say(sender_id, "ava.martin@example.com")
    reply = texts(rasa_stack.say(sender_id, "and where is order 10024?"))
    assert "email address or phone number" not in reply
    assert "#10024" in reply and "hasn't shipped yet" in reply


def test_problem_shipments_apologise_and_offer_a_person(
    rasa_stack: RunningStack, sender_id: str
) -> None:
    from bot.store.database import Database
    from bot.store.repository import StoreRepository

    store = StoreRepository(Database(rasa_stack.settings.database_url))
    for number in ("10040", "10041"):
        order = store.find_order(number)
        assert order is not None
        sender = f"{sender_id}-{number}"
        rasa_stack.say(sender, f"where is order {number}")
        reply = rasa_stack.say(sender, order.customer.email)
        assert "sorry" in texts(reply).lower()
        buttons = [b["payload"] for m in reply for b in m.get("buttons", [])]
        assert "/contact_human_agent" in buttons


def test_request_for_a_person_gets_an_honest_answer(
    rasa_stack: RunningStack, sender_id: str
) -> None:
    # The human handoff (tests/handoff/ covers it fully): a ticket and an honest expectation.
    reply = texts(rasa_stack.say(sender_id, "I want to talk to a human"))
    assert "support team (case #" in reply and "in the queue" in reply
