"""Changes shoppers make to their orders: cancel, change the address, request a return.

Every command is idempotent, because chat retries are normal: a confirmation sent twice (a
double tap, a redelivered webhook, a retried action call) must not cancel twice, refund twice
or open two returns. Each write has a natural key with a unique constraint (the refund's
reference, the RMA number), so even two concurrent calls produce one row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.domain.clock import utc_now
from bot.domain.views import OrderView
from bot.domain.vocabulary import (
    FulfilmentStatus,
    ItemCondition,
    OrderStatus,
    RefundMethod,
    RefundStatus,
    ReturnReason,
    ReturnStatus,
)
from bot.store.database import Database
from bot.store.mapping import order_view
from bot.store.models import Order, OrderLine, Refund, ReturnLine, ReturnRequest
from bot.store.repository import ORDER_LOADING
from bot.store.return_attachments import ReturnAttachment


class OrderChangeConflict(RuntimeError):
    """The shop would not make the change. Usually the order moved on (e.g. was packed) between
    the shopper's question and the change; `order_moved_on` is False when the shop's system
    refused for another reason (an address it will not take, an item it will not take back),
    so the shopper is not told a wrong reason."""

    order_moved_on: bool = True


@dataclass(frozen=True)
class CancelResult:
    order: OrderView
    #: False when the order was already cancelled: nothing changed this time.
    cancelled_now: bool
    refund_reference: str | None


@dataclass(frozen=True)
class ReturnResult:
    order: OrderView
    rma_number: str
    created_now: bool
    #: The return is a request the shop still has to approve (Shopify's return requests):
    #: no label yet, the shopper hears that it is with the team.
    awaiting_approval: bool = False


@dataclass(frozen=True)
class NewAddress:
    line1: str
    line2: str | None
    city: str
    region: str | None
    postal_code: str
    country: str


@dataclass(frozen=True)
class Attachment:
    url: str
    content_type: str | None = None


def cancellation_refund_reference(order_number: str) -> str:
    return f"CXL-{order_number}"


def rma_number_for(order_number: str, order_line_id: int) -> str:
    # One return per order line: the RMA number is derived, so a retry finds the same row.
    return f"RMA-{order_number}-{order_line_id}"


class OrderCommands:
    def __init__(self, database: Database, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._database = database
        self._clock = clock

    def cancel(self, number: str) -> CancelResult:
        reference = cancellation_refund_reference(number)
        try:
            with self._database.session() as session:
                order = self._locked_order(session, number)
                if order.status == OrderStatus.CANCELLED:
                    return CancelResult(order_view(order), False, self._refund_ref(order))
                self._require_unfulfilled(order)
                order.status = OrderStatus.CANCELLED
                order.cancelled_at = self._clock()
                if order.paid_at is not None:
                    session.add(
                        Refund(
                            reference=reference, order_id=order.id, amount=order.total,
                            currency=order.currency, method=RefundMethod.ORIGINAL_PAYMENT,
                            status=RefundStatus.PENDING, requested_at=self._clock(),
                        )
                    )  # fmt: skip
                session.flush()
                return CancelResult(self._reload(session, number), True, self._refund_ref(order))
        except IntegrityError:
            # A concurrent call won the race; report its result.
            return self._already_cancelled(number)

    def change_shipping_address(self, number: str, address: NewAddress) -> OrderView:
        with self._database.session() as session:
            order = self._locked_order(session, number)
            self._require_unfulfilled(order)
            order.shipping_line1 = address.line1
            order.shipping_line2 = address.line2
            order.shipping_city = address.city
            order.shipping_region = address.region
            order.shipping_postal_code = address.postal_code
            order.shipping_country = address.country
            session.flush()
            return self._reload(session, number)

    def request_return(
        self,
        number: str,
        order_line_id: int,
        *,
        reason: ReturnReason | str,
        condition: ItemCondition | str,
        attachments: Sequence[Attachment] = (),
    ) -> ReturnResult:
        rma = rma_number_for(number, order_line_id)
        try:
            with self._database.session() as session:
                order = self._locked_order(session, number)
                existing = session.execute(
                    select(ReturnRequest).where(ReturnRequest.rma_number == rma)
                ).scalar_one_or_none()
                if existing is not None:
                    self._add_attachments(session, existing.id, attachments)
                    return ReturnResult(self._reload(session, number), rma, False)
                line = session.get(OrderLine, order_line_id)
                if line is None or line.order_id != order.id:
                    raise ValueError(f"order line {order_line_id} is not on order {number}")
                request = ReturnRequest(
                    rma_number=rma, order_id=order.id, status=ReturnStatus.REQUESTED,
                    reason=ReturnReason(reason), condition=ItemCondition(condition),
                    created_at=self._clock(),
                )  # fmt: skip
                session.add(request)
                session.flush()
                session.add(
                    ReturnLine(
                        return_request_id=request.id,
                        order_line_id=line.id,
                        quantity=line.quantity,
                    )
                )
                self._add_attachments(session, request.id, attachments)
                session.flush()
                return ReturnResult(self._reload(session, number), rma, True)
        except IntegrityError:
            return ReturnResult(self._view(number), rma, False)

    def attachments_for(self, rma_number: str) -> list[Attachment]:
        with self._database.session() as session:
            rows = session.execute(
                select(ReturnAttachment)
                .join(ReturnRequest, ReturnRequest.id == ReturnAttachment.return_request_id)
                .where(ReturnRequest.rma_number == rma_number)
                .order_by(ReturnAttachment.id)
            ).scalars()
            return [Attachment(row.url, row.content_type) for row in rows]

    # -- helpers ---------------------------------------------------------------------------
    def _add_attachments(
        self, session: Session, request_id: int, attachments: Sequence[Attachment]
    ) -> None:
        known = set(
            session.execute(
                select(ReturnAttachment.url).where(ReturnAttachment.return_request_id == request_id)
            ).scalars()
        )
        for attachment in attachments:
            if attachment.url not in known:
                session.add(
                    ReturnAttachment(
                        return_request_id=request_id, url=attachment.url,
                        content_type=attachment.content_type, created_at=self._clock(),
                    )
                )  # fmt: skip
                known.add(attachment.url)

    @staticmethod
    def _locked_order(session: Session, number: str) -> Order:
        # FOR UPDATE serialises concurrent changes to one order on PostgreSQL; SQLite
        # serialises all writers anyway.
        order = session.execute(
            select(Order).where(Order.number == number).with_for_update()
        ).scalar_one_or_none()
        if order is None:
            raise LookupError(f"no order {number}")
        return order

    @staticmethod
    def _require_unfulfilled(order: Order) -> None:
        if order.fulfilment_status != FulfilmentStatus.UNFULFILLED or order.status not in {
            OrderStatus.PROCESSING,
            OrderStatus.PAID,
        }:
            raise OrderChangeConflict(f"order {order.number} is already {order.status}")

    @staticmethod
    def _refund_ref(order: Order) -> str | None:
        reference = cancellation_refund_reference(order.number)
        return reference if any(r.reference == reference for r in order.refunds) else None

    @staticmethod
    def _reload(session: Session, number: str) -> OrderView:
        session.expire_all()
        order = session.execute(
            select(Order).where(Order.number == number).options(*ORDER_LOADING)
        ).scalar_one()
        return order_view(order)

    def _view(self, number: str) -> OrderView:
        with self._database.session() as session:
            return self._reload(session, number)

    def _already_cancelled(self, number: str) -> CancelResult:
        with self._database.session() as session:
            order = self._locked_order(session, number)
            return CancelResult(self._reload(session, number), False, self._refund_ref(order))
