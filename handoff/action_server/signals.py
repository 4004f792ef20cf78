"""From a Rasa conversation and the store to what the escalation policy and the ticket need.

The adapter between rasa-sdk's `Tracker` (event dicts and slots) and the pure
`handoff.domain.escalation` dataclasses, plus the card context agents see (masked contact, VIP,
orders with tracking, intent, sentiment, summary).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from rasa_sdk import Tracker
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from bot.domain.contacts import mask_email, mask_phone, provider_id
from bot.domain.views import CustomerView, OrderView
from bot.store.ports import StorePort
from handoff.domain.escalation import CustomerSignals, EscalationSignals, OrderSignals, Turn
from handoff.domain.transcript import Line, summarise

VERIFIED_CUSTOMER_SLOT = "verified_customer_id"
VERIFIED_ORDERS_SLOT = "verified_order_numbers"
ORDER_NUMBER_SLOT = "order_number"
REQUESTED_SLOT = "requested_slot"
#: A bot message offering this payload is an offer of a person; "yes" accepts it.
PERSON_PAYLOAD = "/contact_human_agent"
#: Events after which earlier turns no longer count towards "not understood twice in a row".
_TURN_BOUNDARIES = frozenset({"session_started", "restart", "pause", "resume"})


@cache
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def sentiment(text: str) -> float:
    """VADER's compound score: -1 (very negative) to 1 (very positive)."""
    return float(_analyzer().polarity_scores(text or "")["compound"]) if text else 0.0


def sentiment_label(score: float) -> str:
    if score <= -0.5:
        return "very negative"
    if score <= -0.05:
        return "negative"
    return "positive" if score >= 0.05 else "neutral"


@dataclass(frozen=True)
class KnownShopper:
    """What the store says about the shopper behind the conversation (if they verified)."""

    customer: CustomerView | None
    orders: tuple[OrderView, ...]
    #: The order the conversation is about (the latest one verified).
    focus: OrderView | None


def free_text_slots(domain: Mapping[str, Any]) -> frozenset[str]:
    """Slots a form fills with whatever the shopper types (a `from_text` mapping)."""
    slots = domain.get("slots") or {}
    return frozenset(
        name
        for name, slot in slots.items()
        if any(m.get("type") == "from_text" for m in (slot or {}).get("mappings") or [])
    )


def shopper_turns(
    events: Sequence[Mapping[str, Any]], free_text: frozenset[str] = frozenset()
) -> tuple[Turn, ...]:
    """Shopper turns back to the last session start or handoff, oldest first, the latest last.

    A message sent while a form was waiting for one of the `free_text` slots is that slot's
    answer ("it was too small"), so NLU's opinion of it does not make it "not understood".
    """
    turns: list[Turn] = []
    #: A message replayed after its turn was undone (the action server was down) is logged
    #: again with the same id: it is the same turn, not one more "not understood" in a row.
    turn_of_message: dict[str, int] = {}
    form: str | None = None
    requested: str | None = None
    for event in events:
        kind = event.get("event")
        if kind in _TURN_BOUNDARIES:
            turns, turn_of_message, form, requested = [], {}, None, None
        elif kind == "active_loop":
            form = event.get("name")
            requested = None if form is None else requested
        elif kind == "slot" and event.get("name") == REQUESTED_SLOT:
            requested = event.get("value")
        elif kind == "user":
            intent = (event.get("parse_data") or {}).get("intent") or {}
            answers = form is not None and requested in free_text
            turn = Turn(intent.get("name"), float(intent.get("confidence") or 0.0), answers)
            message_id = event.get("message_id")
            if message_id and message_id in turn_of_message:
                turns[turn_of_message[message_id]] = turn
                continue
            if message_id:
                turn_of_message[message_id] = len(turns)
            turns.append(turn)
    return tuple(turns)


