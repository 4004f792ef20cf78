"""The store platforms' webhook inbox: `platform_webhooks`, every verified webhook (Shopify
first) as signed, deduplicated by webhook id and by body, with its processing state
(bot/store/platform_models.py, bot/store/platform_inbox.py, docs/shopify.md).

Written by hand, like 0002: the status vocabulary is copied, not imported.

Revision ID: 0007_platform_webhooks
Revises: 0006_handoff_delivery_state
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_platform_webhooks"
down_revision = "0006_handoff_delivery_state"
branch_labels = None
depends_on = None

STATUSES = ("pending", "processing", "done", "failed")


def utc_datetime() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    allowed = ", ".join(f"'{value}'" for value in STATUSES)
    op.create_table(
        "platform_webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("webhook_id", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("shop_domain", sa.String(255), nullable=False),
        sa.Column("api_version", sa.String(32), nullable=False),
        sa.Column("triggered_at", utc_datetime(), nullable=True),
        sa.Column("event_id", sa.String(255), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("received_at", utc_datetime(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("claimed_at", utc_datetime(), nullable=True),
        sa.Column("next_attempt_at", utc_datetime(), nullable=True),
        sa.Column("processed_at", utc_datetime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_webhooks")),
        # The deduplication guarantees: a redelivery (same webhook id) and a replay of a
        # captured body under another id cannot insert a second row.
        sa.UniqueConstraint(
            "platform", "webhook_id", name=op.f("uq_platform_webhooks_platform_webhook_id")
        ),
        sa.UniqueConstraint(
            "platform", "body_sha256", name=op.f("uq_platform_webhooks_platform_body_sha256")
        ),
        sa.CheckConstraint(f"status IN ({allowed})", name=op.f("ck_platform_webhooks_status")),
    )
    op.create_index(
        "ix_platform_webhooks_platform_status", "platform_webhooks", ["platform", "status"]
    )


def downgrade() -> None:
    op.drop_index("ix_platform_webhooks_platform_status", table_name="platform_webhooks")
    op.drop_table("platform_webhooks")
