"""Shopify's fulfilment and tracking statuses on relaydesk's `ShipmentStatus`.

Shopify says where a parcel is in two places: the carrier's tracking status (REST
`fulfillment.shipment_status` and `fulfillment_event.status`, lower-case; GraphQL
`FulfillmentEventStatus`, upper-case, same words) and the fulfilment's own `status` (pending,
open, success, cancelled, error, failure). `shipment_status_for()` combines them:

1. fulfilment `cancelled`: no parcel (None): the shipment is gone, not in trouble.
2. fulfilment `error` / `failure`: EXCEPTION (the fulfilment request failed; a person must act).
3. a known tracking status: `TRACKING_STATUSES` below.
4. otherwise (null, or a value newer than this table) the fulfilment status:
   pending / open → LABEL_CREATED, success → IN_TRANSIT (fulfilled, no carrier scan known).

Delays and exceptions land where relaydesk's answers and escalation rules look for them
(`PROBLEM_SHIPMENT_STATES` in bot/domain/order_status.py and handoff/domain/escalation.py:
delayed, exception, lost): `delayed` → DELAYED, `failure` and `attempted_delivery` →
EXCEPTION. Shopify has no "lost" status; LOST stays a state only an agent or the carrier's own
feed sets.

An unknown tracking value (Shopify adds some every few API versions: DELAYED in 2025-07,
CARRIER_PICKED_UP in 2025-10, PICKED_UP in unstable) is logged as a warning and ignored, so the
fulfilment status decides (step 4). That never claims a delivery nor raises a false alarm: the
shopper hears "on its way" with the tracking link, which stays true whatever the new value is.
"""

from __future__ import annotations

import logging

from bot.domain.vocabulary import ShipmentStatus

logger = logging.getLogger(__name__)

#: Carrier tracking status (lower-case REST form) → relaydesk shipment status.
TRACKING_STATUSES: dict[str, ShipmentStatus] = {
    # A label exists; the carrier has not scanned the parcel.
    "label_printed": ShipmentStatus.LABEL_CREATED,
    "label_purchased": ShipmentStatus.LABEL_CREATED,
    # "The carrier is aware of the shipment but hasn't received it yet"; also Shopify's default
    # when nothing else is known.
    "confirmed": ShipmentStatus.LABEL_CREATED,
    "carrier_picked_up": ShipmentStatus.IN_TRANSIT,
    "in_transit": ShipmentStatus.IN_TRANSIT,
    # At a pickup point waiting for the shopper: still moving from relaydesk's point of view
    # (no "ready for pickup" state); it is not delivered, so no "delivered but missing" claims.
    "ready_for_pickup": ShipmentStatus.IN_TRANSIT,
    "out_for_delivery": ShipmentStatus.OUT_FOR_DELIVERY,
    "delivered": ShipmentStatus.DELIVERED,
    # The shopper collected it (local pickup): the parcel has reached them.
    "picked_up": ShipmentStatus.DELIVERED,
    # Nothing to carry (digital goods, services): Shopify considers it done.
    "fulfillment_not_required": ShipmentStatus.DELIVERED,
    "delayed": ShipmentStatus.DELAYED,
    # A failed attempt leaves the parcel held until someone acts (the demo's order 10042).
    "attempted_delivery": ShipmentStatus.EXCEPTION,
    "failure": ShipmentStatus.EXCEPTION,
}

#: Fulfilment `status` → shipment status when no tracking status decides; None: no parcel.
FULFILMENT_STATUSES: dict[str, ShipmentStatus | None] = {
    "pending": ShipmentStatus.LABEL_CREATED,
    "open": ShipmentStatus.LABEL_CREATED,
    "success": ShipmentStatus.IN_TRANSIT,
    "cancelled": None,
    "error": ShipmentStatus.EXCEPTION,
    "failure": ShipmentStatus.EXCEPTION,
}

#: When the fulfilment status itself is unknown (or missing): Shopify created a fulfilment, so
#: something was handed over; say "on its way" rather than guess delivered or failed.
DEFAULT_STATUS = ShipmentStatus.IN_TRANSIT

# Fulfilment statuses that override whatever the carrier last said.
_OVERRIDING = frozenset({"cancelled", "error", "failure"})


def tracking_status(value: str | None) -> ShipmentStatus | None:
    """The relaydesk status of a tracking value in either spelling ("IN_TRANSIT",
    "in_transit"); None for null and for values this table does not know (logged)."""
    if not value:
        return None
    status = TRACKING_STATUSES.get(value.strip().lower())
    if status is None:
        logger.warning("unknown Shopify tracking status %r: using the fulfilment status", value)
    return status


def shipment_status_for(
    fulfilment_status: str | None, tracking: str | None = None
) -> ShipmentStatus | None:
    """The relaydesk status of a Shopify fulfilment; None when it was cancelled."""
    fulfilment = (fulfilment_status or "").strip().lower()
    if fulfilment in _OVERRIDING:
        return FULFILMENT_STATUSES[fulfilment]
    carrier = tracking_status(tracking)
    if carrier is not None:
        return carrier
    if fulfilment in FULFILMENT_STATUSES:
        return FULFILMENT_STATUSES[fulfilment]
    if fulfilment:
        logger.warning("unknown Shopify fulfilment status %r: assuming in transit", fulfilment)
    return DEFAULT_STATUS
