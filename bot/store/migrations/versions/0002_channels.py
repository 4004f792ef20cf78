"""Messaging channels: inbound deliveries (deduplicated), outbound sends and per-conversation
state of the WhatsApp, Messenger and Telegram connectors (bot/store/channel_models.py).

Written by hand, like 0001: status vocabularies are copied, not imported.

Revision ID: 0002_channels
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_channels"
down_revision = "0001"
branch_labels = None
depends_on = None

INBOUND_STATUSES = ("received", "processing", "processed", "failed", "ignored")
OUTBOUND_STATUSES = ("pending", "sent", "failed", "blocked")


def one_of(table: str, column: str, values: tuple[str, ...]) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{value}'" for value in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=op.f(f"ck_{table}_{column}"))


def utc_datetime() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "channel_inbound",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("provider_message_id", sa.String(255), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("message", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("received_at", utc_datetime(), nullable=False),
        sa.Column("finished_at", utc_datetime(), nullable=True),
        sa.Column("error", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_inbound")),
        # The deduplication guarantee: a redelivered or concurrent duplicate cannot insert.
        sa.UniqueConstraint(
            "channel", "provider_message_id",
            name=op.f("uq_channel_inbound_channel_provider_message_id"),
        ),
        one_of("channel_inbound", "status", INBOUND_STATUSES),
    )
    op.create_index("ix_channel_inbound_status", "channel_inbound", ["status"])

    op.create_table(
        "channel_outbound",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("inbound_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("provider_message_id", sa.String(255), nullable=True),
        sa.Column("created_at", utc_datetime(), nullable=False),
        sa.Column("sent_at", utc_datetime(), nullable=True),
        sa.Column("delivery_status", sa.String(32), nullable=True),
        sa.Column("delivery_status_at", utc_datetime(), nullable=True),
        sa.Column("delivery_error_code", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_outbound")),
        sa.ForeignKeyConstraint(
            ["inbound_id"], ["channel_inbound.id"],
            name=op.f("fk_channel_outbound_inbound_id_channel_inbound"), ondelete="SET NULL",
        ),
        sa.UniqueConstraint(
            "channel", "provider_message_id",
            name=op.f("uq_channel_outbound_channel_provider_message_id"),
        ),
        one_of("channel_outbound", "status", OUTBOUND_STATUSES),
    )
    op.create_index(
        "ix_channel_outbound_channel_external_id", "channel_outbound", ["channel", "external_id"]
    )
    op.create_index(op.f("ix_channel_outbound_inbound_id"), "channel_outbound", ["inbound_id"])

    op.create_table(
        "channel_conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("profile_name", sa.String(200), nullable=True),
        sa.Column("last_inbound_at", utc_datetime(), nullable=True),
        sa.Column("choices", sa.JSON(), nullable=True),
        sa.Column("template_sent_at", utc_datetime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_conversations")),
        sa.UniqueConstraint(
            "channel", "external_id", name=op.f("uq_channel_conversations_channel_external_id")
        ),
    )


def downgrade() -> None:
    for table in ("channel_outbound", "channel_inbound", "channel_conversations"):
        op.drop_table(table)
