"""The actions' messages live in the domain's responses (editors change them there): every
response an action names exists, and the variables the actions pass fill every placeholder."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain"))


def named_responses() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "actions").glob("*.py"):
        names |= set(re.findall(r"\"(utter_[a-z0-9_]+)\"", path.read_text()))
    return names


def test_every_response_an_action_names_is_in_the_domain(domain: Domain) -> None:
    assert named_responses() - set(domain.responses) == set()


RENDERED: list[tuple[str, dict[str, Any]]] = [
    ("utter_order_cancelled", {"order_number": "10024"}),
    ("utter_order_cancelled_refunded",
     {"order_number": "10024", "refund_amount": "89.00 USD", "refund_days": "5-10"}),
    ("utter_address_changed", {"order_number": "10024", "address": "221 Pine St, Portland"}),
    ("utter_invoice_pending", {"order_number": "10024"}),
    ("utter_invoice_link", {"order_number": "10024", "order_total": "89.00 USD",
                            "invoice_url": "https://shop.example/invoices/10024"}),
    ("utter_return_not_delivered", {"order_number": "10024"}),
    ("utter_return_refused_outside_window", {"window": 30, "deadline": "Monday, May 4"}),
    ("utter_return_refused_non_returnable_category", {"item": "Merino briefs"}),
    ("utter_return_refused_final_sale", {"item": "Beanie"}),
    ("utter_return_refused_used", {}),
    ("utter_return_refused_already_requested", {"item": "Stormline jacket"}),
    ("utter_return_problem_recorded", {"rma_number": "RMA-1"}),
    ("utter_return_problem_recorded_with_photo", {"rma_number": "RMA-1"}),
    ("utter_return_opened", {"rma_number": "RMA-1", "item": "Boots", "label_url": "https://l/1",
                             "drop_off_days": 14, "inspection_days": 3,
                             "refund_amount": "120.00 USD", "refund_days": "5-10",
                             "refund_by": "Friday, May 8"}),
    ("utter_ask_confirm_cancel", {"order_number": "10024", "items": "1 x Beanie",
                                  "order_total": "89.00 USD", "fee_sentence": " Free.",
                                  "refund_sentence": " Refunded."}),
    ("utter_ask_confirm_address_change", {"order_number": "10024", "old_address": "1 Main St",
                                          "new_address": "221 Pine St"}),
    ("utter_ask_confirm_return", {"order_number": "10024", "quantity": 2, "item": "Boots",
                                  "reason": "too small", "condition": "unopened",
                                  "refund_amount": "120.00 USD", "refund_days": "5-10"}),
    ("utter_ask_confirm_return_unanswered", {"order_number": "10024"}),
    ("utter_refund_status", {"refund_status": "A refund of 5.00 USD was completed."}),
    ("utter_refund_status_offer_return", {"refund_status": "There's no refund."}),
    ("utter_refund_status_offer_human", {"refund_status": "It could not be completed."}),
    ("utter_refund_status_offer_return_and_human", {"refund_status": "Both."}),
]  # fmt: skip


@pytest.mark.parametrize(("response", "variables"), RENDERED)
def test_variables_fill_every_placeholder(
    domain: Domain, response: str, variables: dict[str, Any]
) -> None:
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)
    tracker = DialogueStateTracker("shopper", domain.slots)
    message = asyncio.run(nlg.generate(response, tracker, "rest", **variables))
    assert message is not None
    text = str(message["text"])
    assert "{" not in text and "}" not in text, text
    for value in variables.values():
        assert str(value) in text
