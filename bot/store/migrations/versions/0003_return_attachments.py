"""Photos and files shoppers send with a return request (bot/store/return_attachments.py).

Revision ID: 0003_return_attachments
Revises: 0002_channels
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_return_attachments"
down_revision = "0002_channels"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "return_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("return_request_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(1000), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["return_request_id"],
            ["return_requests.id"],
            name=op.f("fk_return_attachments_return_request_id_return_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_return_attachments")),
        sa.UniqueConstraint(
            "return_request_id", "url", name=op.f("uq_return_attachments_return_request_id_url")
        ),
    )
    op.create_index(
        op.f("ix_return_attachments_return_request_id"),
        "return_attachments",
        ["return_request_id"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_return_attachments_return_request_id"), "return_attachments")
    op.drop_table("return_attachments")
