"""Cancel an order and change its shipping address: forms and their submit actions."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.order_forms import (
    VerifiedOrderForm,
    find_verified_order,
    verified_order_number,
    verified_order_or_unavailable,
)
from actions.services import STORE_FAILURES, UsesServices
from actions.verification import OrderVerifier
from bot.domain.addresses import parse_address
from bot.domain.order_changes import ChangeRefusal
from bot.domain.views import OrderView
from bot.store.errors import StoreUnavailableError
from bot.store.order_commands import NewAddress, OrderChangeConflict

logger = logging.getLogger(__name__)

CONFIRMED_SLOT = "confirmed"
FLOW_SLOTS = ["order_number", "contact", "confirmed", "new_address"]


def reset(*extra: str) -> list[EventType]:
    return [SlotSet(slot, None) for slot in (*FLOW_SLOTS, *extra)]


def validate_confirmation(value: Any, correctable: set[str]) -> dict[str, Any]:
    """'yes'/'no' are kept; a correction clears the answer to change so the form re-asks it."""
    if value in {"yes", "no"}:
        return {CONFIRMED_SLOT: value}
    if isinstance(value, str) and value in correctable:
        return {CONFIRMED_SLOT: None, value: None}
    return {CONFIRMED_SLOT: None}


class ValidateCancelOrderForm(VerifiedOrderForm):
    form = "cancel_order_form"

    def flow_slots(self, tracker: Tracker, order: OrderView) -> list[str]:
        allowed = self.services.cancellation_policy.decide(order).allowed
        return [CONFIRMED_SLOT] if allowed else []

    def validate_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return validate_confirmation(value, set())


class ValidateAddressChangeForm(VerifiedOrderForm):
    form = "address_change_form"

    def flow_slots(self, tracker: Tracker, order: OrderView) -> list[str]:
        decision = self.services.address_change_policy.decide(order, self.services.now())
        return ["new_address", CONFIRMED_SLOT] if decision.allowed else []

    def validate_new_address(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        try:
            order = find_verified_order(self.services, tracker)
        except STORE_FAILURES:
            dispatcher.utter_message(response="utter_order_lookup_unavailable")
            return {"new_address": None}
        country = order.shipping_address.country if order else "US"
        address = parse_address(str(value) if value else None, default_country=country)
        if address is None:
            dispatcher.utter_message(response="utter_invalid_address")
            return {"new_address": None}
        return {"new_address": address.one_line()}

    def validate_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return validate_confirmation(value, {"new_address"})


def utter_conflict(
    dispatcher: CollectingDispatcher, conflict: OrderChangeConflict, order_number: str
) -> None:
    """The shop would not make the change: say why, truthfully, and offer a person."""
    response = "utter_change_conflict" if conflict.order_moved_on else "utter_change_refused"
    dispatcher.utter_message(response=response, order_number=order_number)


class _SubmitChange(UsesServices, Action, ABC):
    """Shared start of the submit actions: locked? verified? which order? Then `submit`."""

    #: The flow's own slots, cleared with FLOW_SLOTS when it ends without an order.
    extra_slots: tuple[str, ...] = ()

    @abstractmethod
    def name(self) -> str: ...

    @abstractmethod
    def submit(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, order: OrderView
    ) -> list[EventType]:
        """What the flow does for the verified order; returns the events (ending the flow)."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        order = self._verified_order(dispatcher, tracker)
        if order is None:
            return reset(*self.extra_slots)
        try:
            return self.submit(dispatcher, tracker, order)
        except StoreUnavailableError:
            # The shop's system (Shopify) did not answer: the change may not have been made,
            # and the shopper must not be told it was. A retry reads before it writes again.
            logger.warning("%s: the shop's system is unavailable", self.name(), exc_info=True)
            dispatcher.utter_message(response="utter_change_unavailable", order_number=order.number)
        except OrderChangeConflict as conflict:
            utter_conflict(dispatcher, conflict, order.number)
        return reset(*self.extra_slots)

    def _verified_order(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> OrderView | None:
        if OrderVerifier(self.services).is_locked(tracker):
            dispatcher.utter_message(response="utter_verification_locked")
            return None
        if verified_order_number(tracker) is None:
            return None  # the form ended without proof of ownership
        return verified_order_or_unavailable(self.services, dispatcher, tracker)


class ActionSubmitCancelOrder(_SubmitChange):
    def name(self) -> str:
        return "action_submit_cancel_order"

    def submit(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, order: OrderView
    ) -> list[EventType]:
        decision = self.services.cancellation_policy.decide(order)
        policy = self.services.store_policy
        if not decision.allowed:
            if decision.refusal is ChangeRefusal.ALREADY_CANCELLED:
                dispatcher.utter_message(
                    response="utter_cancel_not_possible_cancelled", order_number=order.number
                )
            else:
                dispatcher.utter_message(
                    response="utter_cancel_not_possible_shipped",
                    order_number=order.number,
                    return_window_days=policy.return_window_days,
                )
            return reset()
        if tracker.get_slot(CONFIRMED_SLOT) != "yes":
            dispatcher.utter_message(response="utter_cancel_kept", order_number=order.number)
            return reset()
        try:
            result = self.services.order_commands.cancel(order.number)
        except OrderChangeConflict as conflict:
            utter_conflict(dispatcher, conflict, order.number)
            return reset()
        if result.refund_reference:
            dispatcher.utter_message(
                response="utter_order_cancelled_refunded",
                order_number=order.number,
                refund_amount=f"{result.order.total:.2f} {result.order.currency}",
                refund_days=f"{policy.refund_business_days_min}-{policy.refund_business_days_max}",
            )
        else:
            dispatcher.utter_message(response="utter_order_cancelled", order_number=order.number)
        return reset()


class ActionSubmitAddressChange(_SubmitChange):
    def name(self) -> str:
        return "action_submit_address_change"

    def submit(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, order: OrderView
    ) -> list[EventType]:
        decision = self.services.address_change_policy.decide(order, self.services.now())
        if not decision.allowed:
            dispatcher.utter_message(
                response="utter_address_not_possible", order_number=order.number
            )
            return reset()
        new = parse_address(tracker.get_slot("new_address"), order.shipping_address.country)
        if tracker.get_slot(CONFIRMED_SLOT) != "yes" or new is None:
            dispatcher.utter_message(response="utter_address_kept", order_number=order.number)
            return reset()
        try:
            updated = self.services.order_commands.change_shipping_address(
                order.number,
                NewAddress(
                    new.line1, new.line2, new.city, new.region, new.postal_code, new.country
                ),
            )
        except OrderChangeConflict as conflict:
            utter_conflict(dispatcher, conflict, order.number)
            return reset()
        dispatcher.utter_message(
            response="utter_address_changed",
            order_number=order.number,
            address=updated.shipping_address.one_line(),
        )
        return reset()
