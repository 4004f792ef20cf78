"""Loads a store export (format: docs/store.md, schema: export_schema.json) into the database.

Loading is an upsert by natural keys (customer e-mail, product SKU, order number, shipment
tracking number, RMA number, refund reference; order lines by SKU within their order, return
lines by SKU within their return), all in one transaction. Records missing from the export stay
as they are, with one exception: a shipment's tracking events are replaced by the export's list.
An event has no key of its own (its time and status are its identity), so an event whose time
changed, e.g. by loading with `rebase_dates` on another day, would otherwise be kept twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session, selectinload

from bot.domain.vocabulary import ShipmentStatus
from bot.store.database import Database
from bot.store.errors import StoreExportError
from bot.store.export_validation import validate_export
from bot.store.identifiers import normalise_email
from bot.store.models import (
    Base,
    Customer,
    Order,
    OrderLine,
    Product,
    Refund,
    ReturnLine,
    ReturnRequest,
    Shipment,
    TrackingEvent,
)

__all__ = ["TABLES", "SeedReport", "StoreExportError", "load_export", "load_records"]

TABLES = (
    "customers",
    "products",
    "orders",
    "order_lines",
    "shipments",
    "tracking_events",
    "return_requests",
    "return_lines",
    "refunds",
)
# Keeps IN (...) lists well below every database's bound-parameter limit.
_LOOKUP_CHUNK = 500

ModelT = TypeVar("ModelT", bound=Base)


def _zero_counts() -> dict[str, int]:
    return dict.fromkeys(TABLES, 0)


@dataclass(frozen=True)
class SeedReport:
    """What a load did, per table."""

    inserted: dict[str, int] = field(default_factory=_zero_counts)
    updated: dict[str, int] = field(default_factory=_zero_counts)
    unchanged: dict[str, int] = field(default_factory=_zero_counts)
    #: Only tracking events are ever deleted (see the module docstring).
    deleted: dict[str, int] = field(default_factory=_zero_counts)
    #: How far every date in the export was moved (zero unless rebase_dates).
    date_shift: timedelta = timedelta(0)

    @property
    def changed_anything(self) -> bool:
        counts = (self.inserted, self.updated, self.deleted)
        return any(count for table_counts in counts for count in table_counts.values())

    def __str__(self) -> str:
        parts = [
            f"{table}: {self.inserted[table]} new, {self.updated[table]} updated, "
            f"{self.unchanged[table]} unchanged"
            + (f", {self.deleted[table]} deleted" if self.deleted[table] else "")
            for table in TABLES
        ]
        return "; ".join(parts)


def load_export(
    source: Path | Mapping[str, Any],
    database: Database,
    *,
    rebase_dates: bool = False,
    today: date | None = None,
) -> SeedReport:
    """Validate `source` and upsert it into `database` in one transaction.

    With `rebase_dates`, every date and datetime is moved by (today - reference_date) whole
    days, so a demo parcel "due in 2 days" is due 2 days after the day of loading. `today`
    defaults to the current UTC date.

    Raises `StoreExportError` listing every problem if the export is invalid; nothing is written
    then.
    """
    data, name = _read(source)
    problems = validate_export(data)
    if problems:
        raise StoreExportError(problems, source=name)
    shift = timedelta(0)
    if rebase_dates:
        current = today if today is not None else datetime.now(UTC).date()
        shift = current - date.fromisoformat(data["reference_date"])
    report = SeedReport(date_shift=shift)
    with database.session() as session, session.no_autoflush:
        _ExportLoader(session, _Dates(shift), report).load(data)
    return report


def load_records(
    session: Session, data: Mapping[str, Any], *, keep_known_products: bool = False
) -> SeedReport:
    """Validate an export document and upsert it within the caller's `session` (no commit):
    for syncs that must write their own bookkeeping in the same transaction.

    With `keep_known_products`, products already stored are left as they are and only new SKUs
    are inserted: an order body names its lines' products (the document must have them) but
    knows nothing of their stock or category, which the product sync keeps.

    Raises `StoreExportError` listing every problem if the document is invalid.
    """
    problems = validate_export(data)
    if problems:
        raise StoreExportError(problems, source="synced records")
    report = SeedReport()
    with session.no_autoflush:
        loader = _ExportLoader(session, _Dates(timedelta(0)), report)
        loader.keep_known_products = keep_known_products
        loader.load(data)
    return report


def _read(source: Path | Mapping[str, Any]) -> tuple[Any, str]:
    if isinstance(source, Mapping):
        return source, "store export"
    name = str(source)
    try:
        return json.loads(Path(source).read_text(encoding="utf-8")), name
    except json.JSONDecodeError as error:
        problem = f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        raise StoreExportError([problem], source=name) from error


@dataclass(frozen=True)
class _Dates:
    """Parses the export's dates, applying the rebase shift; the one place that does."""

    shift: timedelta

    def to_datetime(self, text: str) -> datetime:
        return datetime.fromisoformat(text).astimezone(UTC) + self.shift

    def to_optional_datetime(self, text: str | None) -> datetime | None:
        return None if text is None else self.to_datetime(text)

    def to_optional_date(self, text: str | None) -> date | None:
        return None if text is None else date.fromisoformat(text) + self.shift


