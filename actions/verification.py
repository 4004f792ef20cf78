"""The one verification step every flow uses: order number + email/phone on the order, or a
channel identity already linked to the order's customer. Verified state lives in slots and so
lasts for the conversation."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Tracker
from sqlalchemy.exc import SQLAlchemyError

from actions.services import Services
from bot.domain.contacts import Contact, provider_id
from bot.domain.verification import OrderOwner, VerificationOutcome
from bot.store.identifiers import normalise_phone
from bot.store.views import OrderView

logger = logging.getLogger(__name__)

VERIFIED_CUSTOMER_SLOT = "verified_customer_id"
VERIFIED_ORDERS_SLOT = "verified_order_numbers"
FAILURES_SLOT = "verification_failures"


@dataclass(frozen=True)
class VerificationResult:
    outcome: VerificationOutcome
    order: OrderView | None
    #: Slot values to set as a consequence (verified customer, failure count...).
    slots: dict[str, Any]


def failed_attempts(tracker: Tracker) -> int:
    return int(tracker.get_slot(FAILURES_SLOT) or 0)


def channel_identity(tracker: Tracker) -> tuple[str, str] | None:
    """(channel, the provider's id of the shopper) of the conversation, if it has a channel."""
    channel = tracker.get_latest_input_channel()
    if not channel:
        return None
    return channel, provider_id(channel, tracker.sender_id)


def whatsapp_number_is_order_phone(channel: str, external_id: str, phone: str | None) -> bool:
    """WhatsApp has proven the shopper holds this number; if it is the phone on the order,
    that is as good as typing it. Exact E.164 equality, unlike typed numbers."""
    number = normalise_phone(external_id)
    return channel == "whatsapp" and number is not None and number == phone


def owner_of(order: OrderView) -> OrderOwner:
    return OrderOwner(
        customer_id=order.customer.id, email=order.customer.email, phone=order.customer.phone
    )


class OrderVerifier:
    def __init__(self, services: Services) -> None:
        self._services = services

    def is_locked(self, tracker: Tracker) -> bool:
        return failed_attempts(tracker) >= self._services.verification.max_attempts

    def already_verified(self, tracker: Tracker, order: OrderView) -> bool:
        """True if this conversation has proven it owns `order`'s customer."""
        if str(order.customer.id) == str(tracker.get_slot(VERIFIED_CUSTOMER_SLOT) or ""):
            return True
        identity = channel_identity(tracker)
        if identity is None:
            return False
        channel, external_id = identity
        if whatsapp_number_is_order_phone(channel, external_id, order.customer.phone):
            self._link(channel, external_id, order.customer.id)
            return True
        linked = self._services.store.customer_for_identity(channel, external_id)
        return linked is not None and linked.id == order.customer.id

    def _link(self, channel: str, external_id: str, customer_id: int) -> None:
        try:
            self._services.store.link_identity(channel, external_id, customer_id)
        except SQLAlchemyError:  # the number still matches; only the shortcut is not stored
            logger.exception("could not link %s identity to customer %s", channel, customer_id)

    def verify(self, tracker: Tracker, order_number: str, contact: Contact) -> VerificationResult:
        order = self._services.store.find_order(order_number)
        failures = failed_attempts(tracker)
        outcome = self._services.verification.verify(
            owner_of(order) if order else None, contact, failures
        )
        if outcome is VerificationOutcome.VERIFIED and order is not None:
            identity = channel_identity(tracker)
            if identity is not None:
                self._services.store.link_identity(*identity, order.customer.id)
            return VerificationResult(outcome, order, self.verified_slots(tracker, order))
        return VerificationResult(outcome, None, {FAILURES_SLOT: float(failures + 1)})

    @staticmethod
    def verified_slots(tracker: Tracker, order: OrderView) -> dict[str, Any]:
        numbers = list(tracker.get_slot(VERIFIED_ORDERS_SLOT) or [])
        if order.number not in numbers:
            numbers.append(order.number)
        return {
            VERIFIED_CUSTOMER_SLOT: str(order.customer.id),
            VERIFIED_ORDERS_SLOT: numbers,
            FAILURES_SLOT: 0.0,
        }
