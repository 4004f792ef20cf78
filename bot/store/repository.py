"""SQL adapter of `StorePort`: reads orders and customers, links chat identities."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload

from bot.domain.clock import utc_now
from bot.domain.views import CustomerView, OrderView
from bot.store.database import Database
from bot.store.errors import UnknownCustomerError
from bot.store.identifiers import normalise_channel, normalise_email, normalise_phone
from bot.store.mapping import customer_view, order_view
from bot.store.models import (
    ChannelIdentity,
    Customer,
    Order,
    OrderLine,
    Product,
    Refund,
    ReturnLine,
    ReturnRequest,
    Shipment,
)

# Everything `order_view` touches, fetched in a fixed handful of queries instead of one per row.
ORDER_LOADING = (
    joinedload(Order.customer),
    selectinload(Order.lines).joinedload(OrderLine.product),
    selectinload(Order.shipments).selectinload(Shipment.events),
    selectinload(Order.returns).selectinload(ReturnRequest.lines).joinedload(ReturnLine.order_line),
    selectinload(Order.refunds).joinedload(Refund.return_request),
)


class StoreRepository:
    def __init__(self, database: Database, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._database = database
        self._clock = clock

    def find_order(self, number: str) -> OrderView | None:
        """The order with this number (digits only, as the shopper's input normalised)."""
        with self._database.session() as session:
            order = session.execute(
                select(Order).where(Order.number == number).options(*ORDER_LOADING)
            ).scalar_one_or_none()
            return order_view(order) if order is not None else None

    def orders_for_customer(self, customer_id: int) -> list[OrderView]:
        """The customer's orders, newest first."""
        with self._database.session() as session:
            orders = session.execute(
                select(Order)
                .where(Order.customer_id == customer_id)
                .order_by(Order.placed_at.desc(), Order.id.desc())
                .options(*ORDER_LOADING)
            ).scalars()
            return [order_view(order) for order in orders]

    def find_customer_by_email(self, email: str) -> CustomerView | None:
        with self._database.session() as session:
            customer = session.execute(
                select(Customer).where(Customer.email == normalise_email(email))
            ).scalar_one_or_none()
            return customer_view(customer) if customer is not None else None

    def find_customer_by_phone(self, phone: str) -> CustomerView | None:
        """Matches E.164 numbers, tolerating spaces, dashes, dots and brackets."""
        canonical = normalise_phone(phone)
        if canonical is None:
            return None
        with self._database.session() as session:
            customer = session.execute(
                select(Customer).where(Customer.phone == canonical)
            ).scalar_one_or_none()
            return customer_view(customer) if customer is not None else None

    def customer_for_identity(self, channel: str, external_id: str) -> CustomerView | None:
        """The verified customer behind a chat user, or None if they have not verified yet."""
        canonical_channel = normalise_channel(channel)
        if canonical_channel is None:
            return None
        with self._database.session() as session:
            customer = session.execute(
                select(Customer)
                .join(ChannelIdentity, ChannelIdentity.customer_id == Customer.id)
                .where(
                    ChannelIdentity.channel == canonical_channel,
                    ChannelIdentity.external_id == external_id,
                )
            ).scalar_one_or_none()
            return customer_view(customer) if customer is not None else None

    def link_identity(self, channel: str, external_id: str, customer_id: int) -> None:
        """Record that this chat user is `customer_id`. Linking again to the same customer
        changes nothing (not even `linked_at`); linking to another customer re-points it.

        Raises `UnknownCustomerError` if the customer does not exist.
        """
        canonical_channel = normalise_channel(channel)
        if canonical_channel is None:
            raise ValueError(f"channel {channel!r} is not a short lower-case name like 'webchat'")
        if not external_id:
            raise ValueError("external_id must not be empty")
        # Two processes may insert the same identity at once; the loser's commit fails on the
        # unique constraint and its second attempt finds the winner's row and updates it.
        for attempt in (1, 2):
            try:
                with self._database.session() as session:
                    self._link(session, canonical_channel, external_id, customer_id)
                return
            except IntegrityError:
                if attempt == 2:
                    raise

    def is_empty(self) -> bool:
        """True when the store holds no customers, products or orders (nothing seeded yet)."""
        with self._database.session() as session:
            has_rows = session.execute(
                select(
                    exists(select(Customer.id)),
                    exists(select(Product.id)),
                    exists(select(Order.id)),
                )
            ).one()
            return not any(has_rows)

    def _link(self, session: Session, channel: str, external_id: str, customer_id: int) -> None:
        if session.get(Customer, customer_id) is None:
            raise UnknownCustomerError(customer_id)
        identity = session.execute(
            select(ChannelIdentity).where(
                ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
            )
        ).scalar_one_or_none()
        if identity is None:
            session.add(
                ChannelIdentity(
                    channel=channel,
                    external_id=external_id,
                    customer_id=customer_id,
                    linked_at=self._clock(),
                )
            )
        elif identity.customer_id != customer_id:
            identity.customer_id = customer_id
            identity.linked_at = self._clock()
