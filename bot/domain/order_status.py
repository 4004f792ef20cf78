"""Turning an order's store record into a plain-words status a shopper understands.

Pure: takes the order view and today's date, returns text. Every message says what we know,
what happens next and when, and offers a person when something went wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bot.domain.views import OrderView, ShipmentView

# Shipment states in which the shopper deserves an apology and the offer of a person.
PROBLEM_SHIPMENT_STATES = frozenset({"delayed", "exception", "lost"})


@dataclass(frozen=True)
class OrderStatusMessage:
    text: str
    #: True when a person should be offered (delay, loss, exception).
    offer_human: bool
    tracking_url: str | None = None


def friendly_date(day: date, today: date) -> str:
    delta = (day - today).days
    label = f"{day:%A}, {day:%B} {day.day}"
    if delta == 0:
        return f"today ({label})"
    if delta == 1:
        return f"tomorrow ({label})"
    if delta == -1:
        return f"yesterday ({label})"
    if 1 < delta <= 14:
        return f"{label} (in {delta} days)"
    return label


def _as_date(value: date | datetime | None) -> date | None:
    if value is None:
        return None
    return value.date() if isinstance(value, datetime) else value


def _latest_event_text(shipment: ShipmentView) -> str | None:
    if not shipment.events:
        return None
    latest = max(shipment.events, key=lambda event: event.occurred_at)
    where = f" ({latest.location})" if latest.location else ""
    return f"{latest.description}{where}"


def _tracking_line(shipment: ShipmentView) -> str:
    line = f"{shipment.carrier} tracking number {shipment.tracking_number}"
    if shipment.tracking_url:
        line += f": {shipment.tracking_url}"
    return line


class OrderStatusDescriber:
    """`describe(order, today)` → the message for the order's current state."""

    def __init__(self, processing_days: str = "1-2 business days") -> None:
        self._processing_days = processing_days

    def describe(self, order: OrderView, today: date) -> OrderStatusMessage:
        heading = f"Order #{order.number}"
        status = order.status
        if status == "cancelled":
            when = _as_date(order.cancelled_at)
            text = f"{heading} was cancelled" + (
                f" on {friendly_date(when, today)}." if when else "."
            )
            return OrderStatusMessage(text + self._refund_sentence(order), offer_human=False)
        if status in {"refunded", "returned"}:
            text = f"{heading} was {status}." + self._refund_sentence(order)
            return OrderStatusMessage(text, offer_human=False)

        shipment = self._current_shipment(order)
        if shipment is None:
            placed = _as_date(order.placed_at)
            placed_text = f" (placed {friendly_date(placed, today)})" if placed else ""
            paid = "is paid and " if order.paid_at else "is "
            text = (
                f"{heading}{placed_text} {paid}being prepared in our warehouse. It hasn't "
                f"shipped yet: orders usually leave us within {self._processing_days}, and "
                "you'll get an email with the tracking link as soon as it does."
            )
            return OrderStatusMessage(text, offer_human=False)
        return self._describe_shipment(heading, order, shipment, today)

    def _describe_shipment(
        self, heading: str, order: OrderView, shipment: ShipmentView, today: date
    ) -> OrderStatusMessage:
        tracking = _tracking_line(shipment)
        eta = _as_date(shipment.estimated_delivery)
        eta_text = f" Expected delivery: {friendly_date(eta, today)}." if eta else ""
        latest = _latest_event_text(shipment)
        state = shipment.status
        url = shipment.tracking_url
        partial = (
            " Part of this order is still being prepared and will ship separately."
            if order.fulfilment_status == "partially_fulfilled"
            else ""
        )
        if state == "delivered":
            delivered = _as_date(shipment.delivered_at)
            when = f" {friendly_date(delivered, today)}" if delivered else ""
            text = (
                f"{heading} was delivered{when} by {shipment.carrier} ({tracking}).{partial} "
                "If you can't find it, tell me and I'll bring in a person to look into it."
            )
            return OrderStatusMessage(text, offer_human=False, tracking_url=url)
        if state == "out_for_delivery":
            text = (
                f"Good news: {heading} is out for delivery today with {shipment.carrier}. "
                f"Follow it live with {tracking}.{partial}"
            )
            return OrderStatusMessage(text, offer_human=False, tracking_url=url)
        if state in PROBLEM_SHIPMENT_STATES:
            reason = f" The carrier reports: {latest}." if latest else ""
            if state == "delayed":
                text = (
                    f"I'm sorry: {heading} is delayed with {shipment.carrier}.{reason}"
                    f"{eta_text or ' The carrier has not given a new delivery date yet.'} "
                    f"You can follow it with {tracking}. If you'd rather not wait, I can "
                    "connect you with a person."
                )
            else:
                text = (
                    f"I'm sorry: {heading} has a problem in transit with {shipment.carrier}."
                    f"{reason} This needs a person from our team to sort out (a replacement "
                    f"or a refund). Reference: {tracking}."
                )
            return OrderStatusMessage(text, offer_human=True, tracking_url=url)
        if state == "label_created":
            text = (
                f"{heading} is packed and a {shipment.carrier} label has been created; the "
                f"carrier hasn't scanned it yet, which usually happens within a day.{eta_text} "
                f"Tracking: {tracking}.{partial}"
            )
            return OrderStatusMessage(text, offer_human=False, tracking_url=url)
        latest_text = f" Latest update: {latest}." if latest else ""
        text = (
            f"{heading} is on its way with {shipment.carrier}.{eta_text}{latest_text} "
            f"Track it with {tracking}.{partial}"
        )
        return OrderStatusMessage(text, offer_human=False, tracking_url=url)

    @staticmethod
    def _current_shipment(order: OrderView) -> ShipmentView | None:
        if not order.shipments:
            return None
        return max(order.shipments, key=lambda s: (s.shipped_at is not None, s.shipped_at or 0))

    @staticmethod
    def _refund_sentence(order: OrderView) -> str:
        if not order.refunds:
            return ""
        refund = order.refunds[-1]
        amount = f"{refund.amount:.2f} {refund.currency}"
        method = str(refund.method).replace("_", " ")
        if refund.status == "completed":
            return f" A refund of {amount} to your {method} has been completed."
        return (
            f" A refund of {amount} to your {method} is {refund.status}; refunds "
            "usually reach you within 5-10 business days."
        )
