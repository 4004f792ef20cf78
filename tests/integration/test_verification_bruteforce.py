"""Order verification cannot be brute-forced by opening new conversations (issue 9), through the
running stack: Rasa's REST channel, the action server and the store.

The attack: ten new sender ids, each trying wrong e-mails at one order until its conversation
stops asking. Before the store-wide limits, every conversation got MAX_VERIFICATION_ATTEMPTS (3)
guesses: 30 guesses evaluated at one order. Now at most 5 are evaluated in a day, then every
further attempt, from any conversation and with the right e-mail too, gets the person path.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.store.verification_models import AttemptOutcome, VerificationAttempt
from tests.conftest import RunningStack
from tests.integration.conversation import count, texts, ticket_reasons
from tests.integration.shop_factory import make_order

pytestmark = pytest.mark.integration

#: bot.domain.verification.DEFAULT_LIMITS: failures per order per 24 h.
ORDER_LIMIT = 5
LOCKED = "for your security I'll stop asking"
HANDED_OVER = "passed your conversation to our support team"


def evaluated(stack: RunningStack, number: str) -> int:
    """Guesses at `number` that were actually checked against the order."""
    return count(
        stack,
        select(func.count())
        .select_from(VerificationAttempt)
        .where(
            VerificationAttempt.order_number == number,
            VerificationAttempt.outcome.in_([AttemptOutcome.FAILED, AttemptOutcome.VERIFIED]),
        ),
    )


def test_ten_new_conversations_get_at_most_the_order_limit_of_guesses(
    rasa_stack: RunningStack, sender_id: str
) -> None:
    order = make_order(rasa_stack.settings.database_url, skus=["NW-TEE-MERINO-M"])
    number = order["number"]
    wrong_answers = 0  # replies that told an attacker "no match, try again"
    for n in range(10):
        attacker = f"{sender_id}-attacker-{n}"
        rasa_stack.say(attacker, "where is my order")
        for attempt in range(3):  # MAX_VERIFICATION_ATTEMPTS per conversation
            asked = texts(rasa_stack.say(attacker, number))
            if LOCKED in asked:
                assert HANDED_OVER in asked
                break
            reply = texts(rasa_stack.say(attacker, f"guess{n}.{attempt}@example.com"))
            if LOCKED in reply:
                assert HANDED_OVER in reply
                break
            assert "couldn't find an order" in reply
            wrong_answers += 1

    guesses = evaluated(rasa_stack, number)
    print(f"\nguesses evaluated at order {number} from 10 sender ids: {guesses} (before: 30)")
    assert guesses == ORDER_LIMIT
    # The failure that reaches a limit already answers with the lock, not "try again".
    assert wrong_answers < ORDER_LIMIT

    # The owner, from a new conversation and with the right e-mail, gets the person path too:
    # the e-mail is never checked (nothing in the reply depends on it).
    owner = f"{sender_id}-owner"
    rasa_stack.say(owner, "where is my order")
    refused = texts(rasa_stack.say(owner, number))
    assert LOCKED in refused and HANDED_OVER in refused
    after = rasa_stack.say(owner, order["email"])
    assert "hasn't shipped" not in texts(after) and order["email"] not in texts(after)
    assert ticket_reasons(rasa_stack, owner)[0] == "verification_locked"
    assert evaluated(rasa_stack, number) == ORDER_LIMIT


def test_the_lock_reads_the_same_for_an_unknown_order(
    rasa_stack: RunningStack, sender_id: str
) -> None:
    real = make_order(rasa_stack.settings.database_url, skus=["NW-TEE-MERINO-M"])["number"]
    unknown = str(int(real) + 50_000_000)  # no such order
    replies = {}
    for number in (real, unknown):
        for n in range(ORDER_LIMIT):
            sender = f"{sender_id}-{number}-{n}"
            rasa_stack.say(sender, "where is my order")
            rasa_stack.say(sender, number)
            rasa_stack.say(sender, f"guess{n}@example.com")
        later = f"{sender_id}-{number}-later"
        rasa_stack.say(later, "where is my order")
        replies[number] = texts(rasa_stack.say(later, number))
    assert LOCKED in replies[real]
    strip = {real: "N", unknown: "N"}

    def normalised(text: str) -> str:
        for value, placeholder in strip.items():
            text = text.replace(value, placeholder)
        # the ticket number and queue position differ between the two handoffs
        return text.split(HANDED_OVER)[0]

    assert normalised(replies[real]) == normalised(replies[unknown])


def test_a_typed_phone_needs_the_postcode(rasa_stack: RunningStack, sender_id: str) -> None:
    order = make_order(rasa_stack.settings.database_url, skus=["NW-TEE-MERINO-M"])
    rasa_stack.say(sender_id, "where is my order")
    rasa_stack.say(sender_id, order["number"])
    asked = texts(rasa_stack.say(sender_id, order["phone"]))
    # The right phone alone reveals nothing: not the order, not that the phone was right.
    assert "postcode" in asked.lower() and "hasn't shipped" not in asked
    assert evaluated(rasa_stack, order["number"]) == 0
    wrong = texts(rasa_stack.say(sender_id, "10001"))
    assert "couldn't find an order" in wrong
    assert evaluated(rasa_stack, order["number"]) == 1

    rasa_stack.say(sender_id, order["number"])
    rasa_stack.say(sender_id, order["phone"])
    status = texts(rasa_stack.say(sender_id, "94105"))  # make_order ships to 94105
    assert f"#{order['number']}" in status and "couldn't find" not in status


def test_a_wrong_phone_with_the_right_postcode_is_a_failure(
    rasa_stack: RunningStack, sender_id: str
) -> None:
    order = make_order(rasa_stack.settings.database_url, skus=["NW-TEE-MERINO-M"])
    rasa_stack.say(sender_id, "where is my order")
    rasa_stack.say(sender_id, order["number"])
    asked = texts(rasa_stack.say(sender_id, "+1 628 555 0000"))
    assert "postcode" in asked.lower()  # the same question as for the right phone
    assert "couldn't find an order" in texts(rasa_stack.say(sender_id, "94105"))