class _ExportLoader:
    def __init__(self, session: Session, dates: _Dates, report: SeedReport) -> None:
        self._session = session
        self._dates = dates
        self._report = report
        self.keep_known_products = False

    def load(self, data: Mapping[str, Any]) -> None:
        customers = self._load_customers(data["customers"])
        products = self._load_products(data["products"])
        orders: list[Mapping[str, Any]] = data["orders"]
        existing = _Existing.fetch(self._session, orders)
        for record in orders:
            self._load_order(record, customers, products, existing)
        self._session.flush()

    def _load_customers(self, records: Sequence[Mapping[str, Any]]) -> dict[str, Customer]:
        emails = [normalise_email(record["email"]) for record in records]
        rows = _by_key(self._session, Customer.email, emails)
        for email, record in zip(emails, records, strict=True):
            rows[email] = self._upsert(
                "customers",
                Customer,
                rows.get(email),
                email=email,
                phone=record.get("phone"),
                first_name=record["first_name"],
                last_name=record["last_name"],
                is_vip=record.get("is_vip", False),
                lifetime_value=Decimal(record.get("lifetime_value", "0.00")),
                created_at=self._dates.to_datetime(record["created_at"]),
            )
        return rows

    def _load_products(self, records: Sequence[Mapping[str, Any]]) -> dict[str, Product]:
        rows = _by_key(self._session, Product.sku, [record["sku"] for record in records])
        for record in records:
            if self.keep_known_products and record["sku"] in rows:
                self._report.unchanged["products"] += 1
                continue
            rows[record["sku"]] = self._upsert(
                "products",
                Product,
                rows.get(record["sku"]),
                sku=record["sku"],
                name=record["name"],
                category=record["category"],
                price=Decimal(record["price"]),
                stock=record["stock"],
                returnable=record.get("returnable", True),
                final_sale=record.get("final_sale", False),
            )
        return rows

    def _load_order(
        self,
        record: Mapping[str, Any],
        customers: Mapping[str, Customer],
        products: Mapping[str, Product],
        existing: _Existing,
    ) -> None:
        dates = self._dates
        address = record["shipping_address"]
        order = self._upsert(
            "orders",
            Order,
            existing.orders.get(record["number"]),
            number=record["number"],
            customer=customers[normalise_email(record["customer"])],
            status=record["status"],
            fulfilment_status=record["fulfilment_status"],
            currency=record["currency"],
            subtotal=Decimal(record["subtotal"]),
            shipping_total=Decimal(record["shipping_total"]),
            tax_total=Decimal(record["tax_total"]),
            total=Decimal(record["total"]),
            payment_method=record["payment_method"],
            placed_at=dates.to_datetime(record["placed_at"]),
            paid_at=dates.to_optional_datetime(record.get("paid_at")),
            cancelled_at=dates.to_optional_datetime(record.get("cancelled_at")),
            shipping_name=address["name"],
            shipping_line1=address["line1"],
            shipping_line2=address.get("line2"),
            shipping_city=address["city"],
            shipping_region=address.get("region"),
            shipping_postal_code=address["postal_code"],
            shipping_country=address["country"],
        )
        lines = self._load_lines(order, record["lines"], products)
        for shipment in record.get("shipments", []):
            self._load_shipment(order, shipment, existing)
        returns = {
            request["rma_number"]: self._load_return(order, request, lines, existing)
            for request in record.get("returns", [])
        }
        for refund in record.get("refunds", []):
            self._load_refund(order, refund, returns, existing)

    def _load_lines(
        self,
        order: Order,
        records: Iterable[Mapping[str, Any]],
        products: Mapping[str, Product],
    ) -> dict[str, OrderLine]:
        rows = {line.sku: line for line in order.lines}
        for record in records:
            product = products[record["sku"]]
            rows[record["sku"]] = self._upsert(
                "order_lines",
                OrderLine,
                rows.get(record["sku"]),
                order=order,
                product=product,
                sku=record["sku"],
                name=record.get("name", product.name),
                quantity=record["quantity"],
                unit_price=Decimal(record["unit_price"]),
            )
        return rows

    def _load_shipment(self, order: Order, record: Mapping[str, Any], existing: _Existing) -> None:
        dates = self._dates
        shipment = self._upsert(
            "shipments",
            Shipment,
            existing.shipments.get((order.number, record["tracking_number"])),
            order=order,
            carrier=record["carrier"],
            service=record["service"],
            tracking_number=record["tracking_number"],
            tracking_url=record["tracking_url"],
            status=record["status"],
            shipped_at=dates.to_optional_datetime(record.get("shipped_at")),
            estimated_delivery=dates.to_optional_date(record.get("estimated_delivery")),
            delivered_at=dates.to_optional_datetime(record.get("delivered_at")),
        )
        self._replace_events(shipment, record.get("events", []))

    def _replace_events(self, shipment: Shipment, records: Iterable[Mapping[str, Any]]) -> None:
        unmatched = {
            (event.occurred_at, ShipmentStatus(event.status)): event for event in shipment.events
        }
        for record in records:
            occurred_at = self._dates.to_datetime(record["occurred_at"])
            self._upsert(
                "tracking_events",
                TrackingEvent,
                unmatched.pop((occurred_at, ShipmentStatus(record["status"])), None),
                shipment=shipment,
                occurred_at=occurred_at,
                status=record["status"],
                description=record["description"],
                location=record.get("location"),
            )
        for stale in unmatched.values():
            shipment.events.remove(stale)
            self._session.delete(stale)
            self._report.deleted["tracking_events"] += 1

    def _load_return(
        self,
        order: Order,
        record: Mapping[str, Any],
        order_lines: Mapping[str, OrderLine],
        existing: _Existing,
    ) -> ReturnRequest:
        request = self._upsert(
            "return_requests",
            ReturnRequest,
            existing.returns.get(record["rma_number"]),
            order=order,
            rma_number=record["rma_number"],
            status=record["status"],
            reason=record["reason"],
            condition=record["condition"],
            created_at=self._dates.to_datetime(record["created_at"]),
        )
        rows = {line.order_line.sku: line for line in request.lines}
        for line in record["lines"]:
            self._upsert(
                "return_lines",
                ReturnLine,
                rows.get(line["sku"]),
                return_request=request,
                order_line=order_lines[line["sku"]],
                quantity=line["quantity"],
            )
        return request

    def _load_refund(
        self,
        order: Order,
        record: Mapping[str, Any],
        returns: Mapping[str, ReturnRequest],
        existing: _Existing,
    ) -> None:
        rma = record.get("return_rma")
        self._upsert(
            "refunds",
            Refund,
            existing.refunds.get(record["reference"]),
            order=order,
            return_request=returns[rma] if rma is not None else None,
            reference=record["reference"],
            amount=Decimal(record["amount"]),
            currency=record.get("currency", order.currency),
            method=record["method"],
            status=record["status"],
            requested_at=self._dates.to_datetime(record["requested_at"]),
            completed_at=self._dates.to_optional_datetime(record.get("completed_at")),
        )

    def _upsert(self, table: str, model: type[ModelT], row: ModelT | None, **values: Any) -> ModelT:
        if row is None:
            row = model(**values)
            self._session.add(row)
            self._report.inserted[table] += 1
            return row
        changed = False
        for attribute, value in values.items():
            # Relationships compare by identity, columns by value (aware datetimes by instant,
            # StrEnum members equal their strings, Decimals ignore trailing zeros).
            if getattr(row, attribute) != value:
                setattr(row, attribute, value)
                changed = True
        counts = self._report.updated if changed else self._report.unchanged
        counts[table] += 1
        return row


