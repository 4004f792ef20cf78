"""The true delivery state of agents' replies: `handoff_outbox.receipt` (what the agent was last
shown: queued, sent, delivered, read, withheld, failed, ...) and `handoff_outbox.follow_at`
(indexed: when the bridge looks at the reply's channel sends again; NULL once final).
bot/store/handoff_models.py, bot/domain/handoff_delivery.py, docs/handoff.md.

Written by hand, like 0003: the vocabulary is copied, not imported. SQLite rebuilds the table
(batch mode); PostgreSQL alters it in place.

Revision ID: 0006_handoff_delivery_state
Revises: 0005_outbound_keys
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.sql.elements import conv

revision = "0006_handoff_delivery_state"
down_revision = "0005_outbound_keys"
branch_labels = None
depends_on = None

RECEIPTS = ("queued", "passed_on", "sending", "sent", "delivered", "read", "withheld", "failed",
            "refused", "unconfirmed", "retried")  # fmt: skip
RECEIPT_CHECK = conv("ck_handoff_outbox_receipt")
FOLLOW_INDEX = conv("ix_handoff_outbox_follow_at")


def upgrade() -> None:
    allowed = ", ".join(f"'{value}'" for value in RECEIPTS)
    with op.batch_alter_table("handoff_outbox") as batch:
        batch.add_column(sa.Column("receipt", sa.String(32), nullable=True))
        batch.add_column(sa.Column("follow_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_check_constraint(RECEIPT_CHECK, f"receipt IN ({allowed})")
        batch.create_index(FOLLOW_INDEX, ["follow_at"])


def downgrade() -> None:
    with op.batch_alter_table("handoff_outbox") as batch:
        batch.drop_index(FOLLOW_INDEX)
        batch.drop_constraint(RECEIPT_CHECK, type_="check")
        batch.drop_column("follow_at")
        batch.drop_column("receipt")
