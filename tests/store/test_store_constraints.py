"""The database itself refuses bad data: unique keys, vocabularies, foreign keys, UTC, money."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from bot.store.database import Database
from bot.store.models import (
    ChannelIdentity,
    Customer,
    Order,
    Product,
    Refund,
    ReturnRequest,
    Shipment,
)

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def new_customer(email: str = "new.person@example.com", phone: str | None = None) -> Customer:
    return Customer(email=email, phone=phone, first_name="New", last_name="Person", created_at=NOW)


def first(session: Session, model: type) -> object:
    return session.execute(select(model).limit(1)).scalar_one()


def copy_of(session: Session, model: type, **overrides: object) -> object:
    """A new row with every column of an existing one but the id, plus `overrides`."""
    existing = first(session, model)
    columns = {
        column.key: getattr(existing, column.key)
        for column in model.__table__.columns  # type: ignore[attr-defined]
        if column.key != "id"
    }
    return model(**{**columns, **overrides})


# name -> (the column the violation message must mention, rows duplicating a demo row)
DUPLICATES: dict[str, tuple[str, Callable[[Session], list[object]]]] = {
    "customer email": ("email", lambda s: [new_customer(email="ava.martin@example.com")]),
    "customer phone": ("phone", lambda s: [new_customer(phone="+14155550123")]),
    "product sku": ("sku", lambda s: [copy_of(s, Product)]),
    "order number": ("number", lambda s: [copy_of(s, Order)]),
    "shipment tracking number": ("tracking_number", lambda s: [copy_of(s, Shipment)]),
    "return rma number": ("rma_number", lambda s: [copy_of(s, ReturnRequest)]),
    "refund reference": ("reference", lambda s: [copy_of(s, Refund)]),
    "channel identity": (
        "external_id",
        lambda s: [
            ChannelIdentity(channel="webchat", external_id="same"),
            ChannelIdentity(channel="webchat", external_id="same"),
        ],
    ),
}


@pytest.mark.parametrize(("column", "rows"), DUPLICATES.values(), ids=DUPLICATES.keys())
def test_natural_keys_are_unique(
    demo_database: Database, column: str, rows: Callable[[Session], list[object]]
) -> None:
    with pytest.raises(IntegrityError, match=column), demo_database.session() as session:
        session.add_all(rows(session))
        session.flush()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE customers SET email = upper(email)",
        "UPDATE orders SET status = 'teleported' WHERE number = '10023'",
        "UPDATE shipments SET status = 'teleported'",
        "UPDATE products SET stock = -1",
        "UPDATE order_lines SET quantity = 0",
        "UPDATE refunds SET amount = 0",
        "UPDATE orders SET customer_id = 999999 WHERE number = '10023'",
    ],
    ids=[
        "email-lower-case",
        "order-status",
        "shipment-status",
        "stock",
        "quantity",
        "refund",
        "fk",
    ],
)
def test_the_database_checks_what_the_orm_would(demo_database: Database, statement: str) -> None:
    with pytest.raises(IntegrityError), demo_database.session() as session:
        session.execute(text(statement))


def test_the_orm_refuses_values_outside_a_vocabulary(demo_database: Database) -> None:
    with pytest.raises(StatementError, match="teleported"), demo_database.session() as session:
        shipment = first(session, Shipment)
        shipment.status = "teleported"  # type: ignore[attr-defined]
        session.flush()


def test_models_normalise_and_check_keys() -> None:
    assert new_customer(email="  Mixed.Case@Example.com ").email == "mixed.case@example.com"
    with pytest.raises(ValueError, match=r"E\.164"):
        new_customer(phone="415 555 0123")
    with pytest.raises(ValueError, match="digits"):
        Order(number="#10023")


def test_datetimes_are_stored_in_utc_and_come_back_aware(database: Database) -> None:
    pacific = timezone(timedelta(hours=-8))
    with database.session() as session:
        person = new_customer()
        person.created_at = datetime(2026, 11, 19, 22, 30, tzinfo=pacific)
        session.add(person)

    with database.session() as session:
        created_at = session.execute(select(Customer.created_at)).scalar_one()

    assert created_at == datetime(2026, 11, 20, 6, 30, tzinfo=UTC)
    assert created_at.tzinfo == UTC


def test_naive_datetimes_are_refused(demo_database: Database) -> None:
    with pytest.raises(StatementError, match="naive"), demo_database.session() as session:
        person = new_customer()
        person.created_at = datetime(2026, 11, 20, 9, 0)
        session.add(person)


def test_money_round_trips_as_two_decimal_decimals(database: Database) -> None:
    with database.session() as session:
        session.add(
            Product(
                sku="X-1",
                name="X",
                category="gear",
                price=Decimal("19.9"),
                stock=1,
                returnable=True,
                final_sale=False,
            )
        )

    with database.session() as session:
        price = session.execute(select(Product.price)).scalar_one()

    assert price == Decimal("19.90")
    assert str(price) == "19.90"


def test_money_refuses_floats(demo_database: Database) -> None:
    with pytest.raises(StatementError, match="float"), demo_database.session() as session:
        person = first(session, Customer)
        person.lifetime_value = 0.1  # type: ignore[attr-defined]
        session.flush()
