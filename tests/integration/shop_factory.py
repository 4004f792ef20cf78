"""Test orders created on the fly in the running stack's store, so tests that change orders
(cancel, returns...) never disturb the demo orders other tests read."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.store.database import Database
from bot.store.seed import load_export

DEMO = json.loads(
    (Path(__file__).resolve().parents[2] / "bot" / "store" / "demo_store.json").read_text()
)
PRODUCTS = {p["sku"]: p for p in DEMO["products"]}
_numbers = itertools.count(int(datetime.now(UTC).strftime("%H%M%S")) * 100 + 70000000)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_order(
    database_url: str,
    *,
    skus: list[str],
    status: str = "paid",
    paid_hours_ago: float | None = 1,
    delivered_days_ago: int | None = None,
    vip: bool = False,
) -> dict[str, Any]:
    """Create a customer and one order; returns {"number", "email", "phone"}."""
    number = str(next(_numbers))
    email = f"shopper{number}@example.com"
    phone = f"+1628{number[-7:]}"
    now = datetime.now(UTC)
    lines = [{"sku": sku, "quantity": 1, "unit_price": PRODUCTS[sku]["price"]} for sku in skus]
    subtotal = sum(Decimal(line["unit_price"]) for line in lines)
    order: dict[str, Any] = {
        "number": number, "customer": email, "status": status,
        "fulfilment_status": "unfulfilled", "currency": "USD",
        "subtotal": f"{subtotal:.2f}", "shipping_total": "5.95", "tax_total": "0.00",
        "total": f"{subtotal + Decimal('5.95'):.2f}", "payment_method": "Visa ending 4242",
        "placed_at": iso(now - timedelta(hours=(paid_hours_ago or 1) + 0.1)),
        "paid_at": iso(now - timedelta(hours=paid_hours_ago)) if paid_hours_ago else None,
        "shipping_address": {
            "name": "Test Shopper", "line1": "1 Market St", "line2": None,
            "city": "San Francisco", "region": "CA", "postal_code": "94105", "country": "US",
        },
        "lines": lines,
        "shipments": [],
    }  # fmt: skip
    if delivered_days_ago is not None:
        delivered = now - timedelta(days=delivered_days_ago)
        order["placed_at"] = order["paid_at"] = iso(delivered - timedelta(days=4))
        order.update(status="delivered", fulfilment_status="fulfilled")
        order["shipments"] = [{
            "carrier": "UPS", "service": "UPS Ground", "tracking_number": f"1ZTEST{number}",
            "tracking_url": f"https://www.ups.com/track?tracknum=1ZTEST{number}",
            "status": "delivered", "shipped_at": iso(delivered - timedelta(days=3)),
            "estimated_delivery": (delivered - timedelta(days=1)).date().isoformat(),
            "delivered_at": iso(delivered), "events": [],
        }]  # fmt: skip
    export = {
        "format_version": DEMO["format_version"],
        "reference_date": now.date().isoformat(),
        "customers": [{
            "email": email, "phone": phone, "first_name": "Test", "last_name": "Shopper",
            "is_vip": vip, "lifetime_value": "100.00", "created_at": iso(now - timedelta(days=90)),
        }],
        "products": [PRODUCTS[sku] for sku in dict.fromkeys(skus)],
        "orders": [order],
    }  # fmt: skip
    database = Database(database_url)
    try:
        load_export(export, database)
    finally:
        database.dispose()
    return {"number": number, "email": email, "phone": phone}
