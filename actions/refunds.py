"""Refund status and invoices for a verified order."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.changes import _SubmitChange, reset
from actions.order_forms import VerifiedOrderForm


class ValidateRefundStatusForm(VerifiedOrderForm):
    form = "refund_status_form"


class ValidateInvoiceForm(VerifiedOrderForm):
    form = "invoice_form"


class ActionRefundStatus(_SubmitChange):
    def name(self) -> str:
        return "action_refund_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        order = self._verified_order(dispatcher, tracker)
        if order is None:
            return reset()
        message = self.services.refund_describer.describe(order, self.services.today())
        buttons = []
        if message.offer_return:
            buttons.append({"title": "Start a return", "payload": "/start_return"})
        if message.offer_human:
            buttons.append({"title": "Talk to a person", "payload": "/contact_human_agent"})
        dispatcher.utter_message(text=message.text, buttons=buttons)
        return reset()


class ActionSendInvoice(_SubmitChange):
    def name(self) -> str:
        return "action_send_invoice"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        order = self._verified_order(dispatcher, tracker)
        if order is None:
            return reset()
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
