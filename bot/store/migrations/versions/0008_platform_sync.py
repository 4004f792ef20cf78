"""Synced store-platform data: `platform_records` (the id map, and the version of each record the
store holds), `platform_stock_levels` (stock per inventory item and location),
`platform_sync_state` (the reconciliation mark), `platform_commands` (writes made on the
platform, once each) and `order_events` (what happened to orders, for proactive messages and
reports). Models: bot/store/platform_models.py.

Written by hand, like 0007: the status vocabulary is copied, not imported.

Revision ID: 0008_platform_sync
Revises: 0007_platform_webhooks
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_platform_sync"
down_revision = "0007_platform_webhooks"
branch_labels = None
depends_on = None

COMMAND_STATUSES = ("pending", "done", "refused", "unknown")


def utc_datetime() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "platform_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("resource", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("local_key", sa.String(255), nullable=False),
        sa.Column("graphql_id", sa.String(255), nullable=True),
        sa.Column("updated_at", utc_datetime(), nullable=True),
        sa.Column("triggered_at", utc_datetime(), nullable=True),
        sa.Column("event_id", sa.String(255), nullable=True),
        sa.Column("fingerprint", sa.String(64), nullable=True),
        sa.Column("synced_at", utc_datetime(), nullable=False),
        sa.Column("needs_refresh", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_records")),
        sa.UniqueConstraint(
            "platform",
            "resource",
            "external_id",
            name=op.f("uq_platform_records_platform_resource_external_id"),
        ),
    )
    op.create_index(
        "ix_platform_records_local_key",
        "platform_records",
        ["platform", "resource", "local_key"],
    )
    op.create_table(
        "platform_stock_levels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("inventory_item_id", sa.String(255), nullable=False),
        sa.Column("location_id", sa.String(255), nullable=False),
        sa.Column("available", sa.Integer(), nullable=False),
        sa.Column("updated_at", utc_datetime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_stock_levels")),
        sa.UniqueConstraint(
            "platform",
            "inventory_item_id",
            "location_id",
            name=op.f("uq_platform_stock_levels_platform_inventory_item_id_location_id"),
        ),
    )
    op.create_table(
        "platform_sync_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_sync_state")),
        sa.UniqueConstraint("platform", "name", name=op.f("uq_platform_sync_state_platform_name")),
    )
    allowed = ", ".join(f"'{value}'" for value in COMMAND_STATUSES)
    op.create_table(
        "platform_commands",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("order_number", sa.String(20), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("created_at", utc_datetime(), nullable=False),
        sa.Column("updated_at", utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_commands")),
        sa.UniqueConstraint("platform", "key", name=op.f("uq_platform_commands_platform_key")),
        sa.CheckConstraint(f"status IN ({allowed})", name=op.f("ck_platform_commands_status")),
    )
    op.create_index(
        "ix_platform_commands_order_number", "platform_commands", ["order_number"]
    )
    op.create_table(
        "order_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_number", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("before", sa.String(40), nullable=True),
        sa.Column("after", sa.String(40), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("recorded_at", utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_events")),
    )
    op.create_index("ix_order_events_order_number", "order_events", ["order_number"])
    op.create_index("ix_order_events_recorded_at", "order_events", ["recorded_at"])


def downgrade() -> None:
    op.drop_index("ix_order_events_recorded_at", table_name="order_events")
    op.drop_index("ix_order_events_order_number", table_name="order_events")
    op.drop_table("order_events")
    op.drop_index("ix_platform_commands_order_number", table_name="platform_commands")
    op.drop_table("platform_commands")
    op.drop_table("platform_sync_state")
    op.drop_table("platform_stock_levels")
    op.drop_index("ix_platform_records_local_key", table_name="platform_records")
    op.drop_table("platform_records")
