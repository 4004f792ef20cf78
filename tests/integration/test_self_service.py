"""Self-service flows through Rasa's HTTP channel, checking the store changes in the database."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.store.models import Order, Refund, ReturnRequest
from bot.store.return_attachments import ReturnAttachment
from tests.conftest import RunningStack
from tests.integration.conversation import count, order_view, payloads, texts, ticket_reasons
from tests.integration.shop_factory import make_order

pytestmark = pytest.mark.integration


def verify(stack: RunningStack, sender: str, opening: str, order: dict) -> list[dict]:
    stack.say(sender, opening)
    stack.say(sender, order["number"])
    return stack.say(sender, order["email"])


# -- order status ------------------------------------------------------------------------------
def test_delivered_but_not_received_hands_over_to_a_person(
    rasa_stack: RunningStack, sender_id: str
) -> None:
    order = make_order(rasa_stack.settings.database_url, skus=["NW-TEE-MERINO-M"],
                       delivered_days_ago=1)  # fmt: skip
    status = texts(verify(rasa_stack, sender_id, "where is my order", order))
    assert "was delivered" in status
    reply = texts(rasa_stack.say(sender_id, "it says delivered but I don't have it"))
    assert "passed your conversation to our support team" in reply
    # the carrier says delivered, the shopper says not: conflicting data, shipping queue
    assert ticket_reasons(rasa_stack, sender_id)[0] == "conflicting_data"


# -- cancellation ------------------------------------------------------------------------------
def test_cancel_confirmed_cancels_once_and_refunds_once(
    rasa_stack: RunningStack, sender_id: str
) -> None:
    order = make_order(rasa_stack.settings.database_url, skus=["NW-JKT-STORM-M"])
    question = texts(verify(rasa_stack, sender_id, "I want to cancel my order", order))
    assert "Here's what I'll cancel" in question and "Stormline" in question
    assert "Shall I cancel it?" in question
    done = texts(rasa_stack.say(sender_id, "yes please"))
    assert "is cancelled" in done and "refund of" in done
    # A retried confirmation and a second request change nothing.
    rasa_stack.say(sender_id, "yes")
    again = texts(verify(rasa_stack, sender_id + "-2", "cancel my order please", order))
    assert "already cancelled" in again
    assert order_view(rasa_stack, order["number"]).status == "cancelled"
    refunds = count(rasa_stack, select(func.count()).select_from(Refund).join(Order).where(
        Order.number == order["number"]))  # fmt: skip
    assert refunds == 1


def test_cancel_declined_changes_nothing(rasa_stack: RunningStack, sender_id: str) -> None:
    order = make_order(rasa_stack.settings.database_url, skus=["NW-TEE-MERINO-M"])
    verify(rasa_stack, sender_id, "cancel order", order)
    assert "left order" in texts(rasa_stack.say(sender_id, "no"))
    assert order_view(rasa_stack, order["number"]).status == "paid"


def test_shipped_order_cannot_be_cancelled_and_a_return_is_offered(
    rasa_stack: RunningStack, sender_id: str
) -> None:
    rasa_stack.say(sender_id, "i need to cancel an order")
    rasa_stack.say(sender_id, "10023")
    reply = texts(rasa_stack.say(sender_id, "ava.martin@example.com"))
    assert "can't be cancelled" in reply and "return" in reply


def test_stopping_mid_form_changes_nothing(rasa_stack: RunningStack, sender_id: str) -> None:
    order = make_order(rasa_stack.settings.database_url, skus=["NW-TEE-MERINO-M"])
    rasa_stack.say(sender_id, "I want to cancel my order")
    rasa_stack.say(sender_id, order["number"])
    assert "nothing was changed" in texts(rasa_stack.say(sender_id, "no, forget it"))
    assert order_view(rasa_stack, order["number"]).status == "paid"


# -- address change ----------------------------------------------------------------------------
def test_address_change_before_cutoff(rasa_stack: RunningStack, sender_id: str) -> None:
    order = make_order(rasa_stack.settings.database_url, skus=["NW-FLC-CASCADE-S"])
    ask = texts(verify(rasa_stack, sender_id, "I need to change my shipping address", order))
    assert "new delivery address" in ask
    unclear = texts(rasa_stack.say(sender_id, "my office please"))
    assert "couldn't read that" in unclear
    confirm = texts(rasa_stack.say(sender_id, "221 Pine St, Apt 4, Portland, OR 97205"))
    assert "221 Pine St, Apt 4, Portland, OR 97205, US" in confirm and "1 Market St" in confirm
    done = texts(rasa_stack.say(sender_id, "yes"))
    assert "will now be delivered to 221 Pine St" in done
    address = order_view(rasa_stack, order["number"]).shipping_address
    assert (address.line1, address.city, address.postal_code) == (
        "221 Pine St",
        "Portland",
        "97205",
    )


def test_address_change_after_cutoff_offers_a_person(
    rasa_stack: RunningStack, sender_id: str
) -> None:
    order = make_order(
        rasa_stack.settings.database_url, skus=["NW-FLC-CASCADE-S"], paid_hours_ago=30
    )
    reply = verify(rasa_stack, sender_id, "can I change the delivery address", order)
    assert "can't change its address" in texts(reply)
    assert "/contact_human_agent" in payloads(reply)
    assert order_view(rasa_stack, order["number"]).shipping_address.line1 == "1 Market St"


# -- returns -----------------------------------------------------------------------------------
def test_eligible_return_creates_one_rma(rasa_stack: RunningStack, sender_id: str) -> None:
    url = rasa_stack.settings.database_url
    order = make_order(url, skus=["NW-BOOT-RIDGE-10", "NW-SCK-WOOL-3PK"], delivered_days_ago=6)
    ask_item = verify(rasa_stack, sender_id, "I'd like to return something", order)
    assert "Which item" in texts(ask_item)
    boots = next(p for m in ask_item for b in m["buttons"] if "Ridgeback" in b["title"]
                 for p in [b["payload"]])  # fmt: skip
    assert "Why are you returning" in texts(rasa_stack.say(sender_id, boots))
    assert "condition" in texts(rasa_stack.say(sender_id, "they're too small"))
    summary = texts(rasa_stack.say(sender_id, '/inform{"return_condition":"unused"}'))
    assert "Ridgeback" in summary and "too small" in summary and "open the return" in summary
    # Correct an answer before confirming.
    rasa_stack.say(sender_id, '/inform{"correction":"return_reason"}')
    summary = texts(rasa_stack.say(sender_id, "changed my mind"))
    assert "changed my mind" in summary
    done = texts(rasa_stack.say(sender_id, "yes"))
    assert "Your return is open: RMA-" in done and "returns.northwind.example/labels/RMA-" in done
    rasa_stack.say(sender_id, "yes")  # a duplicated confirmation
    returns = count(rasa_stack, select(func.count()).select_from(ReturnRequest).join(Order).where(
        Order.number == order["number"]))  # fmt: skip
    assert returns == 1


def test_return_outside_window_is_refused_plainly(rasa_stack: RunningStack, sender_id: str) -> None:
    order = make_order(
        rasa_stack.settings.database_url, skus=["NW-BOOT-RIDGE-10"], delivered_days_ago=45
    )
    verify(rasa_stack, sender_id, "return an item", order)
    rasa_stack.say(sender_id, "the boots")
    rasa_stack.say(sender_id, "too big")
    reply = rasa_stack.say(sender_id, "never worn, tags still on")
    assert "30-day return window ended" in texts(reply)
    assert "/contact_human_agent" in payloads(reply)
    assert order_view(rasa_stack, order["number"]).returns == ()


def test_damaged_item_asks_for_a_photo_and_stores_it(
    rasa_stack: RunningStack, sender_id: str
) -> None:
    url = rasa_stack.settings.database_url
    order = make_order(url, skus=["NW-BTL-INS750"], delivered_days_ago=2)
    verify(rasa_stack, sender_id, "i want to send back my order", order)
    rasa_stack.say(sender_id, "bottle")
    rasa_stack.say(sender_id, '/inform{"return_reason":"damaged"}')
    ask_photo = texts(rasa_stack.say(sender_id, "it's damaged"))
    assert "send a photo" in ask_photo
    reply = rasa_stack.say(
        sender_id,
        "here",
        metadata={"attachments": [{"url": "https://media.example/dent.jpg",
                                   "content_type": "image/jpeg"}]},
    )  # fmt: skip
    assert "with your photo" in texts(reply)
    # A damaged item needs a person: the bot hands over by itself once the RMA is recorded.
    assert "passed your conversation to our support team" in texts(reply)
    photos = count(rasa_stack, select(func.count()).select_from(ReturnAttachment))
    assert photos >= 1
    assert ticket_reasons(rasa_stack, sender_id)[0] == "damaged_defective_or_wrong_item"


# -- refunds and invoices ----------------------------------------------------------------------
def test_refund_status_of_a_pending_refund(rasa_stack: RunningStack, sender_id: str) -> None:
    order = make_order(rasa_stack.settings.database_url, skus=["NW-TEE-MERINO-M"])
    verify(rasa_stack, sender_id, "cancel my order", order)
    rasa_stack.say(sender_id, "yes")
    rasa_stack.say(sender_id, "where is my refund")
    reply = texts(rasa_stack.say(sender_id, order["number"]))  # verified already: no contact
    assert "has been requested" in reply and "5-10 business days" in reply
    assert "original payment method" in reply


def test_invoice_link_for_a_verified_order(rasa_stack: RunningStack, sender_id: str) -> None:
    rasa_stack.say(sender_id, "can I get the invoice for my order")
    rasa_stack.say(sender_id, "10031")
    reply = texts(rasa_stack.say(sender_id, "liam.chen@example.com"))
    assert "invoice.pdf" in reply and "10031" in reply


def test_verified_shopper_picks_an_order_from_buttons(
    rasa_stack: RunningStack, sender_id: str
) -> None:
    rasa_stack.say(sender_id, "where is order 10023")
    rasa_stack.say(sender_id, "ava.martin@example.com")
    reply = rasa_stack.say(sender_id, "I want to track another order")
    assert '/inform{"order_id": "10024"}' in payloads(reply)
    status = texts(rasa_stack.say(sender_id, '/inform{"order_id": "10024"}'))
    assert "#10024" in status


# -- knowledge base ----------------------------------------------------------------------------
def test_policy_question_is_answered_from_the_knowledge_base(
    rasa_stack: RunningStack, sender_id: str
) -> None:
    reply = texts(rasa_stack.say(sender_id, "what is your return policy?"))
    assert "30 days" in reply
    assert "help.northwind.example/articles/" in reply


def test_unknown_question_gets_an_honest_not_sure(rasa_stack: RunningStack, sender_id: str) -> None:
    reply = rasa_stack.say(sender_id, "does the daypack fit a 17 inch laptop")
    assert "not sure I have the right answer" in texts(reply)
    assert "help.northwind.example" not in texts(reply)  # no guessing
    assert "/contact_human_agent" in payloads(reply)
