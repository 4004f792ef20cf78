"""Questions the order forms ask that depend on data: which order, which item, confirm what."""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.order_forms import verified_order_or_unavailable
from actions.returns_support import return_summary
from actions.services import STORE_FAILURES, UsesServices
from actions.verification import VERIFIED_CUSTOMER_SLOT
from bot.domain.views import OrderView

logger = logging.getLogger(__name__)

# Which orders a verified shopper is most likely asking about, per flow.
_ORDER_FILTERS = {
    "cancel_order_form": lambda o: o.status in {"processing", "paid"},
    "address_change_form": lambda o: o.status in {"processing", "paid"},
    "return_form": lambda o: o.status in {"delivered", "shipped"} or o.returns != (),
    "refund_status_form": lambda o: o.refunds != () or o.returns != () or o.status == "cancelled",
}
_MAX_ORDER_BUTTONS = 5


def payload(intent: str, **entities: Any) -> str:
    return f"/{intent}{json.dumps(entities)}" if entities else f"/{intent}"


def order_button_title(order: OrderView) -> str:
    return f"#{order.number} · {order.placed_at:%b} {order.placed_at.day} · {order.status}"


def active_form(tracker: Tracker) -> str | None:
    return (tracker.active_loop or {}).get("name")


class ActionAskOrderNumber(UsesServices, Action):
    """A verified shopper picks from their orders; anyone else types the number."""

    def name(self) -> str:
        return "action_ask_order_number"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        customer_id = tracker.get_slot(VERIFIED_CUSTOMER_SLOT)
        orders: list[OrderView] = []
        if customer_id:
            try:
                orders = self.services.store.orders_for_customer(int(customer_id))
            except STORE_FAILURES:
                # Without the list the shopper can still type the number; it is looked up then.
                logger.warning("could not list the customer's orders", exc_info=True)
                orders = []
            wanted = _ORDER_FILTERS.get(active_form(tracker) or "")
            if wanted is not None:
                orders = [o for o in orders if wanted(o)] or orders
        if len(orders) <= 1 and not orders:
            dispatcher.utter_message(response="utter_ask_order_number")
            return []
        buttons = [
            {"title": order_button_title(o), "payload": payload("inform", order_id=o.number)}
            for o in orders[:_MAX_ORDER_BUTTONS]
        ]
        dispatcher.utter_message(response="utter_ask_which_order", buttons=buttons)
        return []


class _AskAboutVerifiedOrder(UsesServices, Action, ABC):
    """A form's question about the verified order (`ask`), or "the lookup is unavailable"."""

    @abstractmethod
    def name(self) -> str: ...

    @abstractmethod
    def ask(self, dispatcher: CollectingDispatcher, tracker: Tracker, order: OrderView) -> None:
        """Ask the question about `order`."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        order = verified_order_or_unavailable(self.services, dispatcher, tracker)
        if order is not None:
            self.ask(dispatcher, tracker, order)
        return []


class ActionAskReturnItem(_AskAboutVerifiedOrder):
    def name(self) -> str:
        return "action_ask_return_item"

    def ask(self, dispatcher: CollectingDispatcher, tracker: Tracker, order: OrderView) -> None:
        buttons = [
            {"title": line.name[:60], "payload": payload("inform", return_item=str(line.id))}
            for line in order.lines
        ]
        dispatcher.utter_message(response="utter_ask_which_return_item", buttons=buttons)


class ActionAskConfirmed(_AskAboutVerifiedOrder):
    """Show exactly what will change and ask for a yes before changing anything."""

    def name(self) -> str:
        return "action_ask_confirmed"

    def ask(self, dispatcher: CollectingDispatcher, tracker: Tracker, order: OrderView) -> None:
        form = active_form(tracker)
        if form == "cancel_order_form":
            dispatcher.utter_message(
                response="utter_ask_confirm_cancel", **self._cancel_terms(order)
            )
        elif form == "address_change_form":
            dispatcher.utter_message(
                response="utter_ask_confirm_address_change",
                order_number=order.number,
                old_address=order.shipping_address.one_line(),
                new_address=tracker.get_slot("new_address"),
            )
        else:
            response, values = return_summary(self.services, tracker, order)
            dispatcher.utter_message(response=response, **values)

    def _cancel_terms(self, order: OrderView) -> dict[str, str]:
        # The two sentences depend on the policy's fee and on whether the order was paid, so
        # they are chosen here; the rest of the question is utter_ask_confirm_cancel.
        policy = self.services.store_policy
        refund = (
            f" You'll get a full refund of {order.total:.2f} {order.currency} to your original "
            f"payment method within {policy.refund_business_days_min}-"
            f"{policy.refund_business_days_max} business days."
            if order.paid_at
            else " You haven't been charged, so there's nothing to refund."
        )
        fee = (
            " Cancelling is free."
            if policy.cancellation_fee == 0
            else f" A cancellation fee of {policy.cancellation_fee:.2f} {order.currency} applies."
        )
        return {
            "order_number": order.number,
            "items": "; ".join(f"{line.quantity} x {line.name}" for line in order.lines),
            "order_total": f"{order.total:.2f} {order.currency}",
            "fee_sentence": fee,
            "refund_sentence": refund,
        }
