"""Turns ORM rows into the frozen views of `bot.domain.views`.

Callers must have eager-loaded what they pass in (see `ORDER_LOADING` in the repository);
otherwise each relationship access here is a lazy query.
"""

from __future__ import annotations

from bot.domain.views import (
    AddressView,
    CustomerView,
    OrderLineView,
    OrderView,
    RefundView,
    ReturnLineView,
    ReturnRequestView,
    ShipmentView,
    TrackingEventView,
)
from bot.store.models import (
    Customer,
    Order,
    OrderLine,
    Refund,
    ReturnRequest,
    Shipment,
    TrackingEvent,
)


def customer_view(customer: Customer) -> CustomerView:
    return CustomerView(
        id=customer.id,
        email=customer.email,
        phone=customer.phone,
        first_name=customer.first_name,
        last_name=customer.last_name,
        is_vip=customer.is_vip,
        lifetime_value=customer.lifetime_value,
        created_at=customer.created_at,
    )


def order_view(order: Order) -> OrderView:
    return OrderView(
        id=order.id,
        number=order.number,
        status=order.status,
        fulfilment_status=order.fulfilment_status,
        currency=order.currency,
        subtotal=order.subtotal,
        shipping_total=order.shipping_total,
        tax_total=order.tax_total,
        total=order.total,
        payment_method=order.payment_method,
        placed_at=order.placed_at,
        paid_at=order.paid_at,
        cancelled_at=order.cancelled_at,
        customer=customer_view(order.customer),
        shipping_address=AddressView(
            name=order.shipping_name,
            line1=order.shipping_line1,
            line2=order.shipping_line2,
            city=order.shipping_city,
            region=order.shipping_region,
            postal_code=order.shipping_postal_code,
            country=order.shipping_country,
        ),
        lines=tuple(_order_line_view(line) for line in order.lines),
        shipments=tuple(_shipment_view(shipment) for shipment in order.shipments),
        returns=tuple(_return_view(request) for request in order.returns),
        refunds=tuple(_refund_view(refund) for refund in order.refunds),
    )


def _order_line_view(line: OrderLine) -> OrderLineView:
    return OrderLineView(
        id=line.id,
        sku=line.sku,
        name=line.name,
        quantity=line.quantity,
        unit_price=line.unit_price,
        category=line.product.category,
        returnable=line.product.returnable,
        final_sale=line.product.final_sale,
    )


def _shipment_view(shipment: Shipment) -> ShipmentView:
    return ShipmentView(
        id=shipment.id,
        carrier=shipment.carrier,
        service=shipment.service,
        tracking_number=shipment.tracking_number,
        tracking_url=shipment.tracking_url,
        status=shipment.status,
        shipped_at=shipment.shipped_at,
        estimated_delivery=shipment.estimated_delivery,
        delivered_at=shipment.delivered_at,
        events=tuple(_tracking_event_view(event) for event in shipment.events),
    )


def _tracking_event_view(event: TrackingEvent) -> TrackingEventView:
    return TrackingEventView(
        occurred_at=event.occurred_at,
        status=event.status,
        description=event.description,
        location=event.location,
    )


def _return_view(request: ReturnRequest) -> ReturnRequestView:
    return ReturnRequestView(
        id=request.id,
        rma_number=request.rma_number,
        status=request.status,
        reason=request.reason,
        condition=request.condition,
        created_at=request.created_at,
        lines=tuple(
            ReturnLineView(
                order_line_id=line.order_line_id, sku=line.order_line.sku, quantity=line.quantity
            )
            for line in request.lines
        ),
    )


def _refund_view(refund: Refund) -> RefundView:
    return RefundView(
        id=refund.id,
        reference=refund.reference,
        amount=refund.amount,
        currency=refund.currency,
        method=refund.method,
        status=refund.status,
        requested_at=refund.requested_at,
        completed_at=refund.completed_at,
        rma_number=refund.return_request.rma_number if refund.return_request else None,
    )
