"""A tracking number is unique per order, not in the whole shop: a merchant who ships two orders
in one box gives both the carrier's one tracking number, and the loader used to move the parcel
from the first order to the second.

Revision ID: 0009_shipments_per_order
Revises: 0008_platform_sync
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0009_shipments_per_order"
down_revision = "0008_platform_sync"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch: SQLite rebuilds the table to change a constraint.
    with op.batch_alter_table("shipments") as batch:
        batch.drop_constraint("uq_shipments_tracking_number", type_="unique")
        batch.create_unique_constraint(
            "uq_shipments_order_id_tracking_number", ["order_id", "tracking_number"]
        )


def downgrade() -> None:
    # Fails, as it should, while two orders share a tracking number.
    with op.batch_alter_table("shipments") as batch:
        batch.drop_constraint("uq_shipments_order_id_tracking_number", type_="unique")
        batch.create_unique_constraint("uq_shipments_tracking_number", ["tracking_number"])
