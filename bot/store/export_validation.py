"""Checks a store export before anything is written, listing every problem it finds.

Two passes: the JSON Schema (`export_schema.json`) for shape and formats, then the rules a
schema cannot express (references between records, duplicates, arithmetic, status/date
consistency). Each problem names the record it is about, e.g.
`orders[3] (number 10026): shipments[0]: 'carrier' is a required property`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from bot.domain.vocabulary import OrderStatus, RefundStatus, ShipmentStatus

SCHEMA_PATH = Path(__file__).resolve().parent / "export_schema.json"

# The field that identifies a top-level record to a human reading an error.
RECORD_KEYS = {"customers": "email", "products": "sku", "orders": "number"}

Path_ = Sequence[str | int]

# Rules only look at values the schema accepts, so one bad value yields one problem, not two.
# Same as definitions.money.pattern in export_schema.json (a test keeps them equal).
MONEY_PATTERN = re.compile(r"^(0|[1-9][0-9]{0,9})\.[0-9]{2}$")


def validate_export(data: Any) -> list[str]:
    """Every problem with `data` as a store export; empty when it can be loaded."""
    problems = [_describe_schema_error(error, data) for error in _schema_errors(data)]
    if isinstance(data, Mapping):
        problems.extend(_RuleChecker(data).problems())
    return problems


@cache
def export_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def record_label(data: Any, path: Path_) -> str:
    """'orders[3] (number 10026)' for a path into a top-level record, else the bare path."""
    if len(path) < 2 or not isinstance(path[1], int):
        return _format_path(path) or "export"
    table, index = str(path[0]), path[1]
    label = f"{table}[{index}]"
    key = RECORD_KEYS.get(table)
    try:
        value = data[table][index][key]
    except (KeyError, IndexError, TypeError):
        return label
    return f"{label} ({key} {value})" if isinstance(value, str | int) else label


def _schema_errors(data: Any) -> list[ValidationError]:
    validator = Draft7Validator(export_schema(), format_checker=_format_checker())
    return sorted(validator.iter_errors(data), key=lambda error: _sort_key(error.absolute_path))


def _format_checker() -> FormatChecker:
    # jsonschema's own date-time check needs an extra package and passes silently without it.
    checker = FormatChecker(formats=())

    @checker.checks("date", raises=ValueError)
    def is_date(value: object) -> bool:
        return not isinstance(value, str) or bool(date.fromisoformat(value))

    @checker.checks("date-time", raises=ValueError)
    def is_datetime(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if "T" not in value:
            raise ValueError("not a date-time")
        return datetime.fromisoformat(value).tzinfo is not None

    return checker


def _describe_schema_error(error: ValidationError, data: Any) -> str:
    path = list(error.absolute_path)
    message = error.message
    description = error.schema.get("description") if isinstance(error.schema, dict) else None
    if error.validator in ("pattern", "format") and description:
        message = f"{error.instance!r} is not {description}"
    return _locate(data, path, message)


def _locate(data: Any, path: Path_, message: str) -> str:
    if len(path) >= 2 and isinstance(path[1], int):
        inner = _format_path(path[2:])
        prefix = record_label(data, path)
        return f"{prefix}: {inner}: {message}" if inner else f"{prefix}: {message}"
    where = _format_path(path)
    return f"{where}: {message}" if where else f"export: {message}"


def _format_path(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".")


def _sort_key(path: Path_) -> list[tuple[int, int, str]]:
    return [(0, part, "") if isinstance(part, int) else (1, 0, part) for part in path]


class _RuleChecker:
    """Rules across records. Tolerates malformed records (the schema pass reports those)."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data
        self._problems: list[str] = []

    def problems(self) -> list[str]:
        emails = self._unique_keys("customers", "email", normalise=str.lower)
        self._unique_keys("customers", "phone")
        skus = self._unique_keys("products", "sku")
        self._unique_keys("orders", "number")
        # Per order: two orders shipped in one box share the carrier's tracking number.
        self._unique_nested("shipments", "tracking_number", "tracking number", per_order=True)
        self._unique_nested("returns", "rma_number", "RMA number")
        self._unique_nested("refunds", "reference", "refund reference")
        for index, order in _records(self._data, "orders"):
            self._check_order(index, order, emails, skus)
        return self._problems

    def _report(self, path: Path_, message: str) -> None:
        self._problems.append(_locate(self._data, path, message))

    def _unique_keys(self, table: str, key: str, normalise: Callable[[str], str] = str) -> set[str]:
        seen: dict[str, int] = {}
        for index, record in _records(self._data, table):
            value = record.get(key)
            if not isinstance(value, str):
                continue
            canonical = normalise(value)
            if canonical in seen:
                first = record_label(self._data, [table, seen[canonical]])
                self._report([table, index], f"{key} {value!r} duplicates {first}")
            else:
                seen[canonical] = index
        return set(seen)

    def _unique_nested(
        self, collection: str, key: str, what: str, *, per_order: bool = False
    ) -> None:
        seen: dict[str, list[str | int]] = {}
        for order_index, order in _records(self._data, "orders"):
            if per_order:
                seen = {}
            for index, record in _items(order.get(collection)):
                value = record.get(key)
                if not isinstance(value, str):
                    continue
                path: list[str | int] = ["orders", order_index, collection, index]
                if value in seen:
                    first = seen[value]
                    where = f"{record_label(self._data, first)} {_format_path(first[2:])}"
                    self._report(path, f"{what} {value!r} duplicates {where}")
                else:
                    seen[value] = path

    def _check_order(
        self, index: int, order: Mapping[str, Any], emails: set[str], skus: set[str]
    ) -> None:
        here: list[str | int] = ["orders", index]
        customer = order.get("customer")
        if isinstance(customer, str) and customer.lower() not in emails:
            self._report(here, f"customer {customer!r} is not in customers")

        ordered: dict[str, int] = {}
        line_sum = Decimal("0.00")
        lines_ok = True
        for line_index, line in _items(order.get("lines")):
            sku, quantity, price = line.get("sku"), line.get("quantity"), _money(line, "unit_price")
            if isinstance(sku, str):
                if sku not in skus:
                    self._report([*here, "lines", line_index], f"sku {sku!r} is not in products")
                if sku in ordered:
                    self._report(
                        [*here, "lines", line_index],
                        f"sku {sku!r} appears on more than one line; merge them",
                    )
                if isinstance(quantity, int):
                    ordered[sku] = ordered.get(sku, 0) + quantity
            if isinstance(quantity, int) and price is not None:
                line_sum += price * quantity
            else:
                lines_ok = False
        self._check_totals(here, order, line_sum if lines_ok else None)
        self._check_order_dates(here, order)
        self._check_shipments(here, order)
        rmas = self._check_returns(here, order, ordered)
        self._check_refunds(here, order, rmas)

    def _check_totals(
        self, here: list[str | int], order: Mapping[str, Any], line_sum: Decimal | None
    ) -> None:
        subtotal, total = _money(order, "subtotal"), _money(order, "total")
        shipping, tax = _money(order, "shipping_total"), _money(order, "tax_total")
        if subtotal is not None and line_sum is not None and subtotal != line_sum:
            self._report(here, f"subtotal {subtotal} is not the sum of its lines ({line_sum})")
        if None not in (subtotal, shipping, tax, total):
            expected = subtotal + shipping + tax  # type: ignore[operator]
            if total != expected:
                self._report(
                    here,
                    f"total {total} is not subtotal + shipping_total + tax_total ({expected})",
                )

    def _check_order_dates(self, here: list[str | int], order: Mapping[str, Any]) -> None:
        status = order.get("status")
        if (status == OrderStatus.CANCELLED) != (order.get("cancelled_at") is not None):
            self._report(here, "cancelled_at must be set exactly when status is 'cancelled'")
        unpaid_statuses = (OrderStatus.PROCESSING, OrderStatus.CANCELLED)
        if status not in unpaid_statuses and order.get("paid_at") is None:
            self._report(here, f"paid_at is required when status is {status!r}")
        if order.get("fulfilment_status") == "unfulfilled" and order.get("shipments"):
            self._report(here, "fulfilment_status is 'unfulfilled' but the order has shipments")

    def _check_shipments(self, here: list[str | int], order: Mapping[str, Any]) -> None:
        for index, shipment in _items(order.get("shipments")):
            path = [*here, "shipments", index]
            status = shipment.get("status")
            delivered = shipment.get("delivered_at") is not None
            if (status == ShipmentStatus.DELIVERED) != delivered:
                self._report(path, "delivered_at must be set exactly when status is 'delivered'")
            self._check_events(path, shipment)

    def _check_events(self, path: list[str | int], shipment: Mapping[str, Any]) -> None:
        timed = [
            (occurred_at, index, event)
            for index, event in _items(shipment.get("events"))
            if (occurred_at := _datetime(event.get("occurred_at"))) is not None
        ]
        seen: dict[tuple[datetime, str], int] = {}
        for occurred_at, index, event in timed:
            status = event.get("status")
            if not isinstance(status, str):
                continue  # the schema pass has reported it; a list is not even hashable
            key = (occurred_at, status)
            if key in seen:
                self._report(
                    [*path, "events", index],
                    f"repeats events[{seen[key]}] (same occurred_at and status)",
                )
            seen.setdefault(key, index)
        status = shipment.get("status")
        if timed and status in ShipmentStatus.__members__.values():
            _, latest_index, latest = max(timed, key=lambda item: (item[0], item[1]))
            if latest.get("status") != status:
                self._report(
                    path,
                    f"status {status!r} differs from its latest event's status "
                    f"{latest.get('status')!r} (events[{latest_index}])",
                )

    def _check_returns(
        self, here: list[str | int], order: Mapping[str, Any], ordered: Mapping[str, int]
    ) -> set[str]:
        rmas: set[str] = set()
        returned: dict[str, int] = {}
        for index, request in _items(order.get("returns")):
            if isinstance(request.get("rma_number"), str):
                rmas.add(request["rma_number"])
            for line_index, line in _items(request.get("lines")):
                sku, quantity = line.get("sku"), line.get("quantity")
                if not isinstance(sku, str):
                    continue
                path = [*here, "returns", index, "lines", line_index]
                if sku not in ordered:
                    self._report(path, f"sku {sku!r} is not on this order's lines")
                    continue
                # A rejected return took nothing back; the items may be returned again.
                if isinstance(quantity, int) and request.get("status") != "rejected":
                    returned[sku] = returned.get(sku, 0) + quantity
                    if returned[sku] > ordered[sku]:
                        self._report(
                            path,
                            f"returns {returned[sku]} of sku {sku!r} in all but only "
                            f"{ordered[sku]} were ordered",
                        )
        return rmas

    def _check_refunds(
        self, here: list[str | int], order: Mapping[str, Any], rmas: set[str]
    ) -> None:
        refunded = Decimal("0.00")
        for index, refund in _items(order.get("refunds")):
            path = [*here, "refunds", index]
            rma = refund.get("return_rma")
            if isinstance(rma, str) and rma not in rmas:
                self._report(path, f"return_rma {rma!r} is not one of this order's returns")
            currency, order_currency = refund.get("currency"), order.get("currency")
            if currency is not None and currency != order_currency:
                message = f"currency {currency!r} differs from the order's {order_currency!r}"
                self._report(path, message)
            completed = refund.get("status") == RefundStatus.COMPLETED
            if completed != (refund.get("completed_at") is not None):
                self._report(path, "completed_at must be set exactly when status is 'completed'")
            amount = _money(refund, "amount")
            if amount is not None and refund.get("status") != RefundStatus.FAILED:
                refunded += amount
        total = _money(order, "total")
        if total is not None and refunded > total:
            self._report(here, f"refunds add up to {refunded}, more than the total {total}")


def _records(data: Mapping[str, Any], table: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    return _items(data.get(table))


def _items(value: Any) -> Iterator[tuple[int, Mapping[str, Any]]]:
    if not isinstance(value, list):
        return
    for index, item in enumerate(value):
        if isinstance(item, Mapping):
            yield index, item


def _money(record: Mapping[str, Any], key: str) -> Decimal | None:
    value = record.get(key)
    if not isinstance(value, str) or not MONEY_PATTERN.fullmatch(value):
        return None
    return Decimal(value)


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