def person_offered(events: Sequence[Mapping[str, Any]]) -> bool:
    """Did the bot, since the shopper's previous message, offer a person (a button)?"""
    seen_latest = False
    for event in reversed(events):
        kind = event.get("event")
        if kind == "user":
            if seen_latest:
                return False
            seen_latest = True
        elif kind == "bot" and seen_latest:
            buttons = (event.get("data") or {}).get("buttons") or []
            if any(button.get("payload") == PERSON_PAYLOAD for button in buttons):
                return True
    return False


def known_shopper(tracker: Tracker, store: StorePort) -> KnownShopper:
    numbers = [str(n) for n in tracker.get_slot(VERIFIED_ORDERS_SLOT) or []]
    orders = tuple(order for n in numbers if (order := store.find_order(n)) is not None)
    mentioned = tracker.get_slot(ORDER_NUMBER_SLOT)
    focus = next((o for o in orders if o.number == mentioned), orders[-1] if orders else None)
    customer = focus.customer if focus else None
    channel = tracker.get_latest_input_channel()
    if customer is None and channel:
        customer = store.customer_for_identity(channel, provider_id(channel, tracker.sender_id))
        if customer is not None:
            # A returning shopper verified in an earlier session: show their recent orders.
            orders = tuple(store.orders_for_customer(customer.id)[:3])
    return KnownShopper(customer, orders, focus)


def order_signals(order: OrderView) -> OrderSignals:
    statuses = tuple(str(s.status) for s in order.shipments)
    delivered = [s.delivered_at for s in order.shipments if s.delivered_at is not None]
    all_delivered = bool(order.shipments) and len(delivered) == len(order.shipments)
    return OrderSignals(
        number=order.number,
        total=order.total,
        status=str(order.status),
        shipment_statuses=statuses,
        delivered_on=max(delivered).date() if all_delivered else None,
        has_returnable_items=any(line.can_be_returned for line in order.lines),
    )


def escalation_signals(
    tracker: Tracker,
    shopper: KnownShopper,
    today: date,
    free_text: frozenset[str] = frozenset(),
) -> EscalationSignals:
    latest = tracker.latest_message or {}
    intent = latest.get("intent") or {}
    text = str(latest.get("text") or "")
    customer = shopper.customer
    turns = shopper_turns(tracker.events, free_text)
    return EscalationSignals(
        text=text,
        intent=intent.get("name"),
        confidence=float(intent.get("confidence") or 0.0),
        earlier_turns=turns[:-1],
        sentiment=sentiment(text),
        customer=CustomerSignals(customer.is_vip, customer.lifetime_value) if customer else None,
        order=order_signals(shopper.focus) if shopper.focus else None,
        today=today,
        person_offered=person_offered(tracker.events),
        answers_form=bool(turns) and turns[-1].answers_form,
    )


def _order_card(order: OrderView) -> dict[str, Any]:
    return {
        "number": order.number,
        "status": str(order.status),
        "total": str(order.total),
        "currency": order.currency,
        "shipments": [
            {
                "carrier": s.carrier,
                "tracking_number": s.tracking_number,
                "tracking_url": s.tracking_url,
                "status": str(s.status),
            }
            for s in order.shipments
        ],
    }


def card_context(
    tracker: Tracker, shopper: KnownShopper, signals: EscalationSignals, lines: Iterable[Line]
) -> dict[str, Any]:
    """The JSON the ticket card is drawn from (handoff/bridge/cards.py)."""
    customer = shopper.customer
    return {
        "customer": {
            "name": f"{customer.first_name} {customer.last_name[:1]}.",
            "email": mask_email(customer.email),
            "phone": mask_phone(customer.phone) if customer.phone else None,
            "vip": customer.is_vip,
            "lifetime_value": str(customer.lifetime_value),
        }
        if customer
        else None,
        "orders": [_order_card(order) for order in shopper.orders],
        "intent": signals.intent,
        "confidence": round(signals.confidence, 2),
        "sentiment": round(signals.sentiment, 2),
        "sentiment_label": sentiment_label(signals.sentiment),
        "summary": summarise(list(lines)),
        "channel": tracker.get_latest_input_channel() or "unknown",
    }