@dataclass(frozen=True)
class _Existing:
    """Rows the export's natural keys already match, fetched in a few queries up front."""

    orders: dict[str, Order]
    #: By (order number, tracking number): two orders in one box share a tracking number.
    shipments: dict[tuple[str, str], Shipment]
    returns: dict[str, ReturnRequest]
    refunds: dict[str, Refund]

    @classmethod
    def fetch(cls, session: Session, orders: Sequence[Mapping[str, Any]]) -> _Existing:
        def nested(collection: str, key: str) -> list[str]:
            return [item[key] for order in orders for item in order.get(collection, [])]

        return cls(
            orders=_by_key(
                session,
                Order.number,
                [order["number"] for order in orders],
                selectinload(Order.lines),
            ),
            shipments=_shipments_by_order(session, nested("shipments", "tracking_number")),
            returns=_by_key(
                session,
                ReturnRequest.rma_number,
                nested("returns", "rma_number"),
                selectinload(ReturnRequest.lines).selectinload(ReturnLine.order_line),
            ),
            refunds=_by_key(session, Refund.reference, nested("refunds", "reference")),
        )


def _shipments_by_order(
    session: Session, tracking_numbers: Sequence[str]
) -> dict[tuple[str, str], Shipment]:
    rows: dict[tuple[str, str], Shipment] = {}
    unique = sorted(set(tracking_numbers))
    for start in range(0, len(unique), _LOOKUP_CHUNK):
        found = session.execute(
            select(Shipment, Order.number)
            .join(Order, Order.id == Shipment.order_id)
            .where(Shipment.tracking_number.in_(unique[start : start + _LOOKUP_CHUNK]))
            .options(selectinload(Shipment.events))
        ).all()
        for shipment, number in found:
            rows[(number, shipment.tracking_number)] = shipment
    return rows


def _by_key(
    session: Session, column: InstrumentedAttribute, keys: Sequence[str], *options: Any
) -> dict[str, Any]:
    model = column.class_
    rows: dict[str, Any] = {}
    for start in range(0, len(keys), _LOOKUP_CHUNK):
        chunk = keys[start : start + _LOOKUP_CHUNK]
        query = select(model).where(column.in_(chunk)).options(*options)
        for row in session.execute(query).scalars():
            rows[getattr(row, column.key)] = row
    return rows
