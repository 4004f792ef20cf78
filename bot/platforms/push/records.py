"""The body of a push: `{"format_version": 1, "records": [...]}`, parsed into typed records or
refused with every problem it has, each naming its record (docs/store-push-webhook.md).

    {"type": "order",   "updated_at": ..., "order": {...}, "customer": {...}, "products": [...]}
    {"type": "product", "updated_at": ..., "product": {...}}
    {"type": "stock",   "updated_at": ..., "sku": ..., "location": ..., "available": ...}

The order, customer and product records are the store export's (docs/store.md): each is
checked by `validate_export` itself, inside a one-record export document built for the purpose,
and its problems are relabelled from the document's view ("orders[0] (number 10023): ...") to
the push's ("records[3] (order 10023): order: ..."). So an order that would not load as an export
is refused here, with the same words, before it is stored.

The same function checks at the intake (a 422 the sender sees at once) and in the handler (a
body stored by an older relaydesk that this one refuses is failed, not half-applied).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from bot.domain.freshness import parse_timestamp
from bot.store.export_validation import export_schema, record_label, validate_export

JsonObject = dict[str, Any]

FORMAT_VERSION = 1
#: Records in one body, at most: a bigger batch is better sent as several pushes (each is
#: validated and stored whole before its answer, and the sender waits for that).
MAX_RECORDS = 500
#: Problems listed in one answer; the count of the rest follows.
MAX_PROBLEMS = 50
MAX_PROBLEM_LENGTH = 300
ORDER, PRODUCT, STOCK = "order", "product", "stock"
RECORD_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    # type → (required fields, optional fields)
    ORDER: (frozenset({"type", "updated_at", "order", "customer"}), frozenset({"products"})),
    PRODUCT: (frozenset({"type", "updated_at", "product"}), frozenset()),
    STOCK: (frozenset({"type", "updated_at", "sku", "location", "available"}), frozenset()),
}
LOCATION = re.compile(r"[^\x00-\x1f\x7f]{1,255}")
#: The stock column is a 32-bit integer; a negative level (oversold) is allowed.
MAX_AVAILABLE = 1_000_000_000
#: Only shifts dates when loading with rebase_dates, which a push never does.
_REFERENCE_DATE = "2000-01-01"


@dataclass(frozen=True)
class OrderRecord:
    """An order's full current state: shipments, returns and refunds nested."""

    index: int
    updated_at: str
    order: JsonObject
    customer: JsonObject
    #: Product records for some of its lines' SKUs (only new SKUs are inserted from them).
    products: tuple[JsonObject, ...] = ()

    @property
    def number(self) -> str:
        return str(self.order["number"])


@dataclass(frozen=True)
class ProductRecord:
    index: int
    updated_at: str
    product: JsonObject

    @property
    def sku(self) -> str:
        return str(self.product["sku"])


@dataclass(frozen=True)
class StockRecord:
    """Units of one SKU available at one location."""

    index: int
    updated_at: str
    sku: str
    location: str
    available: int


PushRecord = OrderRecord | ProductRecord | StockRecord


@dataclass(frozen=True)
class PushBatch:
    """A valid body's records, in the order they are to be applied."""

    records: tuple[PushRecord, ...]


class PushBodyError(Exception):
    """The body is not a push relaydesk can apply; `problems` says why, record by record."""

    def __init__(self, problems: list[str]) -> None:
        # A problem quotes the bad value, which can be as long as the body: shortened.
        shown = [_shortened(problem) for problem in problems[:MAX_PROBLEMS]]
        if len(problems) > MAX_PROBLEMS:
            shown.append(f"... and {len(problems) - MAX_PROBLEMS} more problems")
        super().__init__(f"{len(problems)} problem(s): " + "; ".join(shown[:3]))
        self.problems = shown


def _shortened(problem: str) -> str:
    return (
        problem if len(problem) <= MAX_PROBLEM_LENGTH else problem[: MAX_PROBLEM_LENGTH - 3] + "..."
    )


def parse_body(data: Any) -> PushBatch:
    """The records of a decoded JSON body; raises PushBodyError listing every problem."""
    problems: list[str] = []
    if not isinstance(data, Mapping):
        raise PushBodyError(["body: must be a JSON object with format_version and records"])
    unknown = sorted(set(data) - {"format_version", "records"})
    if unknown:
        problems.append(f"body: unknown field(s) {', '.join(map(repr, unknown))}")
    version = data.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        problems.append(f"body: format_version must be {FORMAT_VERSION}, not {version!r}")
    records = data.get("records")
    if not isinstance(records, list) or not records:
        problems.append("body: records must be a non-empty array")
        raise PushBodyError(problems)
    if len(records) > MAX_RECORDS:
        problems.append(f"body: {len(records)} records, at most {MAX_RECORDS} per push")
        raise PushBodyError(problems)
    parsed: list[PushRecord] = []
    for index, record in enumerate(records):
        found, record_problems = _parse_record(index, record)
        problems.extend(record_problems)
        if found is not None:
            parsed.append(found)
    if not problems:
        problems.extend(_duplicates(parsed))
    if problems:
        raise PushBodyError(problems)
    return PushBatch(tuple(parsed))


