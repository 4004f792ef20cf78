"""Order verification attempts: every checked (or refused) contact, so failed attempts are
limited per order, source and contact across conversations, channels, processes and restarts
(bot/store/verification_models.py, docs/self-service.md "What counts as proof").

Written by hand, like 0001 and 0003: vocabularies are copied, not imported.

Revision ID: 0004_verification_attempts
Revises: 0003_handoff
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_verification_attempts"
down_revision = "0003_handoff"
branch_labels = None
depends_on = None

OUTCOMES = ("pending", "failed", "verified", "refused")


def upgrade() -> None:
    allowed = ", ".join(f"'{value}'" for value in OUTCOMES)
    op.create_table(
        "verification_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_number", sa.String(32), nullable=False),
        sa.Column("source", sa.String(300), nullable=True),
        sa.Column("contact_digest", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("locked_by", sa.String(16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_attempts")),
        sa.CheckConstraint(
            f"outcome IN ({allowed})", name=op.f("ck_verification_attempts_outcome")
        ),
    )
    op.create_index(
        "ix_verification_attempts_order_number_created_at",
        "verification_attempts",
        ["order_number", "created_at"],
    )
    op.create_index(
        "ix_verification_attempts_source_created_at",
        "verification_attempts",
        ["source", "created_at"],
    )
    op.create_index(
        "ix_verification_attempts_contact_digest_created_at",
        "verification_attempts",
        ["contact_digest", "created_at"],
    )
    op.create_index(
        op.f("ix_verification_attempts_created_at"), "verification_attempts", ["created_at"]
    )


def downgrade() -> None:
    op.drop_table("verification_attempts")
