"""Human handoff: tickets, their message log, the delivery queue (outbox) and event-source
cursors (bot/store/handoff_models.py, docs/handoff.md).

Written by hand, like 0001: status vocabularies are copied, not imported.

Revision ID: 0003_handoff
Revises: 0003_return_attachments (temporarily; intended: 0002_channels, see below)
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_handoff"
# Intended parent: "0002_channels". The returns work added 0003_return_attachments on the same
# parent meanwhile; two heads break `migrate("head")` for everyone, so this chains after it
# until the maintainer orders the chain.
down_revision = "0003_return_attachments"
branch_labels = None
depends_on = None

TICKET_STATUSES = ("open", "claimed", "resolved", "handed_back")
PRIORITIES = ("P1", "P2", "P3")
DIRECTIONS = ("shopper", "bot", "agent", "note", "system")
DESTINATIONS = ("slack", "shopper")
DELIVERY_STATUSES = ("pending", "delivered", "failed")


def one_of(table: str, column: str, values: tuple[str, ...]) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{value}'" for value in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=op.f(f"ck_{table}_{column}"))


def utc_datetime() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "handoff_tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("priority", sa.String(32), nullable=False),
        sa.Column("route", sa.String(32), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("agent_id", sa.String(64), nullable=True),
        sa.Column("agent_name", sa.String(100), nullable=True),
        sa.Column("slack_channel", sa.String(32), nullable=True),
        sa.Column("slack_ts", sa.String(32), nullable=True),
        sa.Column("transcript_until", sa.Float(), nullable=False),
        sa.Column("created_at", utc_datetime(), nullable=False),
        sa.Column("opened_at", utc_datetime(), nullable=False),
        sa.Column("claimed_at", utc_datetime(), nullable=True),
        sa.Column("closed_at", utc_datetime(), nullable=True),
        sa.Column("resumed_at", utc_datetime(), nullable=True),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("sla_alerts", sa.Integer(), nullable=False),
        sa.Column("sla_alerted_at", utc_datetime(), nullable=True),
        sa.Column("csat_score", sa.Integer(), nullable=True),
        sa.Column("csat_at", utc_datetime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_tickets")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"],
            name=op.f("fk_handoff_tickets_customer_id_customers"), ondelete="SET NULL",
        ),
        sa.UniqueConstraint("conversation_id", name=op.f("uq_handoff_tickets_conversation_id")),
        one_of("handoff_tickets", "status", TICKET_STATUSES),
        one_of("handoff_tickets", "priority", PRIORITIES),
        sa.CheckConstraint(
            "csat_score BETWEEN 1 AND 5", name=op.f("ck_handoff_tickets_csat_score_range")
        ),
    )
    op.create_index(
        op.f("ix_handoff_tickets_customer_id"), "handoff_tickets", ["customer_id"]
    )
    op.create_index(
        "ix_handoff_tickets_status_priority", "handoff_tickets", ["status", "priority"]
    )

    op.create_table(
        "handoff_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(32), nullable=False),
        sa.Column("author", sa.String(100), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", utc_datetime(), nullable=False),
        sa.Column("dedupe_key", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_messages")),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["handoff_tickets.id"],
            name=op.f("fk_handoff_messages_ticket_id_handoff_tickets"), ondelete="CASCADE",
        ),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_handoff_messages_dedupe_key")),
        one_of("handoff_messages", "direction", DIRECTIONS),
    )
    op.create_index(op.f("ix_handoff_messages_ticket_id"), "handoff_messages", ["ticket_id"])

    op.create_table(
        "handoff_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("destination", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", utc_datetime(), nullable=False),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("created_at", utc_datetime(), nullable=False),
        sa.Column("delivered_at", utc_datetime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_outbox")),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["handoff_tickets.id"],
            name=op.f("fk_handoff_outbox_ticket_id_handoff_tickets"), ondelete="CASCADE",
        ),
        one_of("handoff_outbox", "destination", DESTINATIONS),
        one_of("handoff_outbox", "status", DELIVERY_STATUSES),
    )
    op.create_index(op.f("ix_handoff_outbox_ticket_id"), "handoff_outbox", ["ticket_id"])
    op.create_index(
        "ix_handoff_outbox_destination_status", "handoff_outbox", ["destination", "status"]
    )

    op.create_table(
        "handoff_cursors",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_handoff_cursors")),
    )


def downgrade() -> None:
    for table in ("handoff_cursors", "handoff_outbox", "handoff_messages", "handoff_tickets"):
        op.drop_table(table)