# ------------------------------------------------------------------ one record


def _parse_record(index: int, record: Any) -> tuple[PushRecord | None, list[str]]:
    here = f"records[{index}]"
    if not isinstance(record, Mapping):
        return None, [f"{here}: must be an object with a type"]
    kind = record.get("type")
    if not isinstance(kind, str) or kind not in RECORD_FIELDS:
        return None, [f"{here}: type must be 'order', 'product' or 'stock', not {kind!r}"]
    label = _label(index, kind, record)
    required, optional = RECORD_FIELDS[kind]
    problems = [f"{label}: {name!r} is a required field" for name in sorted(required - set(record))]
    problems += [
        f"{label}: unknown field {name!r}" for name in sorted(set(record) - required - optional)
    ]
    if "updated_at" in record:
        problems += _check_updated_at(label, record["updated_at"])
    if problems:
        return None, problems
    if kind == ORDER:
        return _order(index, label, record)
    if kind == PRODUCT:
        return _product(index, label, record)
    return _stock(index, label, record)


def _label(index: int, kind: str, record: Mapping[str, Any]) -> str:
    key: Any = None
    if kind == ORDER and isinstance(record.get("order"), Mapping):
        key = record["order"].get("number")
    elif kind == PRODUCT and isinstance(record.get("product"), Mapping):
        key = record["product"].get("sku")
    elif kind == STOCK:
        key = record.get("sku")
        location = record.get("location")
        if isinstance(key, str) and isinstance(location, str) and location.isprintable():
            key = f"{key} at {location[:40]}"
    # Only what reads as a name: the value itself, if wrong, is quoted by its problem.
    readable = isinstance(key, str) and key.isprintable() and 0 < len(key) <= 80
    shown = f" {key}" if readable else ""
    return f"records[{index}] ({kind}{shown})"


def _check_updated_at(label: str, value: Any) -> list[str]:
    problem = f"{label}: updated_at must be an ISO 8601 date-time with an offset, not {value!r:.60}"
    if not isinstance(value, str) or "T" not in value.upper():
        return [problem]
    try:
        parse_timestamp(value)
    except ValueError:
        return [problem]
    return []


def _order(
    index: int, label: str, record: Mapping[str, Any]
) -> tuple[PushRecord | None, list[str]]:
    order, customer, products = record["order"], record["customer"], record.get("products", [])
    if not isinstance(products, list):
        return None, [f"{label}: products must be an array of product records"]
    not_records = [i for i, product in enumerate(products) if not isinstance(product, Mapping)]
    if not_records:
        return None, [f"{label}: products[{i}]: must be a product record" for i in not_records]
    problems, placeholders = _check_lines(label, order, products)
    email = customer.get("email") if isinstance(customer, Mapping) else None
    ordered_by = order.get("customer") if isinstance(order, Mapping) else None
    if _differ(email, ordered_by):
        problems.append(f"{label}: order.customer {ordered_by!r} is not customer.email {email!r}")
    # The export rules, on the record as a one-order export document.
    document = _document(customers=[customer], products=[*products, *placeholders], orders=[order])
    in_order = record_label(document, ["orders", 0])
    rename = {
        in_order: f"{label}: order",
        record_label(document, ["customers", 0]): f"{label}: customer",
        **{
            record_label(document, ["products", i]): f"{label}: products[{i}]"
            for i in range(len(products))
        },
    }
    placeholder_labels = [
        record_label(document, ["products", len(products) + i]) for i in range(len(placeholders))
    ]
    # Said above in the push's terms: the order's customer is the record beside it.
    unwanted = f"{in_order}: customer {ordered_by!r} is not in customers"
    found = [
        problem
        for problem in _export_problems(document, in_order)
        if problem != unwanted
        # A placeholder is made from a line; the line's own problem is reported.
        and not any(problem.startswith(f"{prefix}: ") for prefix in placeholder_labels)
    ]
    problems += _relabelled(found, rename, label)
    if problems:
        return None, problems
    order_record = OrderRecord(
        index=index,
        updated_at=record["updated_at"],
        order=dict(order),
        customer=dict(customer),
        products=tuple(dict(product) for product in products),
    )
    return order_record, []


def _check_lines(
    label: str, order: Any, products: list[Mapping[str, Any]]
) -> tuple[list[str], list[JsonObject]]:
    """Problems between the lines and the record's products, and the placeholder products
    PlatformSync makes for the lines' other SKUs (for validating the document)."""
    problems: list[str] = []
    lines = order.get("lines") if isinstance(order, Mapping) else None
    by_sku = {
        line["sku"]: line
        for line in (lines if isinstance(lines, list) else [])
        if isinstance(line, Mapping) and isinstance(line.get("sku"), str)
    }
    for i, product in enumerate(products):
        if isinstance(product.get("sku"), str) and product["sku"] not in by_sku:
            problems.append(f"{label}: products[{i}]: sku {product['sku']!r} is on no line")
    given = {product["sku"] for product in products if isinstance(product.get("sku"), str)}
    placeholders = []
    for sku, line in by_sku.items():
        if sku in given:
            continue
        # Until a product record arrives, the line's SKU is stored under the line's name.
        if not isinstance(line.get("name"), str):
            problems.append(
                f"{label}: order: line with sku {sku!r} needs a name, or a product record "
                "for that sku in products"
            )
        placeholders.append(_placeholder(sku, line))
    return problems, placeholders


