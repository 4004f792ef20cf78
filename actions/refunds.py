"""Refund status and invoices for a verified order."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.changes import _SubmitChange, reset
from actions.order_forms import VerifiedOrderForm
from bot.domain.views import OrderView


class ValidateRefundStatusForm(VerifiedOrderForm):
    form = "refund_status_form"


class ValidateInvoiceForm(VerifiedOrderForm):
    form = "invoice_form"


#: The description with the buttons for its next step, by (offer_return, offer_human).
_REFUND_STATUS = {
    (False, False): "utter_refund_status",
    (True, False): "utter_refund_status_offer_return",
    (False, True): "utter_refund_status_offer_human",
    (True, True): "utter_refund_status_offer_return_and_human",
}


class ActionRefundStatus(_SubmitChange):
    def name(self) -> str:
        return "action_refund_status"

    def submit(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, order: OrderView
    ) -> list[EventType]:
        message = self.services.refund_describer.describe(order, self.services.today())
        response = _REFUND_STATUS[(message.offer_return, message.offer_human)]
        dispatcher.utter_message(response=response, refund_status=message.text)
        return reset()


class ActionSendInvoice(_SubmitChange):
    def name(self) -> str:
        return "action_send_invoice"

    def submit(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, order: OrderView
    ) -> list[EventType]:
        template = self.services.store_policy.invoice_url_template
        if order.status == "processing":
            dispatcher.utter_message(response="utter_invoice_pending", order_number=order.number)
            return reset()
        dispatcher.utter_message(
            response="utter_invoice_link",
            order_number=order.number,
            order_total=f"{order.total:.2f} {order.currency}",
            invoice_url=template.format(order=order.number),
        )
        return reset()
