"""Applies what a store platform says about its records to relaydesk's store, in order.

Every platform adapter (Shopify's webhooks, reconciliation and reads; the generic signed push
webhook) turns what it received into the plain updates below: export records
(docs/store.md) plus the platform's id for them and the `Stamp` of the version. `PlatformSync`
then, in one transaction per update:

1. takes the stored version from `platform_records` (locked) and asks
   `bot.domain.freshness.decide` whether the incoming one replaces it, so an older or repeated
   delivery changes nothing;
2. upserts the records through the export loader (the same validation and natural keys as a
   store export), keeping products it already has (an order body knows nothing of stock);
   an order update is the order's full state, so a parcel or a line no longer on it is removed
   (a line a return names stays);
3. compares the order before and after (`bot.domain.order_events`) and records the events;
4. stores the new stamp and `synced_at`, the time relaydesk last had the record from the
   platform itself: what "fresh enough to answer from" is measured on.

The platform adapters know nothing of SQL; this module knows nothing of HTTP or Shopify.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.domain.clock import utc_now
from bot.domain.freshness import Decision, Stamp, Verdict, decide
from bot.domain.order_events import OrderEvent, order_events
from bot.domain.views import OrderView
from bot.store.database import Database
from bot.store.identifiers import normalise_email
from bot.store.mapping import order_view
from bot.store.models import Customer, Order, OrderLine, Product, ReturnLine, Shipment
from bot.store.platform_models import (
    OrderEventRow,
    PlatformRecord,
    PlatformStockLevel,
    PlatformSyncState,
)
from bot.store.repository import ORDER_LOADING
from bot.store.seed import load_records

JsonObject = dict[str, Any]

ORDER = "order"
CUSTOMER = "customer"
PRODUCT = "product"
INVENTORY_ITEM = "inventory_item"


def fingerprint(record: Any) -> str:
    """A digest of a mapped record's content: equal content, equal fingerprint."""
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class OrderUpdate:
    """An order's full state on the platform, as export records."""

    platform: str
    #: The platform's id of the order (Shopify's numeric id as text).
    external_id: str
    #: The export order record (docs/store.md), shipments, returns and refunds nested.
    order: JsonObject
    #: The export customer record of the order's customer.
    customer: JsonObject
    stamp: Stamp
    #: Product records for the lines' SKUs; only SKUs the store does not have yet are inserted.
    line_products: tuple[JsonObject, ...] = ()
    graphql_id: str | None = None
    customer_external_id: str | None = None
    #: True when the state was read from the platform just now (an Admin API read): it is
    #: current even if it is the version already stored, so `synced_at` moves on.
    read_now: bool = False


@dataclass(frozen=True)
class CustomerUpdate:
    platform: str
    external_id: str
    customer: JsonObject
    stamp: Stamp
    read_now: bool = False


@dataclass(frozen=True)
class ProductUpdate:
    """One product record (a SKU: Shopify's variant) with its version."""

    platform: str
    external_id: str
    product: JsonObject
    stamp: Stamp
    #: The platform's inventory item behind the SKU, for later stock-level updates.
    inventory_item_id: str | None = None
    read_now: bool = False


@dataclass(frozen=True)
class StockLevelUpdate:
    platform: str
    inventory_item_id: str
    location_id: str
    available: int
    stamp: Stamp


@dataclass(frozen=True)
class SyncResult:
    decision: Decision
    #: What happened to the order (empty unless an order update was applied).
    events: tuple[OrderEvent, ...] = ()
    #: A stock level for an inventory item no product is known for yet (kept for later).
    unmatched: bool = False


@dataclass(frozen=True)
class SyncedRecord:
    """What `platform_records` knows about one record."""

    platform: str
    resource: str
    external_id: str
    local_key: str
    graphql_id: str | None
    stamp: Stamp
    synced_at: datetime
    needs_refresh: bool


@dataclass(frozen=True)
class RecordedEvent:
    id: int
    order_number: str
    event: OrderEvent
    source: str
    recorded_at: datetime


