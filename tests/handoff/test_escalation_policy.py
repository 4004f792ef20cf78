"""The escalation policy, one row per rule: what the shopper said and what we know → decision."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from handoff.domain.escalation import (
    REQUESTED_ONLY,
    CustomerSignals,
    EscalationDecision,
    EscalationPolicy,
    EscalationSignals,
    EscalationThresholds,
    OrderSignals,
    Priority,
    Reason,
    Route,
    Turn,
)

TODAY = date(2026, 11, 20)
VIP = CustomerSignals(is_vip=True, lifetime_value=Decimal("5400.00"))
REGULAR = CustomerSignals(is_vip=False, lifetime_value=Decimal("320.00"))
IN_TRANSIT = OrderSignals("10023", Decimal("212.80"), "shipped", ("in_transit",))
DELIVERED = OrderSignals(
    "10038", Decimal("95.00"), "delivered", ("delivered",), delivered_on=date(2026, 11, 19)
)
DELIVERED_LONG_AGO = replace(DELIVERED, number="10012", delivered_on=date(2026, 9, 13))
FINAL_SALE_ONLY = replace(DELIVERED, number="10034", has_returnable_items=False)
LOST = OrderSignals("10041", Decimal("130.00"), "shipped", ("lost",))
EXPENSIVE_DELIVERED = replace(DELIVERED, number="10017", total=Decimal("741.64"))
EXPENSIVE_DELAYED = OrderSignals("10050", Decimal("812.00"), "shipped", ("delayed",))


def signals(
    text: str,
    intent: str | None = "out_of_scope",
    confidence: float = 0.9,
    **extra: object,
) -> EscalationSignals:
    return EscalationSignals(text=text, intent=intent, confidence=confidence, today=TODAY, **extra)  # type: ignore[arg-type]


# (case id, signals, expected reasons (headline first) or () for no handoff, priority, route)
CASES: list[tuple[str, EscalationSignals, tuple[Reason, ...], Priority | None, Route | None]] = [
    # -- simple questions stay with the bot --------------------------------------------------
    ("simple status", signals("where is my order?", "track_order"), (), None, None),
    ("status while in transit", signals("it hasn't arrived yet, where is it", "track_order",
                                        order=IN_TRANSIT), (), None, None),
    ("vip simple status", signals("where is my parcel", "track_order", customer=VIP,
                                  order=IN_TRANSIT), (), None, None),
    ("vip says thanks", signals("thanks!", "thanks", customer=VIP), (), None, None),
    ("policy question", signals("how long do refunds take?", "check_refund_policy"), (), None,
     None),
    ("one fallback only", signals("blorp", "nlu_fallback", 0.3,
                                  earlier_turns=(Turn("greet", 0.99),)), (), None, None),
    ("lost order asked about simply", signals("where is order 10041", "track_order", order=LOST),
     (), None, None),
    # -- the shopper asks for a person ---------------------------------------------------
    ("asks via intent", signals("get me someone", "contact_human_agent"),
     (Reason.CUSTOMER_REQUEST,), Priority.P3, Route.GENERAL),
    ("asks in other words, NLU missed it", signals("can I chat with a real person please",
                                                  "delivery_options", 0.5),
     (Reason.CUSTOMER_REQUEST,), Priority.P3, Route.SHIPPING),
    ("asks with one word", signals("agent", "nlu_fallback", 0.2), (Reason.CUSTOMER_REQUEST,),
     Priority.P3, Route.GENERAL),
    ("accepts an offered person", signals("yes please", "affirm", person_offered=True),
     (Reason.CUSTOMER_REQUEST,), Priority.P3, Route.GENERAL),
    ("yes without an offer", signals("yes", "affirm"), (), None, None),
    ("asks about a lost parcel", signals("I want to talk to a human", "contact_human_agent",
                                         order=LOST),
     (Reason.LOST_PARCEL, Reason.CUSTOMER_REQUEST), Priority.P2, Route.SHIPPING),
    # -- not understood twice ------------------------------------------------------------
    ("two fallbacks in a row", signals("zzz qqq", "nlu_fallback", 0.2,
                                       earlier_turns=(Turn("nlu_fallback", 0.3),)),
     (Reason.LOW_CONFIDENCE,), Priority.P3, Route.GENERAL),
    ("two low confidences in a row", signals("hmm the thing", "product_question", 0.3,
                                            earlier_turns=(Turn("payment_issue", 0.35),)),
     (Reason.LOW_CONFIDENCE,), Priority.P3, Route.PRODUCT),
    ("a form's free-text answers are understood answers",
     signals("it was too big", "nlu_fallback", 0.2, answers_form=True,
             earlier_turns=(Turn("nlu_fallback", 0.3, answers_form=True),)), (), None, None),
    ("fallback right after a form answer", signals("zzz", "nlu_fallback", 0.2,
             earlier_turns=(Turn("nlu_fallback", 0.3, answers_form=True),)), (), None, None),
    ("low, then understood, then low",
     signals("eh", "nlu_fallback", 0.1,
             earlier_turns=(Turn("nlu_fallback", 0.1), Turn("greet", 0.95))), (), None, None),
    # -- problems --------------------------------------------------------------------------
    ("complaint intent", signals("I'm not happy with how this went", "complaint"),
     (Reason.COMPLAINT,), Priority.P2, Route.GENERAL),
    ("complaint words", signals("I want to make a complaint about your courier", "greet", 0.5),
     (Reason.COMPLAINT,), Priority.P2, Route.GENERAL),
    ("damaged, answering the return form (it hands over at its end)",
     signals("it arrived damaged", "nlu_fallback", 0.3, answers_form=True), (), None, None),
    ("a complaint is still a complaint inside a form",
     signals("I want to make a complaint", "complaint", answers_form=True),
     (Reason.COMPLAINT,), Priority.P2, Route.GENERAL),
    ("damaged item", signals("the jacket arrived damaged", "start_return"),
     (Reason.ITEM_PROBLEM,), Priority.P2, Route.RETURNS),
    ("defective item", signals("the boots are defective, the sole came off", "product_question"),
     (Reason.ITEM_PROBLEM,), Priority.P2, Route.RETURNS),
    ("wrong item", signals("you sent me the wrong size", "change_order"),
     (Reason.ITEM_PROBLEM,), Priority.P2, Route.RETURNS),
    ("lost parcel in words", signals("my package got lost", "track_order"),
     (Reason.LOST_PARCEL,), Priority.P2, Route.SHIPPING),
    ("never arrived", signals("my order never arrived", "track_order", order=IN_TRANSIT),
     (Reason.LOST_PARCEL,), Priority.P2, Route.SHIPPING),
    ("delivered but not received, order unknown",
     signals("tracking says delivered but I didn't get anything", "track_order"),
     (Reason.NOT_RECEIVED,), Priority.P2, Route.SHIPPING),
    ("conflicting data: carrier delivered, shopper did not receive",
     signals("I haven't received it", "track_order", order=DELIVERED),
     (Reason.CONFLICTING_DATA,), Priority.P2, Route.SHIPPING),
    ("chargeback", signals("I'll file a chargeback with my bank", "payment_issue"),
     (Reason.CHARGEBACK,), Priority.P1, Route.BILLING),
    ("fraud", signals("there's an unauthorized charge on my card", "payment_issue"),
     (Reason.FRAUD,), Priority.P1, Route.BILLING),
    ("legal threat", signals("my lawyer will hear about this", "out_of_scope"),
     (Reason.LEGAL_THREAT,), Priority.P1, Route.GENERAL),
    ("strongly negative", signals("this is the worst, I'm furious and disgusted", "track_order",
                                  sentiment=-0.85),
     (Reason.NEGATIVE_SENTIMENT,), Priority.P3, Route.SHIPPING),
    ("mildly negative stays", signals("meh, not great", "track_order", sentiment=-0.3), (), None,
     None),
    ("return outside the window", signals("I'd like to return it", "start_return",
                                          order=DELIVERED_LONG_AGO),
     (Reason.OUTSIDE_POLICY,), Priority.P3, Route.RETURNS),
    ("return inside the window", signals("I'd like to return it", "start_return",
                                         order=DELIVERED), (), None, None),
    ("refund of final-sale items", signals("I want a refund", "get_refund",
                                           order=FINAL_SALE_ONLY),
     (Reason.OUTSIDE_POLICY,), Priority.P3, Route.RETURNS),
    ("refund status is not a return", signals("where is my refund", "track_refund",
                                              order=DELIVERED_LONG_AGO), (), None, None),
    # -- who the shopper is -----------------------------------------------------------------
    ("vip asks beyond status", signals("can I change the delivery address?",
                                       "change_shipping_address", customer=VIP),
     (Reason.VIP_CUSTOMER,), Priority.P1, Route.VIP),
    ("vip with a complaint goes to the priority queue",
     signals("the boots are broken", "complaint", customer=VIP),
     (Reason.VIP_CUSTOMER, Reason.ITEM_PROBLEM, Reason.COMPLAINT), Priority.P1, Route.VIP),
    ("regular customer asks beyond status", signals("can I change the address?",
                                                    "change_shipping_address", customer=REGULAR),
     (), None, None),
    ("high-value order with a problem", signals("the jacket is torn", "complaint",
                                                order=EXPENSIVE_DELIVERED),
     (Reason.HIGH_VALUE_PROBLEM, Reason.ITEM_PROBLEM, Reason.COMPLAINT), Priority.P1,
     Route.RETURNS),
    ("high-value delayed order, person asked", signals("agent please", "contact_human_agent",
                                                       order=EXPENSIVE_DELAYED),
     (Reason.HIGH_VALUE_PROBLEM, Reason.CUSTOMER_REQUEST), Priority.P1, Route.SHIPPING),
    ("high-value order, no problem", signals("where is it", "track_order",
                                             order=EXPENSIVE_DELAYED), (), None, None),
    ("low-value order with a problem stays P2", signals("it arrived broken", "complaint",
                                                        order=DELIVERED),
     (Reason.ITEM_PROBLEM, Reason.COMPLAINT), Priority.P2, Route.RETURNS),
]  # fmt: skip


@pytest.mark.parametrize(
    ("given", "reasons", "priority", "route"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_decision(
    given: EscalationSignals,
    reasons: tuple[Reason, ...],
    priority: Priority | None,
    route: Route | None,
) -> None:
    decision = EscalationPolicy().decide(given)

    assert decision.reasons == reasons
    assert decision.escalate is bool(reasons)
    assert decision.priority == priority
    assert decision.route == route


def test_every_reason_code_is_covered_by_a_case() -> None:
    covered = {reason for case in CASES for reason in case[2]}
    assert covered == set(Reason) - REQUESTED_ONLY


@pytest.mark.parametrize("reason", sorted(REQUESTED_ONLY))
def test_reasons_only_flows_request(reason: Reason) -> None:
    # Not triggered by anything the shopper says; a flow asks (verification_locked: the order
    # verification limits held, actions/order_forms.py). It keeps the conversation's topic.
    assert reason not in EscalationPolicy().decide(signals("sure", "affirm")).reasons
    decision = EscalationPolicy().escalate_for(
        EscalationDecision.requested(reason).reasons,
        signals("ava@example.com", "inform", answers_form=True,
                earlier_turns=(Turn("track_order", 0.99),)),
    )  # fmt: skip
    assert decision.reasons == (reason,)
    assert decision.priority is Priority.P2
    assert decision.route is Route.SHIPPING


@pytest.mark.parametrize(
    ("thresholds", "given", "escalates"),
    [
        (EscalationThresholds(low_confidence_turns=3),
         signals("zz", "nlu_fallback", 0.1, earlier_turns=(Turn("nlu_fallback", 0.1),)), False),
        (EscalationThresholds(negative_sentiment=-0.9),
         signals("awful", "track_order", sentiment=-0.85), False),
        (EscalationThresholds(high_value=Decimal("50.00")),
         signals("it arrived broken", "complaint", order=DELIVERED), True),
        (EscalationThresholds(return_window_days=100),
         signals("I'd like to return it", "start_return", order=DELIVERED_LONG_AGO), False),
    ],
    ids=["three fallbacks needed", "stricter sentiment", "lower high-value bar", "longer window"],
)  # fmt: skip
def test_thresholds_are_configurable(
    thresholds: EscalationThresholds, given: EscalationSignals, escalates: bool
) -> None:
    decision = EscalationPolicy(thresholds).decide(given)
    if thresholds.high_value == Decimal("50.00"):
        assert Reason.HIGH_VALUE_PROBLEM in decision.reasons
    assert decision.escalate is escalates


def test_an_explicit_request_always_escalates() -> None:
    decision = EscalationPolicy().escalate_on_request(signals("hello", "greet"))
    assert decision.reasons == (Reason.CUSTOMER_REQUEST,)


def test_decision_round_trips_through_a_slot() -> None:
    decision = EscalationPolicy().decide(signals("chargeback incoming", "payment_issue"))
    assert EscalationDecision.from_json(decision.to_json()) == decision
    assert EscalationDecision.from_json(None) == EscalationDecision()


def test_a_flow_requests_a_person_and_the_policy_completes_the_decision() -> None:
    requested = EscalationDecision.requested(Reason.ITEM_PROBLEM)
    assert requested.escalate and not requested.is_complete
    restored = EscalationDecision.from_json(requested.to_json())
    assert restored == requested
    big = OrderSignals(number="10031", total=Decimal("900.00"), status="delivered")
    decision = EscalationPolicy().escalate_for(
        restored.reasons, signals("here", "inform", answers_form=True, order=big)
    )
    assert decision.is_complete
    assert decision.reasons == (Reason.HIGH_VALUE_PROBLEM, Reason.ITEM_PROBLEM)
    assert decision.route is Route.RETURNS
