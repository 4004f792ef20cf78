"""Returns intake: which item, why, what condition → ReturnPolicy → RMA, a person, or a no."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.changes import CONFIRMED_SLOT, _SubmitChange, reset, validate_confirmation
from actions.handoff import DECISION_SLOT, HANDOFF_ACTION
from actions.order_forms import VerifiedOrderForm, verified_order_number
from actions.returns_support import (
    answers,
    attachments_of,
    decide,
    delivered_on,
    find_line,
    parse_condition,
    parse_reason,
)
from bot.domain.business_days import add_business_days
from bot.domain.escalation import EscalationDecision, Reason
from bot.domain.order_status import friendly_date
from bot.domain.returns import IneligibleReason, ReturnOutcome
from bot.store.order_commands import Attachment
from bot.store.views import OrderView

RETURN_SLOTS = ("return_item", "return_reason", "return_condition", "return_photo")
SKIPPED_PHOTO = "skipped"


class ValidateReturnForm(VerifiedOrderForm):
    form = "return_form"

    def flow_slots(self, tracker: Tracker, order: OrderView) -> list[str]:
        if delivered_on(order) is None:
            return []  # nothing delivered yet: the submit action explains
        slots = ["return_item", "return_reason", "return_condition"]
        given = answers(tracker, order)
        if given is None:
            return slots
        decision = decide(self.services, order, given)
        if decision.outcome is ReturnOutcome.NEEDS_PERSON:
            return [*slots, "return_photo"]
        if decision.outcome is ReturnOutcome.ELIGIBLE:
            return [*slots, CONFIRMED_SLOT]
        return slots

    def _order(self, tracker: Tracker) -> OrderView | None:
        number = verified_order_number(tracker)
        return self.services.store.find_order(number) if number else None

    def validate_return_item(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        order = self._order(tracker)
        line = find_line(order, str(value)) if order and value else None
        if line is None:
            dispatcher.utter_message(response="utter_invalid_return_item")
            return {"return_item": None}
        return {"return_item": str(line.id)}

    def validate_return_reason(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        reason = parse_reason(str(value) if value else None)
        if reason is None:
            dispatcher.utter_message(response="utter_invalid_return_reason")
        return {"return_reason": reason}

    def validate_return_condition(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        condition = parse_condition(str(value) if value else None)
        if condition is None:
            dispatcher.utter_message(response="utter_invalid_return_condition")
        return {"return_condition": condition}

    def validate_return_photo(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        files = attachments_of(tracker)
        if files:
            return {"return_photo": files[0]["url"]}
        if isinstance(value, str) and value.strip().lower() in {"skip", "no photo", "later"}:
            return {"return_photo": SKIPPED_PHOTO}
        dispatcher.utter_message(response="utter_ask_return_photo")
        return {"return_photo": None}

    def validate_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return validate_confirmation(value, {"return_item", "return_reason", "return_condition"})


_INELIGIBLE_WORDING = {
    IneligibleReason.OUTSIDE_WINDOW: "our {window}-day return window ended on {deadline}",
    IneligibleReason.NON_RETURNABLE_CATEGORY: (
        "{item} can't be returned for hygiene or value reasons (it's in a non-returnable category)"
    ),
    IneligibleReason.FINAL_SALE: (
        "{item} was a final-sale item, and final-sale items can't be returned"
    ),
    IneligibleReason.USED: "items returned for size or a change of mind must be unused, with tags",
    IneligibleReason.ALREADY_REQUESTED: "there's already a return open for {item}",
}


class ActionSubmitReturn(_SubmitChange):
    def name(self) -> str:
        return "action_submit_return"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        order = self._verified_order(dispatcher, tracker)
        if order is None:
            return reset(*RETURN_SLOTS)
        if delivered_on(order) is None:
            dispatcher.utter_message(
                text=f"Order #{order.number} hasn't been delivered yet, so there's nothing to "
                "return. If you no longer want it, I can check whether it can still be cancelled."
            )
            return reset(*RETURN_SLOTS)
        given = answers(tracker, order)
        if given is None:  # stopped before answering everything
            dispatcher.utter_message(response="utter_return_stopped")
            return reset(*RETURN_SLOTS)
        decision = decide(self.services, order, given)
        policy = self.services.store_policy
        if decision.outcome is ReturnOutcome.INELIGIBLE:
            window = (
                policy.vip_return_window_days
                if order.customer.is_vip
                else (policy.return_window_days)
            )
            reason = _INELIGIBLE_WORDING[decision.reason or IneligibleReason.OUTSIDE_WINDOW]
            deadline = (
                friendly_date(decision.deadline, self.services.today()) if decision.deadline else ""
            )
            text = reason.format(window=window, deadline=deadline, item=given.line.name)
            dispatcher.utter_message(
                text=f"I'm sorry, I can't open a return for this: {text}. If you think "
                "there's a good reason for an exception, a member of our team can look at it."
            )
            dispatcher.utter_message(response="utter_offer_human")
            return reset(*RETURN_SLOTS)
        if decision.outcome is ReturnOutcome.ELIGIBLE and tracker.get_slot(CONFIRMED_SLOT) != "yes":
            dispatcher.utter_message(response="utter_return_stopped")
            return reset(*RETURN_SLOTS)
        photo = tracker.get_slot("return_photo")
        files = [Attachment(photo)] if photo and photo != SKIPPED_PHOTO else []
        result = self.services.order_commands.request_return(
            order.number,
            given.line.id,
            reason=given.reason,
            condition=given.condition,
            attachments=files,
        )
        if decision.outcome is ReturnOutcome.NEEDS_PERSON:
            dispatcher.utter_message(
                text=f"Thank you. I've recorded the problem as {result.rma_number}"
                f"{' with your photo' if files else ''}. Because the item arrived damaged, "
                "faulty or wrong, a member of our team decides on a replacement or refund "
                "(you won't pay for the return)."
            )
            handover = EscalationDecision.requested(Reason.ITEM_PROBLEM)
            return [
                *reset(*RETURN_SLOTS),
                SlotSet("last_rma_number", result.rma_number),
                SlotSet(DECISION_SLOT, handover.to_json()),
                FollowupAction(HANDOFF_ACTION),
            ]
        label = policy.label_url_template.format(rma=result.rma_number)
        refund_by = add_business_days(
            self.services.today(),
            policy.return_drop_off_days // 7 * 5
            + policy.refund_inspection_business_days
            + policy.refund_business_days_max,
        )
        dispatcher.utter_message(
            text=f"Your return is open: {result.rma_number} for {given.line.name}.\n"
            f"1. Print your free return label: {label}\n"
            f"2. Pack the item with its tags and drop the parcel at any UPS point within "
            f"{policy.return_drop_off_days} days.\n"
            f"3. Once it arrives we check it within {policy.refund_inspection_business_days} "
            f"business days and refund {given.line.unit_price * given.line.quantity:.2f} "
            f"{order.currency} to your original payment method "
            f"({policy.refund_business_days_min}-{policy.refund_business_days_max} business "
            f"days); if you send it right away, expect the money by "
            f"{friendly_date(refund_by, self.services.today())}."
        )
        return [*reset(*RETURN_SLOTS), SlotSet("last_rma_number", result.rma_number)]