class PlatformSync:
    def __init__(self, database: Database, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._database = database
        self._clock = clock

    @property
    def database(self) -> Database:
        return self._database

    # ------------------------------------------------------------------ updates

    def apply_order(self, update: OrderUpdate) -> SyncResult:
        number = update.order["number"]
        # Two processors may apply the first version of one order at once; the loser's
        # insert of the platform record fails and its second attempt sees the winner's.
        for attempt in (1, 2):
            try:
                with self._database.session() as session:
                    return self._apply_order(session, update, number)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def apply_customer(self, update: CustomerUpdate) -> SyncResult:
        with self._database.session() as session:
            stored = _record(session, update.platform, CUSTOMER, update.external_id, lock=True)
            decision = _decide(stored, update.stamp, update.customer)
            if decision.apply:
                email = self._follow_email_change(session, stored, update.customer["email"])
                customer = session.execute(
                    select(Customer).where(Customer.email == email)
                ).scalar_one_or_none()
                if customer is None:
                    # A customer without orders: relaydesk only keeps customers of orders.
                    return SyncResult(decision)
                _set_customer(customer, update.customer)
            self._remember(
                session, stored, update.platform, CUSTOMER, update.external_id,
                normalise_email(update.customer["email"]), None, update.stamp,
                update.customer, decision, update.read_now,
            )  # fmt: skip
            return SyncResult(decision)

    def apply_products(self, updates: Sequence[ProductUpdate]) -> list[SyncResult]:
        """Each product (a SKU) by its own version; all in one transaction."""
        results = []
        with self._database.session() as session:
            for update in updates:
                stored = _record(session, update.platform, PRODUCT, update.external_id, lock=True)
                decision = _decide(stored, update.stamp, update.product)
                if decision.apply:
                    record = dict(update.product)
                    if update.inventory_item_id is not None:
                        levels = _stock_of(session, update.platform, update.inventory_item_id)
                        if levels is not None:
                            record["stock"] = levels
                    load_records(session, _document(products=[record]))
                    if update.inventory_item_id is not None:
                        self._link_inventory_item(
                            session, update.platform, update.inventory_item_id, record["sku"]
                        )
                self._remember(
                    session, stored, update.platform, PRODUCT, update.external_id,
                    update.product["sku"], None, update.stamp, update.product, decision,
                    update.read_now,
                )  # fmt: skip
                results.append(SyncResult(decision))
        return results

    def apply_stock_level(self, update: StockLevelUpdate) -> SyncResult:
        """One item's stock at one location; the product's stock becomes the sum over
        locations. Kept even when no product is known for the item yet."""
        with self._database.session() as session:
            level = session.execute(
                select(PlatformStockLevel)
                .where(
                    PlatformStockLevel.platform == update.platform,
                    PlatformStockLevel.inventory_item_id == update.inventory_item_id,
                    PlatformStockLevel.location_id == update.location_id,
                )
                .with_for_update()
            ).scalar_one_or_none()
            stored = None if level is None else Stamp(level.updated_at)
            decision = decide(stored, update.stamp)
            if not decision.apply:
                return SyncResult(decision)
            if level is None:
                level = PlatformStockLevel(
                    platform=update.platform,
                    inventory_item_id=update.inventory_item_id,
                    location_id=update.location_id,
                )
                session.add(level)
            level.available = update.available
            level.updated_at = update.stamp.updated_at
            session.flush()
            item = _record(session, update.platform, INVENTORY_ITEM, update.inventory_item_id)
            if item is None:
                return SyncResult(decision, unmatched=True)
            product = session.execute(
                select(Product).where(Product.sku == item.local_key)
            ).scalar_one_or_none()
            total = _stock_of(session, update.platform, update.inventory_item_id)
            if product is not None and total is not None:
                product.stock = total
            return SyncResult(decision, unmatched=product is None)

    # ------------------------------------------------------------------ lookups

    def record(self, platform: str, resource: str, external_id: str) -> SyncedRecord | None:
        with self._database.session() as session:
            row = _record(session, platform, resource, external_id)
            return None if row is None else _synced(row)

    def record_for_key(self, platform: str, resource: str, local_key: str) -> SyncedRecord | None:
        """The platform record behind a local key (e.g. an order number), if synced."""
        with self._database.session() as session:
            row = session.execute(
                select(PlatformRecord)
                .where(
                    PlatformRecord.platform == platform,
                    PlatformRecord.resource == resource,
                    PlatformRecord.local_key == local_key,
                )
                .order_by(PlatformRecord.id.desc())
                .limit(1)
            ).scalar_one_or_none()
            return None if row is None else _synced(row)

    def mark_for_refresh(self, platform: str, resource: str, external_id: str) -> bool:
        """Ask for a re-read (e.g. a fulfilment webhook for an order): False if unknown."""
        with self._database.session() as session:
            row = _record(session, platform, resource, external_id, lock=True)
            if row is None:
                return False
            row.needs_refresh = True
            return True

    def records_needing_refresh(self, platform: str, resource: str, limit: int = 100) -> list[str]:
        with self._database.session() as session:
            return list(
                session.execute(
                    select(PlatformRecord.external_id)
                    .where(
                        PlatformRecord.platform == platform,
                        PlatformRecord.resource == resource,
                        PlatformRecord.needs_refresh.is_(True),
                    )
                    .order_by(PlatformRecord.id)
                    .limit(limit)
                ).scalars()
            )

    def events(self, *, after_id: int = 0, order_number: str | None = None) -> list[RecordedEvent]:
        """Recorded order events, oldest first, after the event id `after_id`."""
        query = select(OrderEventRow).where(OrderEventRow.id > after_id)
        if order_number is not None:
            query = query.where(OrderEventRow.order_number == order_number)
        with self._database.session() as session:
            rows = session.execute(query.order_by(OrderEventRow.id)).scalars()
            return [_recorded(row) for row in rows]

    # ------------------------------------------------------------------ sync state

    def state(self, platform: str, name: str) -> str | None:
        with self._database.session() as session:
            return session.execute(
                select(PlatformSyncState.value).where(
                    PlatformSyncState.platform == platform, PlatformSyncState.name == name
                )
            ).scalar_one_or_none()

    def set_state(self, platform: str, name: str, value: str) -> None:
        for attempt in (1, 2):
            try:
                with self._database.session() as session:
                    row = session.execute(
                        select(PlatformSyncState)
                        .where(
                            PlatformSyncState.platform == platform,
                            PlatformSyncState.name == name,
                        )
                        .with_for_update()
                    ).scalar_one_or_none()
                    if row is None:
                        row = PlatformSyncState(platform=platform, name=name)
                        session.add(row)
                    row.value = value
                    row.updated_at = self._clock()
                return
            except IntegrityError:
                if attempt == 2:
                    raise

    # ------------------------------------------------------------------ internals

    def _apply_order(self, session: Session, update: OrderUpdate, number: str) -> SyncResult:
        stored = _record(session, update.platform, ORDER, update.external_id, lock=True)
        content = {"order": update.order, "customer": update.customer}
        decision = _decide(stored, update.stamp, content)
        events: list[OrderEvent] = []
        if decision.apply:
            before = _order_view(session, number)
            if update.customer_external_id is not None:
                customer_record = _record(
                    session, update.platform, CUSTOMER, update.customer_external_id, lock=True
                )
                self._follow_email_change(session, customer_record, update.customer["email"])
            products = _line_products(update)
            load_records(
                session,
                _document(customers=[update.customer], products=products, orders=[update.order]),
                keep_known_products=True,
            )
            session.flush()
            _remove_parcels_not_in(session, number, update.order.get("shipments", []))
            _remove_lines_not_in(session, number, update.order.get("lines", []))
            session.expire_all()
            after = _order_view(session, number)
            assert after is not None  # just loaded
            events = order_events(before, after)
            now = self._clock()
            session.add_all(
                OrderEventRow(
                    order_number=number, kind=event.kind.value, subject=event.subject[:64],
                    before=event.before, after=event.after, source=update.platform,
                    recorded_at=now,
                )
                for event in events
            )  # fmt: skip
            if update.customer_external_id is not None:
                customer_record = _record(
                    session, update.platform, CUSTOMER, update.customer_external_id
                )
                self._remember(
                    session, customer_record, update.platform, CUSTOMER,
                    update.customer_external_id, normalise_email(update.customer["email"]),
                    None, Stamp(None), None, decision, update.read_now, stamp_too=False,
                )  # fmt: skip
        self._remember(
            session, stored, update.platform, ORDER, update.external_id, number,
            update.graphql_id, update.stamp, content, decision, update.read_now,
        )  # fmt: skip
        return SyncResult(decision, tuple(events))

    def _remember(
        self,
        session: Session,
        stored: PlatformRecord | None,
        platform: str,
        resource: str,
        external_id: str,
        local_key: str,
        graphql_id: str | None,
        stamp: Stamp,
        content: Any,
        decision: Decision,
        read_now: bool,
        *,
        stamp_too: bool = True,
    ) -> None:
        now = self._clock()
        if stored is None:
            stored = PlatformRecord(
                platform=platform, resource=resource, external_id=external_id,
                local_key=local_key, synced_at=now, needs_refresh=False,
            )  # fmt: skip
            session.add(stored)
        if decision.apply:
            stored.local_key = local_key
            if stamp_too:
                stored.updated_at = stamp.updated_at
                stored.triggered_at = stamp.triggered_at
                stored.event_id = stamp.event_id
                stored.fingerprint = stamp.fingerprint or (
                    None if content is None else fingerprint(content)
                )
            stored.synced_at = now
            stored.needs_refresh = decision.reconcile
        elif read_now:
            # The platform's current state is what we hold: fresh as of now.
            stored.synced_at = now
            stored.needs_refresh = False
        if graphql_id is not None:
            stored.graphql_id = graphql_id
        session.flush()

    @staticmethod
    def _follow_email_change(
        session: Session, stored: PlatformRecord | None, new_email: str
    ) -> str:
        """The platform customer changed e-mail: re-key the stored customer (unless another
        customer already has the new address), so it stays one customer with its orders."""
        email = normalise_email(new_email)
        if stored is None or stored.local_key == email:
            return email
        taken = session.execute(select(Customer.id).where(Customer.email == email)).first()
        if taken is None:
            customer = session.execute(
                select(Customer).where(Customer.email == stored.local_key)
            ).scalar_one_or_none()
            if customer is not None:
                customer.email = email
                session.flush()
        return email

    def _link_inventory_item(self, session: Session, platform: str, item_id: str, sku: str) -> None:
        row = _record(session, platform, INVENTORY_ITEM, item_id, lock=True)
        if row is None:
            session.add(
                PlatformRecord(
                    platform=platform, resource=INVENTORY_ITEM, external_id=item_id,
                    local_key=sku, synced_at=self._clock(), needs_refresh=False,
                )
            )  # fmt: skip
        else:
            row.local_key = sku
        session.flush()


def _decide(stored: PlatformRecord | None, incoming: Stamp, content: Any) -> Decision:
    if incoming.fingerprint is None:
        incoming = Stamp(
            incoming.updated_at, incoming.triggered_at, incoming.event_id, fingerprint(content)
        )
    return decide(None if stored is None else _stamp(stored), incoming)


def _stamp(row: PlatformRecord) -> Stamp:
    return Stamp(row.updated_at, row.triggered_at, row.event_id, row.fingerprint)


def _record(
    session: Session, platform: str, resource: str, external_id: str, *, lock: bool = False
) -> PlatformRecord | None:
    query = select(PlatformRecord).where(
        PlatformRecord.platform == platform,
        PlatformRecord.resource == resource,
        PlatformRecord.external_id == external_id,
    )
    if lock:
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def _synced(row: PlatformRecord) -> SyncedRecord:
    return SyncedRecord(
        platform=row.platform, resource=row.resource, external_id=row.external_id,
        local_key=row.local_key, graphql_id=row.graphql_id, stamp=_stamp(row),
        synced_at=row.synced_at, needs_refresh=row.needs_refresh,
    )  # fmt: skip


def _recorded(row: OrderEventRow) -> RecordedEvent:
    from bot.domain.order_events import OrderEventKind

    event = OrderEvent(OrderEventKind(row.kind), row.subject, row.before, row.after)
    return RecordedEvent(row.id, row.order_number, event, row.source, row.recorded_at)


def _order_view(session: Session, number: str) -> OrderView | None:
    order = session.execute(
        select(Order).where(Order.number == number).options(*ORDER_LOADING)
    ).scalar_one_or_none()
    return None if order is None else order_view(order)


def _line_products(update: OrderUpdate) -> list[JsonObject]:
    given = {product["sku"]: product for product in update.line_products}
    products = []
    for line in update.order.get("lines", []):
        sku = line["sku"]
        products.append(
            given.get(sku)
            or {
                # A placeholder until the product sync brings the real one: the line's own
                # name and price, no stock, no category.
                "sku": sku, "name": line.get("name") or sku, "category": "uncategorised",
                "price": line["unit_price"], "stock": 0,
            }
        )  # fmt: skip
    return products


def _remove_parcels_not_in(session: Session, number: str, shipments: Iterable[JsonObject]) -> None:
    kept = {shipment["tracking_number"] for shipment in shipments}
    order_id = select(Order.id).where(Order.number == number).scalar_subquery()
    query = delete(Shipment).where(Shipment.order_id == order_id)
    if kept:
        query = query.where(Shipment.tracking_number.not_in(kept))
    session.execute(query.execution_options(synchronize_session=False))


def _remove_lines_not_in(session: Session, number: str, lines: Iterable[JsonObject]) -> None:
    """Lines an order edit removed. A line a return names stays: the return still happened."""
    kept = {line["sku"] for line in lines}
    order_id = select(Order.id).where(Order.number == number).scalar_subquery()
    returned = select(ReturnLine.order_line_id)
    query = delete(OrderLine).where(
        OrderLine.order_id == order_id,
        OrderLine.sku.not_in(kept),
        OrderLine.id.not_in(returned),
    )
    session.execute(query.execution_options(synchronize_session=False))


def _stock_of(session: Session, platform: str, item_id: str) -> int | None:
    total = session.execute(
        select(func.sum(PlatformStockLevel.available)).where(
            PlatformStockLevel.platform == platform,
            PlatformStockLevel.inventory_item_id == item_id,
        )
    ).scalar_one_or_none()
    return None if total is None else max(0, int(total))


def _set_customer(customer: Customer, record: Mapping[str, Any]) -> None:
    customer.first_name = record["first_name"]
    customer.last_name = record["last_name"]
    if "phone" in record:
        customer.phone = record["phone"]
    if "is_vip" in record:
        customer.is_vip = bool(record["is_vip"])


def _document(
    *,
    customers: Sequence[JsonObject] = (),
    products: Sequence[JsonObject] = (),
    orders: Sequence[JsonObject] = (),
) -> JsonObject:
    return {
        "format_version": 1,
        "reference_date": date.today().isoformat(),
        "customers": list(customers),
        "products": list(products),
        "orders": list(orders),
    }


__all__ = [
    "CUSTOMER",
    "INVENTORY_ITEM",
    "ORDER",
    "PRODUCT",
    "CustomerUpdate",
    "OrderUpdate",
    "PlatformSync",
    "ProductUpdate",
    "RecordedEvent",
    "StockLevelUpdate",
    "SyncResult",
    "SyncedRecord",
    "Verdict",
    "fingerprint",
]
