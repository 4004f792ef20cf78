"""What happened to an order between two stored states: the events other parts subscribe to.

A sync (a Shopify webhook, a reconciliation read, the generic push webhook) replaces an order's
stored state with a newer one. `order_events(before, after)` compares the two and names each
change a shopper or the shop owner could care about: the order's status moved, a parcel was
handed to the carrier, a parcel's status moved (delayed, exception, out for delivery,
delivered...), a refund was issued or settled, a return was opened or decided, the delivery
address changed. Proactive messages (a delay notice) and reports (time to delivery) read the
recorded events instead of diffing states themselves.

Pure: views in, events out; no clock, no storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.domain.views import AddressView, OrderView


class OrderEventKind(StrEnum):
    #: First time relaydesk sees the order (subject ""; after: its status).
    ORDER_SEEN = "order_seen"
    ORDER_STATUS_CHANGED = "order_status_changed"
    #: A parcel with a new tracking number (subject: the tracking number; after: its status).
    SHIPMENT_CREATED = "shipment_created"
    SHIPMENT_STATUS_CHANGED = "shipment_status_changed"
    #: A parcel no longer on the order (a cancelled fulfilment); after: "removed".
    SHIPMENT_REMOVED = "shipment_removed"
    REFUND_CREATED = "refund_created"
    REFUND_STATUS_CHANGED = "refund_status_changed"
    RETURN_OPENED = "return_opened"
    RETURN_STATUS_CHANGED = "return_status_changed"
    #: The delivery address changed (after: "changed"; the address itself stays in the order).
    ADDRESS_CHANGED = "address_changed"


REMOVED = "removed"
CHANGED = "changed"


@dataclass(frozen=True)
class OrderEvent:
    kind: OrderEventKind
    #: What within the order: a tracking number, refund reference, RMA number; "" for the order.
    subject: str
    before: str | None
    after: str


def order_events(before: OrderView | None, after: OrderView) -> list[OrderEvent]:
    """The changes from `before` (None: never seen) to `after`, in a stable order: the order,
    then parcels, refunds and returns by their keys."""
    if before is None:
        return [OrderEvent(OrderEventKind.ORDER_SEEN, "", None, str(after.status))]
    events: list[OrderEvent] = []
    if before.status != after.status:
        events.append(
            OrderEvent(
                OrderEventKind.ORDER_STATUS_CHANGED, "", str(before.status), str(after.status)
            )
        )
    if _address_key(before.shipping_address) != _address_key(after.shipping_address):
        events.append(OrderEvent(OrderEventKind.ADDRESS_CHANGED, "", None, CHANGED))
    events += _keyed_changes(
        {s.tracking_number: str(s.status) for s in before.shipments},
        {s.tracking_number: str(s.status) for s in after.shipments},
        created=OrderEventKind.SHIPMENT_CREATED,
        changed=OrderEventKind.SHIPMENT_STATUS_CHANGED,
        removed=OrderEventKind.SHIPMENT_REMOVED,
    )
    events += _keyed_changes(
        {r.reference: str(r.status) for r in before.refunds},
        {r.reference: str(r.status) for r in after.refunds},
        created=OrderEventKind.REFUND_CREATED,
        changed=OrderEventKind.REFUND_STATUS_CHANGED,
        removed=None,
    )
    events += _keyed_changes(
        {r.rma_number: str(r.status) for r in before.returns},
        {r.rma_number: str(r.status) for r in after.returns},
        created=OrderEventKind.RETURN_OPENED,
        changed=OrderEventKind.RETURN_STATUS_CHANGED,
        removed=None,
    )
    return events


def _keyed_changes(
    before: dict[str, str],
    after: dict[str, str],
    *,
    created: OrderEventKind,
    changed: OrderEventKind,
    removed: OrderEventKind | None,
) -> list[OrderEvent]:
    events = []
    for key in sorted(after):
        if key not in before:
            events.append(OrderEvent(created, key, None, after[key]))
        elif before[key] != after[key]:
            events.append(OrderEvent(changed, key, before[key], after[key]))
    if removed is not None:
        events += [OrderEvent(removed, key, before[key], REMOVED) for key in sorted(before)
                   if key not in after]  # fmt: skip
    return events


def _address_key(address: AddressView) -> tuple[object, ...]:
    return (
        address.name, address.line1, address.line2, address.city, address.region,
        address.postal_code, address.country,
    )  # fmt: skip
