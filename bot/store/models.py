"""ORM models of the shop data relaydesk answers questions about.

Only `bot.store` touches these classes; everything else gets the frozen views from
`bot.domain.views`. Column comments in docs/store.md; vocabularies in `bot.domain.vocabulary`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, declarative_base, relationship, validates

from bot.domain.vocabulary import (
    FulfilmentStatus,
    ItemCondition,
    OrderStatus,
    RefundMethod,
    RefundStatus,
    ReturnReason,
    ReturnStatus,
    ShipmentStatus,
)
from bot.store.column_types import Money, UTCDateTime, vocabulary
from bot.store.identifiers import normalise_email, require_e164, require_order_number

# Deterministic constraint names, so migrations can refer to them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Base = declarative_base(metadata=MetaData(naming_convention=NAMING_CONVENTION))


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        # Lookups compare lower-cased input; a mixed-case row would never be found.
        CheckConstraint("email = lower(email)", name="email_lower_case"),
        CheckConstraint("lifetime_value >= 0", name="lifetime_value_not_negative"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    email: Mapped[str] = Column(String(254), nullable=False, unique=True)
    phone: Mapped[str | None] = Column(String(16), nullable=True, unique=True)
    first_name: Mapped[str] = Column(String(100), nullable=False)
    last_name: Mapped[str] = Column(String(100), nullable=False)
    is_vip: Mapped[bool] = Column(Boolean, nullable=False, default=False)
    lifetime_value: Mapped[Decimal] = Column(Money, nullable=False, default=Decimal("0.00"))
    created_at: Mapped[datetime] = Column(UTCDateTime, nullable=False)

    orders: Mapped[list[Order]] = relationship("Order", back_populates="customer")
    identities: Mapped[list[ChannelIdentity]] = relationship(
        "ChannelIdentity", back_populates="customer"
    )

    @validates("email")
    def _normalise_email(self, _key: str, value: str) -> str:
        return normalise_email(value)

    @validates("phone")
    def _check_phone(self, _key: str, value: str | None) -> str | None:
        return None if value is None else require_e164(value)


class ChannelIdentity(Base):
    """Who a chat user is on one channel; `customer_id` is set once they have verified."""

    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = Column(Integer, primary_key=True)
    channel: Mapped[str] = Column(String(32), nullable=False)
    external_id: Mapped[str] = Column(String(255), nullable=False)
    customer_id: Mapped[int | None] = Column(
        ForeignKey("customers.id", ondelete="SET NULL"), nullable=True, index=True
    )
    linked_at: Mapped[datetime | None] = Column(UTCDateTime, nullable=True)

    customer: Mapped[Customer | None] = relationship("Customer", back_populates="identities")


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("price >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    sku: Mapped[str] = Column(String(64), nullable=False, unique=True)
    name: Mapped[str] = Column(String(200), nullable=False)
    category: Mapped[str] = Column(String(64), nullable=False)
    price: Mapped[Decimal] = Column(Money, nullable=False)
    stock: Mapped[int] = Column(Integer, nullable=False, default=0)
    #: False for whole categories the shop never takes back (intimates, gift cards).
    returnable: Mapped[bool] = Column(Boolean, nullable=False, default=True)
    #: Sold as final sale (clearance); not returnable whatever `returnable` says.
    final_sale: Mapped[bool] = Column(Boolean, nullable=False, default=False)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("total >= 0", name="total_not_negative"),
        CheckConstraint("length(currency) = 3", name="currency_iso_code"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    number: Mapped[str] = Column(String(20), nullable=False, unique=True)
    customer_id: Mapped[int] = Column(ForeignKey("customers.id"), nullable=False, index=True)
    status: Mapped[OrderStatus] = Column(vocabulary(OrderStatus, "status"), nullable=False)
    fulfilment_status: Mapped[FulfilmentStatus] = Column(
        vocabulary(FulfilmentStatus, "fulfilment_status"), nullable=False
    )
    currency: Mapped[str] = Column(String(3), nullable=False)
    subtotal: Mapped[Decimal] = Column(Money, nullable=False)
    shipping_total: Mapped[Decimal] = Column(Money, nullable=False)
    tax_total: Mapped[Decimal] = Column(Money, nullable=False)
    total: Mapped[Decimal] = Column(Money, nullable=False)
    #: Human-readable, as on the receipt ("Visa ending 4242", "PayPal").
    payment_method: Mapped[str] = Column(String(64), nullable=False)
    placed_at: Mapped[datetime] = Column(UTCDateTime, nullable=False)
    paid_at: Mapped[datetime | None] = Column(UTCDateTime, nullable=True)
    cancelled_at: Mapped[datetime | None] = Column(UTCDateTime, nullable=True)
    shipping_name: Mapped[str] = Column(String(200), nullable=False)
    shipping_line1: Mapped[str] = Column(String(200), nullable=False)
    shipping_line2: Mapped[str | None] = Column(String(200), nullable=True)
    shipping_city: Mapped[str] = Column(String(100), nullable=False)
    shipping_region: Mapped[str | None] = Column(String(100), nullable=True)
    shipping_postal_code: Mapped[str] = Column(String(20), nullable=False)
    #: ISO 3166-1 alpha-2.
    shipping_country: Mapped[str] = Column(String(2), nullable=False)

    customer: Mapped[Customer] = relationship("Customer", back_populates="orders")
    lines: Mapped[list[OrderLine]] = relationship(
        "OrderLine", back_populates="order", order_by="OrderLine.id"
    )
    shipments: Mapped[list[Shipment]] = relationship(
        "Shipment", back_populates="order", order_by="Shipment.id"
    )
    returns: Mapped[list[ReturnRequest]] = relationship(
        "ReturnRequest", back_populates="order", order_by="ReturnRequest.id"
    )
    refunds: Mapped[list[Refund]] = relationship(
        "Refund", back_populates="order", order_by="Refund.id"
    )

    @validates("number")
    def _check_number(self, _key: str, value: str) -> str:
        return require_order_number(value)


class OrderLine(Base):
    __tablename__ = "order_lines"
    # One line per SKU keeps return lines and re-imports unambiguous.
    __table_args__ = (
        UniqueConstraint("order_id", "sku"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    order_id: Mapped[int] = Column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    product_id: Mapped[int] = Column(ForeignKey("products.id"), nullable=False, index=True)
    #: SKU and name as sold; the product may be renamed later.
    sku: Mapped[str] = Column(String(64), nullable=False)
    name: Mapped[str] = Column(String(200), nullable=False)
    quantity: Mapped[int] = Column(Integer, nullable=False)
    unit_price: Mapped[Decimal] = Column(Money, nullable=False)

    order: Mapped[Order] = relationship("Order", back_populates="lines")
    product: Mapped[Product] = relationship("Product")


class Shipment(Base):
    __tablename__ = "shipments"
    # Unique per order, not in the whole shop: two orders shipped in one box share the
    # carrier's tracking number (migration 0009_shipments_per_order).
    __table_args__ = (UniqueConstraint("order_id", "tracking_number"),)

    id: Mapped[int] = Column(Integer, primary_key=True)
    order_id: Mapped[int] = Column(
        ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True
    )
    carrier: Mapped[str] = Column(String(32), nullable=False)
    service: Mapped[str] = Column(String(64), nullable=False)
    tracking_number: Mapped[str] = Column(String(64), nullable=False)
    tracking_url: Mapped[str] = Column(String(500), nullable=False)
    status: Mapped[ShipmentStatus] = Column(vocabulary(ShipmentStatus, "status"), nullable=False)
    shipped_at: Mapped[datetime | None] = Column(UTCDateTime, nullable=True)
    estimated_delivery: Mapped[date | None] = Column(Date, nullable=True)
    delivered_at: Mapped[datetime | None] = Column(UTCDateTime, nullable=True)

    order: Mapped[Order] = relationship("Order", back_populates="shipments")
    events: Mapped[list[TrackingEvent]] = relationship(
        "TrackingEvent",
        back_populates="shipment",
        order_by="(TrackingEvent.occurred_at, TrackingEvent.id)",
    )


class TrackingEvent(Base):
    __tablename__ = "tracking_events"
    # Carriers repeat scans; the same status at the same instant is the same event.
    __table_args__ = (UniqueConstraint("shipment_id", "occurred_at", "status"),)

    id: Mapped[int] = Column(Integer, primary_key=True)
    shipment_id: Mapped[int] = Column(
        ForeignKey("shipments.id", ondelete="CASCADE"), nullable=False
    )
    occurred_at: Mapped[datetime] = Column(UTCDateTime, nullable=False)
    status: Mapped[ShipmentStatus] = Column(vocabulary(ShipmentStatus, "status"), nullable=False)
    description: Mapped[str] = Column(String(500), nullable=False)
    location: Mapped[str | None] = Column(String(200), nullable=True)

    shipment: Mapped[Shipment] = relationship("Shipment", back_populates="events")


class ReturnRequest(Base):
    __tablename__ = "return_requests"

    id: Mapped[int] = Column(Integer, primary_key=True)
    rma_number: Mapped[str] = Column(String(32), nullable=False, unique=True)
    order_id: Mapped[int] = Column(
        ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True
    )
    status: Mapped[ReturnStatus] = Column(vocabulary(ReturnStatus, "status"), nullable=False)
    reason: Mapped[ReturnReason] = Column(vocabulary(ReturnReason, "reason"), nullable=False)
    condition: Mapped[ItemCondition] = Column(
        vocabulary(ItemCondition, "condition"), nullable=False
    )
    created_at: Mapped[datetime] = Column(UTCDateTime, nullable=False)

    order: Mapped[Order] = relationship("Order", back_populates="returns")
    lines: Mapped[list[ReturnLine]] = relationship(
        "ReturnLine", back_populates="return_request", order_by="ReturnLine.id"
    )


class ReturnLine(Base):
    __tablename__ = "return_lines"
    __table_args__ = (
        UniqueConstraint("return_request_id", "order_line_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    return_request_id: Mapped[int] = Column(
        ForeignKey("return_requests.id", ondelete="CASCADE"), nullable=False
    )
    order_line_id: Mapped[int] = Column(
        ForeignKey("order_lines.id", ondelete="CASCADE"), nullable=False, index=True
    )
    quantity: Mapped[int] = Column(Integer, nullable=False)

    return_request: Mapped[ReturnRequest] = relationship("ReturnRequest", back_populates="lines")
    order_line: Mapped[OrderLine] = relationship("OrderLine")


class Refund(Base):
    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("length(currency) = 3", name="currency_iso_code"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    #: The payment provider's / shop's refund id; the natural key for re-imports.
    reference: Mapped[str] = Column(String(64), nullable=False, unique=True)
    order_id: Mapped[int] = Column(
        ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True
    )
    return_request_id: Mapped[int | None] = Column(
        ForeignKey("return_requests.id", ondelete="SET NULL"), nullable=True, index=True
    )
    amount: Mapped[Decimal] = Column(Money, nullable=False)
    currency: Mapped[str] = Column(String(3), nullable=False)
    method: Mapped[RefundMethod] = Column(vocabulary(RefundMethod, "method"), nullable=False)
    status: Mapped[RefundStatus] = Column(vocabulary(RefundStatus, "status"), nullable=False)
    requested_at: Mapped[datetime] = Column(UTCDateTime, nullable=False)
    completed_at: Mapped[datetime | None] = Column(UTCDateTime, nullable=True)

    order: Mapped[Order] = relationship("Order", back_populates="refunds")
    return_request: Mapped[ReturnRequest | None] = relationship("ReturnRequest")


# Tables other modules define on this `Base`, imported here so `Base.metadata` always has them
# (the schema tests and Alembic compare against it). At the end: they import `Base` from here.
import bot.store.verification_models  # noqa: E402, F401  (migration 0004_verification_attempts)
