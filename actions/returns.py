"""Returns intake: which item, why, what condition → ReturnPolicy → RMA, a person, or a no."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.changes import CONFIRMED_SLOT, _SubmitChange, reset, validate_confirmation
from actions.handoff import DECISION_SLOT, HANDOFF_ACTION
from actions.order_forms import VerifiedOrderForm, find_verified_order
from actions.returns_support import (
    answers,
    attachments_of,
    decide,
    delivered_on,
    find_line,
    parse_condition,
    parse_reason,
)
from actions.services import STORE_FAILURES
from bot.domain.business_days import add_business_days
from bot.domain.order_status import friendly_date
from bot.domain.returns import IneligibleReason, ReturnOutcome
from bot.domain.views import OrderView
from bot.store.order_commands import Attachment
from handoff.domain.escalation import EscalationDecision, Reason

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

    def validate_return_item(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        try:
            order = find_verified_order(self.services, tracker)
        except STORE_FAILURES:
            dispatcher.utter_message(response="utter_order_lookup_unavailable")
            return {"return_item": None}
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


#: The response refusing a return, per ReturnPolicy reason (domain/selfservice.yml).
_REFUSALS = {
    IneligibleReason.OUTSIDE_WINDOW: "utter_return_refused_outside_window",
    IneligibleReason.NON_RETURNABLE_CATEGORY: "utter_return_refused_non_returnable_category",
    IneligibleReason.FINAL_SALE: "utter_return_refused_final_sale",
    IneligibleReason.USED: "utter_return_refused_used",
    IneligibleReason.ALREADY_REQUESTED: "utter_return_refused_already_requested",
}


class ActionSubmitReturn(_SubmitChange):
    extra_slots = RETURN_SLOTS

    def name(self) -> str:
        return "action_submit_return"

    def submit(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, order: OrderView
    ) -> list[EventType]:
        if delivered_on(order) is None:
            dispatcher.utter_message(
                response="utter_return_not_delivered", order_number=order.number
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
            deadline = (
                friendly_date(decision.deadline, self.services.today()) if decision.deadline else ""
            )
            dispatcher.utter_message(
                response=_REFUSALS[decision.reason or IneligibleReason.OUTSIDE_WINDOW],
                window=window,
                deadline=deadline,
                item=given.line.name,
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
                response="utter_return_problem_recorded_with_photo"
                if files
                else "utter_return_problem_recorded",
                rma_number=result.rma_number,
            )
            handover = EscalationDecision.requested(Reason.ITEM_PROBLEM)
            return [
                *reset(*RETURN_SLOTS),
                SlotSet("last_rma_number", result.rma_number),
                SlotSet(DECISION_SLOT, handover.to_json()),
                FollowupAction(HANDOFF_ACTION),
            ]
        if result.awaiting_approval:
            # The shop approves return requests itself (Shopify): no label until it has.
            dispatcher.utter_message(
                response="utter_return_requested",
                rma_number=result.rma_number,
                item=given.line.name,
                inspection_days=policy.refund_inspection_business_days,
                refund_amount=f"{given.line.unit_price * given.line.quantity:.2f} {order.currency}",
            )
            return [*reset(*RETURN_SLOTS), SlotSet("last_rma_number", result.rma_number)]
        label = policy.label_url_template.format(rma=result.rma_number)
        refund_by = add_business_days(
            self.services.today(),
            policy.return_drop_off_days // 7 * 5
            + policy.refund_inspection_business_days
            + policy.refund_business_days_max,
        )
        dispatcher.utter_message(
            response="utter_return_opened",
            rma_number=result.rma_number,
            item=given.line.name,
            label_url=label,
            drop_off_days=policy.return_drop_off_days,
            inspection_days=policy.refund_inspection_business_days,
            refund_amount=f"{given.line.unit_price * given.line.quantity:.2f} {order.currency}",
            refund_days=f"{policy.refund_business_days_min}-{policy.refund_business_days_max}",
            refund_by=friendly_date(refund_by, self.services.today()),
        )
        return [*reset(*RETURN_SLOTS), SlotSet("last_rma_number", result.rma_number)]
