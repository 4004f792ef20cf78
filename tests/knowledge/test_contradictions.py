"""The policy-number detector, sentence by sentence, against the real policy.yml.

Policy: returns 30 days (VIP 60), drop-off 14 days; refunds inspected in 2 business days,
paid in 5-10; store credit 1; standard 3-5 business days ($5.95), express 1-2 ($14.95),
international 7-14 ($24.95); free standard shipping over $75; packing 1-2 business days;
same-day dispatch before 13:00; lost after 5 business days; cancelling free; address changes
12 hours after payment; support 9am-6pm; email replies 1 business day; reset links 1 hour.
"""

from __future__ import annotations

import pytest

from bot.domain.store_policy import StorePolicy
from bot.knowledge.contradictions import CONTRADICTION, HARD_CODED, check_text

OK = None


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        # contradictions (errors), with the topic the message names
        ("You can return items within 45 days of delivery.", "return window"),
        ("Returns are accepted within 14 days.", "return window"),
        ("Refunds are issued within 3-5 business days.", "refund processing time"),
        ("We refund you within 3 business days.", "refund processing time"),
        ("Express delivery takes 3-5 business days.", "express delivery time"),
        ("Standard shipping is free on orders over $100.", "free shipping threshold"),
        ("Express shipping costs $19.95.", "express shipping cost"),
        ("Orders placed before 2pm ship the same day.", "same-day dispatch cut-off"),
        ("Call us Monday to Friday until 5pm.", "support hours"),
        ("Cancelling an order costs $10.", "cancellation fee"),
        ("You can change the address within 24 hours of payment.", "change or cancel"),
        ("If tracking shows no update for 7 business days, it is lost.", "counts as lost"),
        ("VIP members can return within 90 days.", "return window or VIP return window"),
        ("We reply to emails within 3 business days.", "email reply time"),
        ("The reset link is valid for 24 hours.", "password reset link"),
        ("Returns are accepted for forty-five days.", "return window"),
        # consistent (written with placeholders, words, or not about policy at all)
        ("You can return items within {{ policy.returns.window_days }} days.", OK),
        ("Refunds take {{ policy.refunds.processing_business_days_min }}-"
         "{{ policy.refunds.processing_business_days_max }} business days.", OK),
        ("Passwords need at least 8 characters.", OK),
        ("Order 10023 shipped.", OK),
        ("The Stormline jacket costs $189.", OK),  # no shipping or fee words
        ("We send the newsletter a few times a month.", OK),
        ("Support answers within one business day.", OK),  # right, and not in digits
        ("Store credit is ready within one business day.", OK),
        ("See [the 45 days table](https://example.com/45-days).", OK),  # link targets masked
        ("Our $189 jacket ships free. <!-- kb: not-policy -->", OK),  # explicitly ignored
        # two topics in one sentence: each number is judged by its own topic
        ("Return within {{ policy.returns.window_days }} days, and refunds take 3-5 business "
         "days.", "refund processing time"),
        ("Once your return arrives we inspect it within 2 business days and refund you within "
         "5-10 business days.", HARD_CODED),
        ("Print the label and send your return back within 14 days.", HARD_CODED),
        ("VIP members get 60 days instead of 30.", HARD_CODED),
        # right number, but copied: a warning that names the placeholder
        ("You can return items within 30 days of delivery.", HARD_CODED),
        ("Standard shipping costs $5.95.", HARD_CODED),
        ("International orders arrive in 7-14 business days.", HARD_CODED),
    ],
)  # fmt: skip
def test_check_text(policy: StorePolicy, sentence: str, expected: str | None) -> None:
    findings = check_text(sentence, policy)
    errors = [f for f in findings if f.code == CONTRADICTION]
    if expected is None:
        assert findings == []
    elif expected == HARD_CODED:
        assert errors == [] and findings and all(f.code == HARD_CODED for f in findings)
        assert "{{ policy." in findings[0].message
    else:
        assert len(errors) == 1, findings
        assert expected in errors[0].message


def test_message_names_number_policy_value_and_placeholder(policy: StorePolicy) -> None:
    [finding] = check_text("Refunds take 3-5 business days.", policy)
    assert finding.message == (
        "says '3-5 business days' for the refund processing time, but policy.yml says "
        "5-10 business days (refunds.processing_business_days_min/max) or 7-12 business days "
        "(refunds.processing_business_days_min/max + refunds.inspection_business_days); write "
        "{{ policy.refunds.processing_business_days_min }}-"
        "{{ policy.refunds.processing_business_days_max }}"
    )


def test_line_numbers_follow_the_text(policy: StorePolicy) -> None:
    text = "# Returns\n\nFirst paragraph.\n\n- You have\n  45 days to return.\n"
    [finding] = check_text(text, policy, first_line=20)
    assert finding.line == 25


def test_rules_without_a_policy_value_are_skipped(policy: StorePolicy) -> None:
    # A shop whose policy file has no accounts section: the reset-link rule has nothing to
    # compare with, so it stays silent instead of failing.
    raw = {k: v for k, v in policy.raw.items() if k != "accounts"}
    assert check_text("The reset link is valid for 24 hours.", StorePolicy.from_mapping(raw)) == []
