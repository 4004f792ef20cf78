"""The verification step every order flow starts with, as a form-validation base class.

Each flow's form requires `order_number` and `contact` first (after a typed phone number, the
`contact` question is asked again, for the shipping postcode); once the shopper has proven the
order is theirs, `flow_slots` says what else the flow needs for *this* order (nothing, when the
order is not eligible: the form ends and the submit action explains why).

When verification locks (too many failed attempts in the conversation, or a limit per order,
source or contact across conversations), the form says so in words that reveal nothing about
the attempt and hands the conversation to a person (reason `verification_locked`).
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.handoff import DECISION_SLOT, HANDOFF_ACTION
from actions.services import STORE_FAILURES, Services, UsesServices
from actions.verification import LOCKED_SLOT, VERIFIED_ORDERS_SLOT, OrderVerifier
from bot.domain.contacts import Contact, ContactKind, parse_contact, parse_postcode
from bot.domain.order_numbers import order_number_from_entity
from bot.domain.verification import Detail, Proof, VerificationOutcome, missing_detail
from bot.domain.views import OrderView
from handoff.domain.escalation import EscalationDecision, Reason

logger = logging.getLogger(__name__)

ORDER_NUMBER_SLOT = "order_number"
CONTACT_SLOT = "contact"
#: A typed phone number waiting for its second detail, the shipping postcode.
PHONE_SLOT = "verification_phone"
ALREADY_VERIFIED = "verified earlier in this conversation"
VERIFICATION_SLOTS = [ORDER_NUMBER_SLOT, CONTACT_SLOT]
#: Everything a failed or refused attempt clears, so the next attempt starts from the number.
_CLEARED = {ORDER_NUMBER_SLOT: None, CONTACT_SLOT: None, PHONE_SLOT: None}


def verified_order_number(tracker: Tracker) -> str | None:
    """The form's order number, if this conversation has proven it owns it."""
    number = tracker.get_slot(ORDER_NUMBER_SLOT)
    verified = tracker.get_slot(VERIFIED_ORDERS_SLOT) or []
    return number if number and number in verified else None


def find_verified_order(services: Services, tracker: Tracker) -> OrderView | None:
    """The order this conversation has proven it owns, from the store (None: none proven)."""
    number = verified_order_number(tracker)
    return services.store.find_order(number) if number else None


def verified_order_or_unavailable(
    services: Services, dispatcher: CollectingDispatcher, tracker: Tracker
) -> OrderView | None:
    """The verified order, or None once the shopper has been told the order system is
    unavailable: nothing proven, the store unreachable, or the order gone from it. Callers that
    end quietly without proof check `verified_order_number` first."""
    try:
        order = find_verified_order(services, tracker)
    except STORE_FAILURES:
        logger.exception("order lookup failed")
        order = None
    if order is None:
        dispatcher.utter_message(response="utter_order_lookup_unavailable")
    return order


def pending_phone(tracker: Tracker) -> Contact | None:
    """A typed phone number waiting for its second detail (the shipping postcode)."""
    value = tracker.get_slot(PHONE_SLOT)
    contact = parse_contact(str(value)) if value else None
    return contact if contact is not None and contact.kind is ContactKind.PHONE else None


class ActionAskContact(Action):
    """The form's `contact` question: the e-mail or phone, or the postcode after a phone."""

    def name(self) -> str:
        return "action_ask_contact"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        number = tracker.get_slot(ORDER_NUMBER_SLOT)
        if pending_phone(tracker) is not None:
            dispatcher.utter_message(response="utter_ask_postcode_for_phone", order_number=number)
        else:
            dispatcher.utter_message(response="utter_ask_contact", order_number=number)
        return []


def locked(dispatcher: CollectingDispatcher, **slots: Any) -> dict[str, Any]:
    """Stop asking and hand over to a person. One message for every lock: it must not tell an
    unknown order from a wrong contact, nor a near miss from a wild guess."""
    dispatcher.utter_message(response="utter_verification_locked_handoff")
    return {
        **_CLEARED,
        **slots,
        LOCKED_SLOT: True,
        DECISION_SLOT: EscalationDecision.requested(Reason.VERIFICATION_LOCKED).to_json(),
    }


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

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = await super().run(dispatcher, tracker, domain)
        # A lock asked for a person (`locked`): the handoff runs right after the form ends.
        if any(
            e.get("event") == "slot" and e.get("name") == DECISION_SLOT and e.get("value")
            for e in events
        ):
            events.append(FollowupAction(HANDOFF_ACTION))
        return events

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if OrderVerifier(self.services).is_locked(tracker):
            return []  # a person helps from here (`locked`)
        try:
            order = find_verified_order(self.services, tracker)
        except STORE_FAILURES:
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
        number = order_number_from_entity(slot_value)
        if number is None:
            dispatcher.utter_message(response="utter_invalid_order_number")
            return {ORDER_NUMBER_SLOT: None}
        verifier = OrderVerifier(self.services)
        try:
            order = self.services.store.find_order(number)
            if order is not None and verifier.already_verified(tracker, order):
                return {
                    ORDER_NUMBER_SLOT: number,
                    CONTACT_SLOT: ALREADY_VERIFIED,
                    PHONE_SLOT: None,
                    **OrderVerifier.verified_slots(tracker, order),
                }
            # Locked orders (or sources) are not asked for a contact they could not use.
            lock = verifier.store_lock(tracker, number)
        except STORE_FAILURES:
            logger.exception("order lookup failed")
            dispatcher.utter_message(response="utter_order_lookup_unavailable")
            return {ORDER_NUMBER_SLOT: None}
        if lock is not None:
            logger.info("verification refused before a contact: %s limit holds", lock.scope)
            return locked(dispatcher)
        # A new order number needs its own proof, even if a contact was given for another.
        return {ORDER_NUMBER_SLOT: number, CONTACT_SLOT: None, PHONE_SLOT: None}

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
        text = str(slot_value) if slot_value else None
        contact, phone = parse_contact(text), pending_phone(tracker)
        if contact is None and phone is not None and number:
            # The answer to "and the postcode?" after a typed phone number.
            postcode = parse_postcode(text)
            if postcode is None:
                dispatcher.utter_message(response="utter_invalid_postcode")
                return {CONTACT_SLOT: None}
            return self._check(dispatcher, tracker, number, Proof(phone, postcode))
        if contact is None or not number:
            dispatcher.utter_message(response="utter_invalid_contact")
            return {CONTACT_SLOT: None, PHONE_SLOT: None}
        if missing_detail(Proof(contact)) is Detail.POSTCODE:
            # Nothing is checked yet: the form asks for the postcode (`ActionAskContact`), so
            # no answer ever says whether the phone alone was right.
            return {CONTACT_SLOT: None, PHONE_SLOT: contact.value}
        return self._check(dispatcher, tracker, number, Proof(contact))

    def _check(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, number: str, proof: Proof
    ) -> dict[str, Any]:
        try:
            result = OrderVerifier(self.services).verify(
                tracker, number, proof.contact, proof.postcode
            )
        except STORE_FAILURES:
            logger.exception("order verification failed")
            dispatcher.utter_message(response="utter_order_lookup_unavailable")
            return dict(_CLEARED)
        if result.outcome is VerificationOutcome.VERIFIED:
            return {CONTACT_SLOT: proof.contact.masked, PHONE_SLOT: None, **result.slots}
        if result.outcome is VerificationOutcome.LOCKED:
            return locked(dispatcher, **result.slots)
        dispatcher.utter_message(response="utter_verification_failed", order_number=number)
        # Ask for both again: the mistake may be in either, and we must not say which.
        return {**_CLEARED, **result.slots}
