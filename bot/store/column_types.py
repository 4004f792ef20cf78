"""Column types that make SQLite and PostgreSQL hand back the same Python values."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, Enum, Numeric
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

CENT = Decimal("0.01")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC.

    PostgreSQL keeps the offset (timestamptz); SQLite has no time zones, so values are written as
    naive UTC and re-labelled UTC on the way out. Naive values are refused rather than guessed at:
    a naive "now" from a server in another zone would silently be hours off.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; use an aware UTC value")
        utc_value = value.astimezone(UTC)
        return utc_value.replace(tzinfo=None) if dialect.name == "sqlite" else utc_value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """An amount with two decimals, always returned as a `Decimal`.

    SQLite has no decimal type; asking SQLAlchemy for Decimals there makes it warn on every
    query. Amounts of at most 12 digits survive a round trip through a float exactly enough to
    re-quantise, so SQLite gets floats and this type restores the Decimal.
    """

    impl = Numeric(12, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        # sqlalchemy2-stubs declare `type_descriptor` for type classes; it adapts instances too.
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Numeric(12, 2, asdecimal=False))  # type: ignore[arg-type]
        return dialect.type_descriptor(Numeric(12, 2))  # type: ignore[arg-type]

    def process_bind_param(self, value: Decimal | int | str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        amount = to_money(value)
        return float(amount) if dialect.name == "sqlite" else amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return to_money(repr(value) if isinstance(value, float) else value)


def to_money(value: Decimal | int | str) -> Decimal:
    if isinstance(value, float):
        # Floats are where rounding bugs come from; callers must decide how to convert.
        raise TypeError("money amounts must be Decimal, int or str, not float")
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_EVEN)


def vocabulary(enum_class: type[StrEnum], name: str) -> Enum:
    """A VARCHAR column limited to `enum_class`'s values by a CHECK constraint named `name`.

    Non-native so that adding a value is an ordinary constraint change on both databases.
    """
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
    )
