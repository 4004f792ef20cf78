"""StoreRepository against the demo store: lookups, views, identity linking."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.domain.views import CustomerView, OrderView
from bot.store.database import Database
from bot.store.errors import UnknownCustomerError
from bot.store.models import ChannelIdentity
from bot.store.ports import StorePort
from bot.store.repository import StoreRepository
from bot.store.seed import load_export

REFERENCE_DATE = date(2026, 11, 20)


@pytest.fixture
def store(demo_database: Database) -> StoreRepository:
    return StoreRepository(demo_database)


def find(store: StoreRepository, number: str) -> OrderView:
    order = store.find_order(number)
    assert order is not None, number
    return order


def customer(store: StoreRepository, email: str) -> CustomerView:
    found = store.find_customer_by_email(email)
    assert found is not None, email
    return found


def test_repository_satisfies_the_port(store: StoreRepository) -> None:
    port: StorePort = store
    assert port.is_empty() is False


def test_order_10023_is_in_transit_with_ups_due_in_two_days(store: StoreRepository) -> None:
    order = find(store, "10023")

    assert order.status == "shipped"
    assert order.fulfilment_status == "fulfilled"
    assert order.customer.full_name == "Ava Martin"
    assert order.customer.phone == "+14155550123"
    assert order.customer.is_vip is False
    [shipment] = order.shipments
    assert shipment.carrier == "UPS"
    assert shipment.tracking_number == "1Z999AA10123456784"
    assert shipment.tracking_url.startswith("https://")
    assert shipment.status == "in_transit"
    assert shipment.estimated_delivery == REFERENCE_DATE + timedelta(days=2)
    assert len(shipment.events) == 3
    occurred = [event.occurred_at for event in shipment.events]
    assert occurred == sorted(occurred)
    assert shipment.latest_event == shipment.events[-1]
    assert order.total == order.subtotal + order.shipping_total + order.tax_total
    assert order.subtotal == sum(line.line_total for line in order.lines)


def test_order_10024_is_paid_but_not_shipped(store: StoreRepository) -> None:
    order = find(store, "10024")

    assert order.status == "paid"
    assert order.fulfilment_status == "unfulfilled"
    assert order.shipments == ()
    assert order.paid_at is not None
    assert order.customer.email == "ava.martin@example.com"


def test_order_10031_was_delivered_five_days_before_the_reference_date(
    store: StoreRepository,
) -> None:
    order = find(store, "10031")

    assert order.status == "delivered"
    assert order.customer.full_name == "Liam Chen"
    assert order.customer.is_vip is True
    assert order.customer.lifetime_value == Decimal("5400.00")
    [shipment] = order.shipments
    assert shipment.delivered_at is not None
    assert shipment.delivered_at.date() == REFERENCE_DATE - timedelta(days=5)


def test_order_10040_is_delayed_by_weather(store: StoreRepository) -> None:
    [shipment] = find(store, "10040").shipments

    assert shipment.status == "delayed"
    assert shipment.latest_event is not None
    assert "weather" in shipment.latest_event.description


def test_order_10041_is_lost(store: StoreRepository) -> None:
    [shipment] = find(store, "10041").shipments

    assert shipment.status in ("exception", "lost")
    assert shipment.delivered_at is None


def test_returns_and_refunds_come_with_their_order(store: StoreRepository) -> None:
    returned = find(store, "10018")
    [request] = returned.returns
    [refund] = returned.refunds
    assert returned.status == "returned"
    assert request.rma_number == "RMA-10018-1"
    assert [(line.sku, line.quantity) for line in request.lines] == [("NW-FLC-CASCADE-S", 1)]
    assert refund.rma_number == "RMA-10018-1"
    assert refund.status == "pending"
    assert returned.refunded_total == Decimal("0.00")

    refunded = find(store, "10014")
    assert refunded.status == "refunded"
    assert refunded.refunded_total == refunded.total


def test_order_lines_carry_the_return_policy(store: StoreRepository) -> None:
    lines = {line.sku: line for line in find(store, "10033").lines}

    assert not lines["NW-BNE-FIRESIDE"].can_be_returned  # final sale
    assert not lines["NW-BRA-TRAIL-M"].can_be_returned  # intimates
    assert lines["NW-SCK-WOOL-3PK"].can_be_returned


def test_unknown_order_is_none(store: StoreRepository) -> None:
    assert store.find_order("99999") is None
    assert store.find_order("") is None


def test_orders_for_customer_newest_first(store: StoreRepository) -> None:
    ava = customer(store, "ava.martin@example.com")

    orders = store.orders_for_customer(ava.id)

    assert [order.number for order in orders] == ["10024", "10023", "10012"]
    assert store.orders_for_customer(-1) == []


def test_customer_by_email_ignores_case_and_whitespace(store: StoreRepository) -> None:
    found = store.find_customer_by_email("  Liam.Chen@Example.COM ")

    assert found is not None
    assert found.full_name == "Liam Chen"
    assert store.find_customer_by_email("nobody@example.com") is None


@pytest.mark.parametrize("phone", ["+14155550123", "+1 415-555-0123", "+1 (415) 555.0123"])
def test_customer_by_phone_accepts_formatted_e164(store: StoreRepository, phone: str) -> None:
    found = store.find_customer_by_phone(phone)

    assert found is not None
    assert found.email == "ava.martin@example.com"


@pytest.mark.parametrize("phone", ["4155550123", "+14155550199", "call me", ""])
def test_customer_by_phone_unknown_or_not_e164_is_none(store: StoreRepository, phone: str) -> None:
    assert store.find_customer_by_phone(phone) is None


def test_views_are_frozen_plain_values(store: StoreRepository) -> None:
    order = find(store, "10037")

    with pytest.raises(dataclasses.FrozenInstanceError):
        order.status = "delivered"  # type: ignore[misc]
    for value in walk(order):
        assert isinstance(value, PLAIN_TYPES), type(value)
        if isinstance(value, datetime):
            assert value.utcoffset() == timedelta(0)


def test_is_empty_only_before_seeding(database: Database, demo_store_path: Path) -> None:
    store = StoreRepository(database)
    assert store.is_empty()

    load_export(demo_store_path, database)

    assert not store.is_empty()


class TickingClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


def test_link_identity_is_an_idempotent_upsert(database: Database, demo_store_path: Path) -> None:
    load_export(demo_store_path, database)
    store = StoreRepository(database, clock=TickingClock())
    ava = customer(store, "ava.martin@example.com")
    liam = customer(store, "liam.chen@example.com")
    assert store.customer_for_identity("whatsapp", "wa:14155550123") is None

    store.link_identity("whatsapp", "wa:14155550123", ava.id)
    first_link = linked_at(database, "whatsapp", "wa:14155550123")
    store.link_identity("WhatsApp", "wa:14155550123", ava.id)

    assert store.customer_for_identity("whatsapp", "wa:14155550123") == ava
    assert identity_count(database) == 1
    assert linked_at(database, "whatsapp", "wa:14155550123") == first_link

    store.link_identity("whatsapp", "wa:14155550123", liam.id)

    assert store.customer_for_identity("whatsapp", "wa:14155550123") == liam
    assert identity_count(database) == 1
    assert linked_at(database, "whatsapp", "wa:14155550123") > first_link


def test_identities_are_per_channel(database: Database, demo_store_path: Path) -> None:
    load_export(demo_store_path, database)
    store = StoreRepository(database)
    ava = customer(store, "ava.martin@example.com")

    store.link_identity("telegram", "4242", ava.id)

    assert store.customer_for_identity("telegram", "4242") == ava
    assert store.customer_for_identity("messenger", "4242") is None


def test_an_unverified_identity_has_no_customer(database: Database) -> None:
    with database.session() as session:
        session.add(ChannelIdentity(channel="webchat", external_id="session-1"))

    assert StoreRepository(database).customer_for_identity("webchat", "session-1") is None


def test_linking_to_an_unknown_customer_fails(database: Database) -> None:
    with pytest.raises(UnknownCustomerError):
        StoreRepository(database).link_identity("webchat", "session-1", 424242)

    assert identity_count(database) == 0


def identity_count(database: Database) -> int:
    with database.session() as session:
        return session.execute(select(func.count()).select_from(ChannelIdentity)).scalar_one()


def linked_at(database: Database, channel: str, external_id: str) -> datetime:
    with database.session() as session:
        return session.execute(
            select(ChannelIdentity.linked_at).where(
                ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
            )
        ).scalar_one()


PLAIN_TYPES = (str, int, bool, Decimal, datetime, date, type(None), StrEnum)


def walk(value: Any) -> Iterator[Any]:
    """Every leaf value inside a view, through nested views and tuples."""
    if dataclasses.is_dataclass(value):
        for field in dataclasses.fields(value):
            yield from walk(getattr(value, field.name))
    elif isinstance(value, tuple):
        for item in value:
            yield from walk(item)
    else:
        yield value


def test_channel_names_that_are_not_names(database: Database, demo_store_path: Path) -> None:
    load_export(demo_store_path, database)
    store = StoreRepository(database)
    ava = customer(store, "ava.martin@example.com")

    assert store.customer_for_identity("web chat!", "session-1") is None
    with pytest.raises(ValueError, match="channel"):
        store.link_identity("web chat!", "session-1", ava.id)
    with pytest.raises(ValueError, match="external_id"):
        store.link_identity("webchat", "", ava.id)