def _differ(email: Any, other: Any) -> bool:
    """Two e-mail addresses that are not the same (case aside); False unless both are text."""
    return isinstance(email, str) and isinstance(other, str) and email.lower() != other.lower()


def _placeholder(sku: str, line: Mapping[str, Any]) -> JsonObject:
    """What PlatformSync stores for a line's SKU it has no product for (only for validation:
    the sync makes its own from the same line)."""
    price = line.get("unit_price")
    return {
        "sku": sku,
        "name": line["name"] if isinstance(line.get("name"), str) else sku,
        "category": "uncategorised",
        "price": price if isinstance(price, str) else "0.00",
        "stock": 0,
    }


def _product(
    index: int, label: str, record: Mapping[str, Any]
) -> tuple[PushRecord | None, list[str]]:
    product = record["product"]
    document = _document(products=[product])
    rename = {record_label(document, ["products", 0]): f"{label}: product"}
    problems = _relabelled(_export_problems(document, label), rename, label)
    if problems:
        return None, problems
    return ProductRecord(index=index, updated_at=record["updated_at"], product=dict(product)), []


def _stock(
    index: int, label: str, record: Mapping[str, Any]
) -> tuple[PushRecord | None, list[str]]:
    sku, location, available = record["sku"], record["location"], record["available"]
    problems = []
    if not isinstance(sku, str) or not _sku_pattern().fullmatch(sku):
        problems.append(f"{label}: sku {sku!r:.80} is not a SKU (letters, digits, '.', '_', '-')")
    if not isinstance(location, str) or not LOCATION.fullmatch(location):
        problems.append(f"{label}: location must be 1-255 characters of text, not {location!r:.80}")
    if type(available) is not int or abs(available) > MAX_AVAILABLE:
        problems.append(
            f"{label}: available must be a whole number of units, not {available!r:.40}"
        )
    if problems:
        return None, problems
    return StockRecord(index, record["updated_at"], sku, location, available), []


def _export_problems(document: JsonObject, where: str) -> list[str]:
    """validate_export's problems. Its rules assume the values the schema pass accepts in a few
    places (an event status used as a key), so a wrong type there raises instead of being
    listed; the schema problems of the same document are then lost with it, hence the one
    problem in their place. (Reported for bot/store/export_validation.py.)"""
    try:
        return validate_export(document)
    except TypeError as error:
        return [f"{where}: a value has a type the store export does not allow ({error})"]


def _relabelled(problems: list[str], rename: Mapping[str, str], label: str) -> list[str]:
    """Problems with the export document's record labels replaced by the push's."""
    relabelled = []
    for problem in problems:
        for prefix, replacement in rename.items():
            if problem.startswith(f"{prefix}: "):
                relabelled.append(replacement + problem[len(prefix) :])
                break
        else:
            relabelled.append(f"{label}: {problem}")
    return relabelled


def _document(
    *, customers: list[Any] | None = None, products: list[Any], orders: list[Any] | None = None
) -> JsonObject:
    return {
        "format_version": 1,
        "reference_date": _REFERENCE_DATE,
        "customers": customers or [],
        "products": products,
        "orders": orders or [],
    }


@cache
def _sku_pattern() -> re.Pattern[str]:
    return re.compile(export_schema()["definitions"]["sku"]["pattern"])


# ------------------------------------------------------------------ across records


def _duplicates(records: list[PushRecord]) -> Iterator[str]:
    """Keys a body may hold once: one record per order, product and stock level (the latest
    state, once), and the nested keys the store keeps unique in the whole shop (an RMA number or
    a refund reference on two orders could never be stored; a tracking number may be shared by
    orders shipped in one box)."""
    checks: list[tuple[str, Callable[[PushRecord], list[str]]]] = [
        ("order", lambda r: [r.number] if isinstance(r, OrderRecord) else []),
        ("product", lambda r: [r.sku] if isinstance(r, ProductRecord) else []),
        (
            "stock level",
            lambda r: [f"{r.sku} at {r.location}"] if isinstance(r, StockRecord) else [],
        ),
        ("RMA number", lambda r: _nested(r, "returns", "rma_number")),
        ("refund reference", lambda r: _nested(r, "refunds", "reference")),
    ]
    for what, keys in checks:
        seen: dict[str, int] = {}
        for record in records:
            for key in keys(record):
                if key in seen and seen[key] != record.index:
                    yield (
                        f"records[{record.index}]: {what} {key!r} is also in "
                        f"records[{seen[key]}]; push each once, in its latest state"
                    )
                seen.setdefault(key, record.index)


def _nested(record: PushRecord, collection: str, key: str) -> list[str]:
    if not isinstance(record, OrderRecord):
        return []
    return [item[key] for item in record.order.get(collection, []) if isinstance(item, Mapping)]
