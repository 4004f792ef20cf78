"""Order status: ask for the order number, verify ownership, describe the order."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.order_forms import (
    CONTACT_SLOT,
    ORDER_NUMBER_SLOT,
    VerifiedOrderForm,
    verified_order_number,
    verified_order_or_unavailable,
)
from actions.services import UsesServices
from actions.verification import OrderVerifier

RESET_VERIFICATION = [SlotSet(ORDER_NUMBER_SLOT, None), SlotSet(CONTACT_SLOT, None)]


class ValidateOrderStatusForm(VerifiedOrderForm):
    form = "order_status_form"


class ActionOrderStatus(UsesServices, Action):
    def name(self) -> str:
        return "action_order_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if OrderVerifier(self.services).is_locked(tracker):
            dispatcher.utter_message(response="utter_verification_locked")
            return list(RESET_VERIFICATION)
        number = verified_order_number(tracker)
        if number is None:
            # The form ended without proof of ownership (e.g. the store was unreachable).
            return list(RESET_VERIFICATION)
        order = verified_order_or_unavailable(self.services, dispatcher, tracker)
        if order is None:
            return list(RESET_VERIFICATION)
        message = self.services.describer.describe(order, self.services.today())
        dispatcher.utter_message(text=message.text)
        if message.offer_human:
            dispatcher.utter_message(response="utter_offer_human")
        else:
            dispatcher.utter_message(response="utter_anything_else")
        return list(RESET_VERIFICATION)
