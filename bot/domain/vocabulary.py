"""The closed sets of values the store's status-like columns accept.

They are `StrEnum`s so callers can compare against plain strings (`view.status == "shipped"`)
while the database, the export schema and the ORM agree on one spelling. Adding a value means a
migration (the columns carry CHECK constraints) and an update to `export_schema.json`.
"""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    """Where an order is in its life, as a shopper would describe it."""

    #: Placed; payment not confirmed yet (authorisation pending or under fraud review).
    PROCESSING = "processing"
    #: Payment captured; nothing has left the warehouse.
    PAID = "paid"
    #: Some, not all, items have shipped (see fulfilment_status and shipments).
    PARTIALLY_SHIPPED = "partially_shipped"
    #: Everything has shipped; at least one parcel is still on its way. Carrier trouble
    #: (delayed, exception, lost) is a shipment status, the order stays "shipped".
    SHIPPED = "shipped"
    #: The carrier has the last parcel on a delivery vehicle today.
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    #: Cancelled before shipping; a refund exists if it had been paid.
    CANCELLED = "cancelled"
    #: Items came back to the warehouse; the refund may still be pending.
    RETURNED = "returned"
    #: The whole order total has been refunded.
    REFUNDED = "refunded"


class FulfilmentStatus(StrEnum):
    UNFULFILLED = "unfulfilled"
    PARTIALLY_FULFILLED = "partially_fulfilled"
    FULFILLED = "fulfilled"


class ShipmentStatus(StrEnum):
    """A parcel's state with its carrier; also the status of each tracking event."""

    LABEL_CREATED = "label_created"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    #: Still moving but late (weather, volume); the events say why.
    DELAYED = "delayed"
    #: Stuck until someone acts (bad address, damage, customs).
    EXCEPTION = "exception"
    #: The carrier has given up looking for it.
    LOST = "lost"


class ReturnStatus(StrEnum):
    REQUESTED = "requested"
    #: Return label issued; waiting for the parcel.
    APPROVED = "approved"
    REJECTED = "rejected"
    #: The warehouse has the items and is inspecting them.
    RECEIVED = "received"
    #: Inspected and settled (refund or exchange issued).
    COMPLETED = "completed"


class ReturnReason(StrEnum):
    TOO_SMALL = "too_small"
    TOO_LARGE = "too_large"
    DAMAGED = "damaged"
    DEFECTIVE = "defective"
    WRONG_ITEM = "wrong_item"
    NOT_AS_DESCRIBED = "not_as_described"
    CHANGED_MIND = "changed_mind"
    OTHER = "other"


class ItemCondition(StrEnum):
    """Condition of returned items as declared by the shopper or found on inspection."""

    UNOPENED = "unopened"
    UNUSED = "unused"
    USED = "used"
    DAMAGED = "damaged"


class RefundStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class RefundMethod(StrEnum):
    ORIGINAL_PAYMENT = "original_payment"
    STORE_CREDIT = "store_credit"
