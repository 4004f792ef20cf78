"""The verification step every order flow starts with, as a form-validation base class.

Each flow's form requires `order_number` and `contact` first; once the shopper has proven the
order is theirs, `flow_slots` says what else the flow needs for *this* order (nothing, when the
order is not eligible: the form ends and the submit action explains why).
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions.services import UsesServices
from actions.verification import VERIFIED_ORDERS_SLOT, OrderVerifier
from bot.domain.contacts import parse_contact
from bot.domain.order_numbers import normalise_order_number
from bot.domain.verification import VerificationOutcome
from bot.store.views import OrderView

logger = logging.getLogger(__name__)

ORDER_NUMBER_SLOT = "order_number"
CONTACT_SLOT = "contact"
ALREADY_VERIFIED = "verified earlier in this conversation"
VERIFICATION_SLOTS = [ORDER_NUMBER_SLOT, CONTACT_SLOT]


def verified_order_number(tracker: Tracker) -> str | None:
    """The form's order number, if this conversation has proven it owns it."""
    number = tracker.get_slot(ORDER_NUMBER_SLOT)
    verified = tracker.get_slot(VERIFIED_ORDERS_SLOT) or []
    return number if number and number in verified else None


class VerifiedOrderForm(UsesServices, FormValidationAction):
    """Subclasses set `form` and may override `flow_slots`."""

    @property
    @abstractmethod
    def form(self) -> str:
        """The form this validates (a subclass sets it as a class attribute)."""

    def name(self) -> str:
        return f"validate_{self.form}"

    def flow_slots(self, tracker: Tracker, order: OrderView) -> list[str]:
        return []

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if OrderVerifier(self.services).is_locked(tracker):
            return []  # the submit action says so and offers a person
        number = verified_order_number(tracker)
        if number is None:
            return list(VERIFICATION_SLOTS)
        try:
            order = self.services.store.find_order(number)
        except SQLAlchemyError:
            logger.exception("order lookup failed")
            return list(VERIFICATION_SLOTS)
        if order is None:
            return list(VERIFICATION_SLOTS)
        return [*VERIFICATION_SLOTS, *self.flow_slots(tracker, order)]

    def validate_order_number(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        number = normalise_order_number(str(slot_value) if slot_value else None)
        if number is None:
            dispatcher.utter_message(response="utter_invalid_order_number")
            return {ORDER_NUMBER_SLOT: None}
        try:
            order = self.services.store.find_order(number)
        except SQLAlchemyError:
            logger.exception("order lookup failed")
            dispatcher.utter_message(response="utter_order_lookup_unavailable")
            return {ORDER_NUMBER_SLOT: None}
        if order is not None and OrderVerifier(self.services).already_verified(tracker, order):
            return {
                ORDER_NUMBER_SLOT: number,
                CONTACT_SLOT: ALREADY_VERIFIED,
                **OrderVerifier.verified_slots(tracker, order),
            }
        # A new order number needs its own proof, even if a contact was given for another.
        return {ORDER_NUMBER_SLOT: number, CONTACT_SLOT: None}

    def validate_contact(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        if slot_value == ALREADY_VERIFIED:
            return {CONTACT_SLOT: slot_value}
        number = tracker.get_slot(ORDER_NUMBER_SLOT)
        contact = parse_contact(str(slot_value) if slot_value else None)
        if contact is None or not number:
            dispatcher.utter_message(response="utter_invalid_contact")
            return {CONTACT_SLOT: None}
        result = OrderVerifier(self.services).verify(tracker, number, contact)
        if result.outcome is VerificationOutcome.VERIFIED:
            return {CONTACT_SLOT: contact.masked, **result.slots}
        if result.outcome is VerificationOutcome.NOT_MATCHED:
            dispatcher.utter_message(response="utter_verification_failed", order_number=number)
        # Ask for both again: the mistake may be in either, and we must not say which.
        return {ORDER_NUMBER_SLOT: None, CONTACT_SLOT: None, **result.slots}
