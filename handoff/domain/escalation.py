"""When a conversation needs a person: one pure policy, table-tested (tests/handoff/).

`EscalationPolicy.decide(signals)` looks at what the tracker and the store say about the
current turn and returns an `EscalationDecision`: every reason that applies (stable codes, also
shown to agents), the ticket's priority and the queue (route) it belongs to. No I/O: the caller
(actions/handoff.py) scores sentiment and loads the verified customer and order.

Reasons come in two kinds. *Triggers* hand the conversation off on their own (the shopper asked
for a person, mentioned a chargeback, ...). *Context* only describes a case that is handed off
anyway (the order in question is high-value, its parcel was declared lost), so a simple status
question about a lost parcel is answered by the bot, which then offers a person.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from handoff.domain.escalation_text import Cue, cues


class Reason(StrEnum):
    # Declaration order breaks priority ties when choosing the headline reason.
    CHARGEBACK = "chargeback"
    FRAUD = "fraud"
    LEGAL_THREAT = "legal_threat"
    VIP_CUSTOMER = "vip_customer"
    HIGH_VALUE_PROBLEM = "high_value_problem"
    CONFLICTING_DATA = "conflicting_data"
    NOT_RECEIVED = "delivered_not_received"
    LOST_PARCEL = "lost_parcel"
    ITEM_PROBLEM = "damaged_defective_or_wrong_item"
    COMPLAINT = "complaint"
    #: Only a flow asks for it (EscalationDecision.requested): order verification hit a limit.
    VERIFICATION_LOCKED = "verification_locked"
    OUTSIDE_POLICY = "outside_policy"
    NEGATIVE_SENTIMENT = "negative_sentiment"
    CUSTOMER_REQUEST = "customer_request"
    LOW_CONFIDENCE = "low_confidence"


#: What agents read on the ticket card, per reason.
REASON_LABELS: dict[Reason, str] = {
    Reason.CHARGEBACK: "Chargeback / payment dispute",
    Reason.FRAUD: "Possible fraud",
    Reason.LEGAL_THREAT: "Legal threat",
    Reason.VIP_CUSTOMER: "VIP customer",
    Reason.HIGH_VALUE_PROBLEM: "High-value order with a problem",
    Reason.CONFLICTING_DATA: "Carrier says delivered, shopper says not received",
    Reason.NOT_RECEIVED: "Delivered but not received",
    Reason.LOST_PARCEL: "Lost parcel",
    Reason.ITEM_PROBLEM: "Damaged, defective or wrong item",
    Reason.COMPLAINT: "Complaint",
    Reason.VERIFICATION_LOCKED: "Order verification locked (too many failed attempts)",
    Reason.OUTSIDE_POLICY: "Return or refund outside policy",
    Reason.NEGATIVE_SENTIMENT: "Strongly negative sentiment",
    Reason.CUSTOMER_REQUEST: "Shopper asked for a person",
    Reason.LOW_CONFIDENCE: "Bot did not understand twice in a row",
}


class Priority(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"


class Route(StrEnum):
    GENERAL = "general"
    BILLING = "billing"
    SHIPPING = "shipping"
    RETURNS = "returns"
    PRODUCT = "product"
    VIP = "vip"


PRIORITY_OF: dict[Reason, Priority] = {
    Reason.CHARGEBACK: Priority.P1,
    Reason.FRAUD: Priority.P1,
    Reason.LEGAL_THREAT: Priority.P1,
    Reason.VIP_CUSTOMER: Priority.P1,
    Reason.HIGH_VALUE_PROBLEM: Priority.P1,
    Reason.CONFLICTING_DATA: Priority.P2,
    Reason.NOT_RECEIVED: Priority.P2,
    Reason.LOST_PARCEL: Priority.P2,
    Reason.ITEM_PROBLEM: Priority.P2,
    Reason.COMPLAINT: Priority.P2,
    Reason.VERIFICATION_LOCKED: Priority.P2,
    Reason.OUTSIDE_POLICY: Priority.P3,
    Reason.NEGATIVE_SENTIMENT: Priority.P3,
    Reason.CUSTOMER_REQUEST: Priority.P3,
    Reason.LOW_CONFIDENCE: Priority.P3,
}

ROUTE_OF_REASON: dict[Reason, Route] = {
    Reason.CHARGEBACK: Route.BILLING,
    Reason.FRAUD: Route.BILLING,
    Reason.CONFLICTING_DATA: Route.SHIPPING,
    Reason.NOT_RECEIVED: Route.SHIPPING,
    Reason.LOST_PARCEL: Route.SHIPPING,
    Reason.ITEM_PROBLEM: Route.RETURNS,
    Reason.OUTSIDE_POLICY: Route.RETURNS,
}

ROUTE_OF_INTENT: dict[str, Route] = {
    **dict.fromkeys(
        ("payment_issue", "check_payment_methods", "check_invoice", "get_invoice",
         "check_cancellation_fee"),
        Route.BILLING,
    ),
    **dict.fromkeys(
        ("track_order", "delivery_options", "delivery_period", "change_shipping_address",
         "set_up_shipping_address"),
        Route.SHIPPING,
    ),
    **dict.fromkeys(
        ("start_return", "get_refund", "track_refund", "check_refund_policy"), Route.RETURNS
    ),
    **dict.fromkeys(("product_availability", "product_question"), Route.PRODUCT),
}  # fmt: skip

HUMAN_INTENT = "contact_human_agent"
AFFIRM_INTENT = "affirm"
COMPLAINT_INTENT = "complaint"
FALLBACK_INTENT = "nlu_fallback"
#: Questions about where something is: the bot answers these itself, even for VIPs.
SIMPLE_STATUS_INTENTS = frozenset({"track_order", "delivery_period", "track_refund"})
#: Turns that ask nothing (greetings, answers to the bot's own questions).
CONVERSATIONAL_INTENTS = frozenset(
    {"greet", "goodbye", "thanks", "affirm", "deny", "inform", "bot_challenge", "help",
     "out_of_scope"}
)  # fmt: skip
RETURN_INTENTS = frozenset({"start_return", "get_refund"})
PROBLEM_SHIPMENT_STATES = frozenset({"lost", "exception", "delayed"})

_TEXT_TRIGGERS: dict[Cue, Reason] = {
    Cue.CHARGEBACK: Reason.CHARGEBACK,
    Cue.FRAUD: Reason.FRAUD,
    Cue.LEGAL_THREAT: Reason.LEGAL_THREAT,
    Cue.ITEM_PROBLEM: Reason.ITEM_PROBLEM,
    Cue.COMPLAINT: Reason.COMPLAINT,
}
#: Reasons that mean something went wrong (as opposed to "please get me a person").
PROBLEM_REASONS = frozenset(set(PRIORITY_OF) - {Reason.CUSTOMER_REQUEST, Reason.LOW_CONFIDENCE,
                                                Reason.VIP_CUSTOMER,
                                                Reason.VERIFICATION_LOCKED})  # fmt: skip
#: Reasons no signal triggers: only a flow asks for them (`EscalationDecision.requested`).
REQUESTED_ONLY = frozenset({Reason.VERIFICATION_LOCKED})


@dataclass(frozen=True)
class Turn:
    """One earlier shopper message, as NLU classified it."""

    intent: str | None
    confidence: float
    #: The message answered a free-text question a form asked ("what is wrong with it?"); it
    #: was understood as that answer whatever NLU made of it.
    answers_form: bool = False


@dataclass(frozen=True)
class CustomerSignals:
    is_vip: bool
    lifetime_value: Decimal


@dataclass(frozen=True)
class OrderSignals:
    """The verified order the conversation is about."""

    number: str
    total: Decimal
    status: str
    shipment_statuses: tuple[str, ...] = ()
    #: When the last parcel was delivered (None while anything is undelivered).
    delivered_on: date | None = None
    #: False when no line of the order may be returned (final sale, intimates, gift cards).
    has_returnable_items: bool = True

    @property
    def carrier_says_delivered(self) -> bool:
        return self.delivered_on is not None or (
            bool(self.shipment_statuses) and set(self.shipment_statuses) == {"delivered"}
        )


@dataclass(frozen=True)
class EscalationSignals:
    text: str
    intent: str | None
    confidence: float
    #: Earlier shopper messages since the session started or the last handoff, oldest first
    #: (the current one is not included).
    earlier_turns: tuple[Turn, ...] = ()
    #: VADER compound score of `text`, -1 (very negative) to 1.
    sentiment: float = 0.0
    customer: CustomerSignals | None = None
    order: OrderSignals | None = None
    today: date | None = None
    #: The bot's previous message offered a person (so "yes" asks for one).
    person_offered: bool = False
    #: The message answers a free-text question of a running form (see `Turn.answers_form`).
    answers_form: bool = False


@dataclass(frozen=True)
class EscalationThresholds:
    low_confidence: float = 0.4
    low_confidence_turns: int = 2
    negative_sentiment: float = -0.6
    high_value: Decimal = Decimal("500.00")
    return_window_days: int = 30
    vip_return_window_days: int = 60


@dataclass(frozen=True)
class EscalationDecision:
    #: Every reason that applies, headline first. Empty: no handoff.
    reasons: tuple[Reason, ...] = ()
    priority: Priority | None = None
    route: Route | None = None

    @property
    def escalate(self) -> bool:
        return bool(self.reasons)

    @property
    def reason(self) -> Reason | None:
        return self.reasons[0] if self.reasons else None

    def to_json(self) -> dict[str, Any]:
        """Stored in a slot between the turn's assessment and `action_handoff`."""
        return {
            "reasons": [str(reason) for reason in self.reasons],
            "priority": str(self.priority) if self.priority else None,
            "route": str(self.route) if self.route else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> EscalationDecision:
        if not data or not data.get("reasons"):
            return cls()
        priority, route = data.get("priority"), data.get("route")
        return cls(
            reasons=tuple(Reason(code) for code in data["reasons"]),
            priority=Priority(priority) if priority else None,
            route=Route(route) if route else None,
        )

    @classmethod
    def requested(cls, *reasons: Reason) -> EscalationDecision:
        """A flow's request for a person; `EscalationPolicy.escalate_for` completes it."""
        return cls(reasons=reasons)

    @property
    def is_complete(self) -> bool:
        return self.priority is not None and self.route is not None


@dataclass(frozen=True)
class EscalationPolicy:
    thresholds: EscalationThresholds = field(default_factory=EscalationThresholds)

    def decide(self, signals: EscalationSignals) -> EscalationDecision:
        return self._decision(signals, self._triggers(signals))

    def escalate_for(
        self, reasons: Iterable[Reason], signals: EscalationSignals
    ) -> EscalationDecision:
        """The decision when a flow found a case that needs a person (a damaged item's return
        once its photo and RMA are recorded): those reasons plus whatever else applies."""
        return self._decision(signals, set(reasons) | self._triggers(signals))

    def _decision(self, signals: EscalationSignals, triggers: set[Reason]) -> EscalationDecision:
        if not triggers:
            return EscalationDecision()
        reasons = triggers | self._context(signals, triggers)
        ordered = tuple(sorted(reasons, key=lambda r: (PRIORITY_OF[r], list(Reason).index(r))))
        return EscalationDecision(
            reasons=ordered,
            priority=PRIORITY_OF[ordered[0]],
            route=self._route(signals, ordered),
        )

    def escalate_on_request(self, signals: EscalationSignals) -> EscalationDecision:
        """The decision when the shopper explicitly asked for a person (a button, a rule)."""
        decision = self.decide(signals)
        if Reason.CUSTOMER_REQUEST in decision.reasons:
            return decision
        return self.decide(replace(signals, intent=HUMAN_INTENT, confidence=1.0))

    # -- rules -------------------------------------------------------------------------------
    def _triggers(self, signals: EscalationSignals) -> set[Reason]:
        found = cues(signals.text)
        limits = self.thresholds
        triggers = {reason for cue, reason in _TEXT_TRIGGERS.items() if cue in found}
        understood = signals.confidence >= limits.low_confidence
        accepted_offer = signals.person_offered and signals.intent == AFFIRM_INTENT
        if (
            (signals.intent == HUMAN_INTENT and understood)
            or Cue.ASKS_FOR_PERSON in found
            or (accepted_offer and understood)
        ):
            triggers.add(Reason.CUSTOMER_REQUEST)
        if signals.intent == COMPLAINT_INTENT and understood:
            triggers.add(Reason.COMPLAINT)
        if self._not_understood_streak(signals) >= limits.low_confidence_turns:
            triggers.add(Reason.LOW_CONFIDENCE)
        if signals.sentiment <= limits.negative_sentiment:
            triggers.add(Reason.NEGATIVE_SENTIMENT)
        delivery = self._delivery_problem(signals, found)
        if delivery:
            triggers.add(delivery)
        if signals.answers_form:
            # "Damaged" answering the return form's questions: the form collects the photo and
            # records the return, then hands over itself (`escalate_for`).
            triggers.discard(Reason.ITEM_PROBLEM)
        if self._outside_policy(signals, found):
            triggers.add(Reason.OUTSIDE_POLICY)
        customer = signals.customer
        if (
            customer is not None
            and customer.is_vip
            and signals.intent not in SIMPLE_STATUS_INTENTS | CONVERSATIONAL_INTENTS
        ):
            triggers.add(Reason.VIP_CUSTOMER)
        return triggers

    def _context(self, signals: EscalationSignals, triggers: set[Reason]) -> set[Reason]:
        context: set[Reason] = set()
        order, customer = signals.order, signals.customer
        if customer is not None and customer.is_vip:
            context.add(Reason.VIP_CUSTOMER)
        if order is None:
            return context
        if "lost" in order.shipment_statuses and not triggers & {
            Reason.CONFLICTING_DATA,
            Reason.NOT_RECEIVED,
        }:
            context.add(Reason.LOST_PARCEL)
        has_problem = bool((triggers | context) & PROBLEM_REASONS) or bool(
            PROBLEM_SHIPMENT_STATES & set(order.shipment_statuses)
        )
        if has_problem and order.total >= self.thresholds.high_value:
            context.add(Reason.HIGH_VALUE_PROBLEM)
        return context

    def _not_understood_streak(self, signals: EscalationSignals) -> int:
        current = Turn(signals.intent, signals.confidence, signals.answers_form)
        streak = 0
        for turn in reversed((*signals.earlier_turns, current)):
            understood = (
                turn.intent != FALLBACK_INTENT and turn.confidence >= self.thresholds.low_confidence
            )
            if understood or turn.answers_form:
                break
            streak += 1
        return streak

    @staticmethod
    def _delivery_problem(signals: EscalationSignals, found: frozenset[Cue]) -> Reason | None:
        says_missing = bool(found & {Cue.NOT_RECEIVED, Cue.LOST})
        if not says_missing:
            return None
        order = signals.order
        if order is not None and order.carrier_says_delivered:
            return Reason.CONFLICTING_DATA
        if Cue.MENTIONS_DELIVERED in found:
            return Reason.NOT_RECEIVED
        if Cue.LOST in found or (order is not None and "lost" in order.shipment_statuses):
            return Reason.LOST_PARCEL
        # "I haven't received it yet" about a parcel on its way is a status question.
        return None

    def _outside_policy(self, signals: EscalationSignals, found: frozenset[Cue]) -> bool:
        order = signals.order
        asks_to_return = signals.intent in RETURN_INTENTS or (
            Cue.RETURN_OR_REFUND in found and signals.intent not in SIMPLE_STATUS_INTENTS
        )
        if order is None or not asks_to_return:
            return False
        if not order.has_returnable_items:
            return True
        if order.delivered_on is None or signals.today is None:
            return False
        vip = signals.customer is not None and signals.customer.is_vip
        limits = self.thresholds
        window = limits.vip_return_window_days if vip else limits.return_window_days
        return (signals.today - order.delivered_on).days > window

    @staticmethod
    def _route(signals: EscalationSignals, reasons: tuple[Reason, ...]) -> Route:
        if Reason.VIP_CUSTOMER in reasons:
            return Route.VIP
        for reason in reasons:
            if reason in ROUTE_OF_REASON:
                return ROUTE_OF_REASON[reason]
        order = signals.order
        if order is not None and PROBLEM_SHIPMENT_STATES & set(order.shipment_statuses):
            return Route.SHIPPING
        intents = [signals.intent, *(t.intent for t in reversed(signals.earlier_turns))]
        for intent in intents:
            if intent in ROUTE_OF_INTENT:
                return ROUTE_OF_INTENT[intent]
        return Route.GENERAL
