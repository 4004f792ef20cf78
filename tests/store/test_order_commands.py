"""Order changes are applied once, whatever retries or races happen (SQLite and PostgreSQL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from bot.store.database import Database
from bot.store.models import Order, Refund, ReturnRequest
from bot.store.order_commands import (
    Attachment,
    NewAddress,
    OrderChangeConflict,
    OrderCommands,
)
from bot.store.repository import StoreRepository
from bot.store.return_attachments import ReturnAttachment
from bot.store.seed import load_export
from tests.store.conftest import DEMO_STORE_PATH


@pytest.fixture
def shop(database: Database) -> Database:
    load_export(DEMO_STORE_PATH, database)
    return database


def count(database: Database, statement: object) -> int:
    with database.session() as session:
        return int(session.execute(statement).scalar_one())


def test_cancel_paid_order_once_with_one_refund(shop: Database) -> None:
    commands = OrderCommands(shop)
    first = commands.cancel("10024")
    assert first.cancelled_now and first.order.status == "cancelled"
    assert first.refund_reference == "CXL-10024"
    again = commands.cancel("10024")
    assert not again.cancelled_now and again.refund_reference == "CXL-10024"
    refunds = count(shop, select(func.count()).select_from(Refund).join(Order).where(
        Order.number == "10024"))  # fmt: skip
    assert refunds == 1
    refund = StoreRepository(shop).find_order("10024").refunds[0]  # type: ignore[union-attr]
    assert refund.amount == first.order.total and refund.status == "pending"


def test_concurrent_cancellations_refund_once(shop: Database) -> None:
    commands = OrderCommands(shop)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: commands.cancel("10024"), range(4)))
    assert sum(result.cancelled_now for result in results) == 1
    assert count(shop, select(func.count()).select_from(Refund).where(
        Refund.reference == "CXL-10024")) == 1  # fmt: skip


@pytest.mark.parametrize("number", ["10023", "10031", "10016"])  # shipped, delivered, cancelled
def test_cannot_cancel_what_has_left_the_warehouse(shop: Database, number: str) -> None:
    commands = OrderCommands(shop)
    if number == "10016":  # already cancelled: idempotent "nothing to do"
        assert not commands.cancel(number).cancelled_now
        return
    with pytest.raises(OrderChangeConflict):
        commands.cancel(number)


def test_change_address_before_fulfilment(shop: Database) -> None:
    address = NewAddress("221 Pine St", "Apt 4", "Portland", "OR", "97205", "US")
    order = OrderCommands(shop).change_shipping_address("10024", address)
    assert order.shipping_address.one_line() == "221 Pine St, Apt 4, Portland, OR 97205, US"
    with pytest.raises(OrderChangeConflict):
        OrderCommands(shop).change_shipping_address("10023", address)


def test_return_request_is_created_once_and_keeps_photos(shop: Database) -> None:
    commands = OrderCommands(shop)
    order = StoreRepository(shop).find_order("10031")
    assert order is not None
    line = order.lines[0]
    photo = Attachment("https://media.example/1.jpg", "image/jpeg")
    first = commands.request_return(
        "10031", line.id, reason="damaged", condition="damaged", attachments=[photo]
    )
    second = commands.request_return(
        "10031", line.id, reason="damaged", condition="damaged", attachments=[photo]
    )
    assert first.created_now and not second.created_now
    assert first.rma_number == second.rma_number == f"RMA-10031-{line.id}"
    assert count(shop, select(func.count()).select_from(ReturnRequest).where(
        ReturnRequest.rma_number == first.rma_number)) == 1  # fmt: skip
    assert count(shop, select(func.count()).select_from(ReturnAttachment)) == 1
    assert commands.attachments_for(first.rma_number) == [photo]
    assert any(r.rma_number == first.rma_number for r in second.order.returns)


def test_return_for_a_line_of_another_order_is_refused(shop: Database) -> None:
    other = StoreRepository(shop).find_order("10023")
    assert other is not None
    with pytest.raises(ValueError, match="not on order 10031"):
        OrderCommands(shop).request_return(
            "10031", other.lines[0].id, reason="changed_mind", condition="unused"
        )
