"""Initial store schema: customers, channel identities, products, orders and their lines,
shipments and tracking events, returns and refunds.

Written by hand. Status columns are VARCHAR(32) with CHECK constraints listing the values of
bot.store.vocabulary as they were at this revision (copied, not imported: a migration must keep
meaning what it meant when it ran). tests/store checks this file against the models.

Revision ID: 0001
Revises:
Create Date: 2026-11-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ORDER_STATUSES = (
    "processing", "paid", "partially_shipped", "shipped", "out_for_delivery", "delivered",
    "cancelled", "returned", "refunded",
)
FULFILMENT_STATUSES = ("unfulfilled", "partially_fulfilled", "fulfilled")
SHIPMENT_STATUSES = (
    "label_created", "in_transit", "out_for_delivery", "delivered", "delayed", "exception",
    "lost",
)
RETURN_STATUSES = ("requested", "approved", "rejected", "received", "completed")
RETURN_REASONS = (
    "too_small", "too_large", "damaged", "defective", "wrong_item", "not_as_described",
    "changed_mind", "other",
)
ITEM_CONDITIONS = ("unopened", "unused", "used", "damaged")
REFUND_STATUSES = ("pending", "processing", "completed", "failed")
REFUND_METHODS = ("original_payment", "store_credit")


def one_of(table: str, column: str, values: tuple[str, ...]) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{value}'" for value in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=op.f(f"ck_{table}_{column}"))


def utc_datetime() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def money() -> sa.Numeric:
    return sa.Numeric(12, 2)


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("phone", sa.String(16), nullable=True),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("is_vip", sa.Boolean(), nullable=False),
        sa.Column("lifetime_value", money(), nullable=False),
        sa.Column("created_at", utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("email", name=op.f("uq_customers_email")),
        sa.UniqueConstraint("phone", name=op.f("uq_customers_phone")),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_customers_email_lower_case")),
        sa.CheckConstraint(
            "lifetime_value >= 0", name=op.f("ck_customers_lifetime_value_not_negative")
        ),
    )

    op.create_table(
        "channel_identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("linked_at", utc_datetime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_identities")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"],
            name=op.f("fk_channel_identities_customer_id_customers"), ondelete="SET NULL",
        ),
        sa.UniqueConstraint(
            "channel", "external_id", name=op.f("uq_channel_identities_channel_external_id")
        ),
    )
    op.create_index(
        op.f("ix_channel_identities_customer_id"), "channel_identities", ["customer_id"]
    )

    op.create_table(
        "products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("price", money(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("returnable", sa.Boolean(), nullable=False),
        sa.Column("final_sale", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("sku", name=op.f("uq_products_sku")),
        sa.CheckConstraint("stock >= 0", name=op.f("ck_products_stock_not_negative")),
        sa.CheckConstraint("price >= 0", name=op.f("ck_products_price_not_negative")),
    )

    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("fulfilment_status", sa.String(32), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("subtotal", money(), nullable=False),
        sa.Column("shipping_total", money(), nullable=False),
        sa.Column("tax_total", money(), nullable=False),
        sa.Column("total", money(), nullable=False),
        sa.Column("payment_method", sa.String(64), nullable=False),
        sa.Column("placed_at", utc_datetime(), nullable=False),
        sa.Column("paid_at", utc_datetime(), nullable=True),
        sa.Column("cancelled_at", utc_datetime(), nullable=True),
        sa.Column("shipping_name", sa.String(200), nullable=False),
        sa.Column("shipping_line1", sa.String(200), nullable=False),
        sa.Column("shipping_line2", sa.String(200), nullable=True),
        sa.Column("shipping_city", sa.String(100), nullable=False),
        sa.Column("shipping_region", sa.String(100), nullable=True),
        sa.Column("shipping_postal_code", sa.String(20), nullable=False),
        sa.Column("shipping_country", sa.String(2), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_orders_customer_id_customers")
        ),
        sa.UniqueConstraint("number", name=op.f("uq_orders_number")),
        one_of("orders", "status", ORDER_STATUSES),
        one_of("orders", "fulfilment_status", FULFILMENT_STATUSES),
        sa.CheckConstraint("total >= 0", name=op.f("ck_orders_total_not_negative")),
        sa.CheckConstraint("length(currency) = 3", name=op.f("ck_orders_currency_iso_code")),
    )
    op.create_index(op.f("ix_orders_customer_id"), "orders", ["customer_id"])

    op.create_table(
        "order_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", money(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_lines")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_lines_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_order_lines_product_id_products")
        ),
        sa.UniqueConstraint("order_id", "sku", name=op.f("uq_order_lines_order_id_sku")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_order_lines_quantity_positive")),
    )
    op.create_index(op.f("ix_order_lines_product_id"), "order_lines", ["product_id"])

    op.create_table(
        "shipments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("carrier", sa.String(32), nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("tracking_number", sa.String(64), nullable=False),
        sa.Column("tracking_url", sa.String(500), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("shipped_at", utc_datetime(), nullable=True),
        sa.Column("estimated_delivery", sa.Date(), nullable=True),
        sa.Column("delivered_at", utc_datetime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipments")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_shipments_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("tracking_number", name=op.f("uq_shipments_tracking_number")),
        one_of("shipments", "status", SHIPMENT_STATUSES),
    )
    op.create_index(op.f("ix_shipments_order_id"), "shipments", ["order_id"])

    op.create_table(
        "tracking_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", utc_datetime(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("location", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_events")),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipments.id"],
            name=op.f("fk_tracking_events_shipment_id_shipments"), ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "shipment_id", "occurred_at", "status",
            name=op.f("uq_tracking_events_shipment_id_occurred_at_status"),
        ),
        one_of("tracking_events", "status", SHIPMENT_STATUSES),
    )

    op.create_table(
        "return_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rma_number", sa.String(32), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("condition", sa.String(32), nullable=False),
        sa.Column("created_at", utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_return_requests")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_return_requests_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("rma_number", name=op.f("uq_return_requests_rma_number")),
        one_of("return_requests", "status", RETURN_STATUSES),
        one_of("return_requests", "reason", RETURN_REASONS),
        one_of("return_requests", "condition", ITEM_CONDITIONS),
    )
    op.create_index(op.f("ix_return_requests_order_id"), "return_requests", ["order_id"])

    op.create_table(
        "return_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("return_request_id", sa.Integer(), nullable=False),
        sa.Column("order_line_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_return_lines")),
        sa.ForeignKeyConstraint(
            ["return_request_id"], ["return_requests.id"],
            name=op.f("fk_return_lines_return_request_id_return_requests"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_line_id"], ["order_lines.id"],
            name=op.f("fk_return_lines_order_line_id_order_lines"), ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "return_request_id", "order_line_id",
            name=op.f("uq_return_lines_return_request_id_order_line_id"),
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_return_lines_quantity_positive")),
    )
    op.create_index(op.f("ix_return_lines_order_line_id"), "return_lines", ["order_line_id"])

    op.create_table(
        "refunds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("return_request_id", sa.Integer(), nullable=True),
        sa.Column("amount", money(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("requested_at", utc_datetime(), nullable=False),
        sa.Column("completed_at", utc_datetime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_refunds_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["return_request_id"], ["return_requests.id"],
            name=op.f("fk_refunds_return_request_id_return_requests"), ondelete="SET NULL",
        ),
        sa.UniqueConstraint("reference", name=op.f("uq_refunds_reference")),
        one_of("refunds", "method", REFUND_METHODS),
        one_of("refunds", "status", REFUND_STATUSES),
        sa.CheckConstraint("amount > 0", name=op.f("ck_refunds_amount_positive")),
        sa.CheckConstraint("length(currency) = 3", name=op.f("ck_refunds_currency_iso_code")),
    )
    op.create_index(op.f("ix_refunds_order_id"), "refunds", ["order_id"])
    op.create_index(op.f("ix_refunds_return_request_id"), "refunds", ["return_request_id"])


def downgrade() -> None:
    for table in (
        "refunds", "return_lines", "return_requests", "tracking_events", "shipments",
        "order_lines", "orders", "products", "channel_identities", "customers",
    ):
        op.drop_table(table)
