"""Outbound messages: the provider's id is unique per recipient, who caused a send, and the
`unknown` outcome (bot/store/channel_models.py, docs/channels.md "Reliability").

* `channel_outbound`'s unique key becomes (channel, external_id, provider_message_id):
  Telegram numbers messages per chat, so two chats' replies had the same id and the second
  insert failed. Twilio SIDs and Graph mids are global, so for them nothing changes.
* `channel_outbound.origin` (nullable, indexed): who caused a send that is not the shopper's
  own turn, e.g. "handoff:<delivery id>".
* `channel_outbound.status` may be `unknown`: the provider stalled past the client timeout
  and cannot be asked whether it carried the request out; not repeated.

Written by hand, like 0001: status vocabularies are copied, not imported. SQLite rebuilds the
table (batch mode); PostgreSQL alters it in place.

Revision ID: 0005_outbound_keys
Revises: 0004_verification_attempts
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.sql.elements import conv

revision = "0005_outbound_keys"
down_revision = "0004_verification_attempts"
branch_labels = None
depends_on = None

OLD_STATUSES = ("pending", "sent", "failed", "blocked")
NEW_STATUSES = (*OLD_STATUSES, "unknown")
# conv(): final names (as op.f), not run through the naming convention again.
OLD_UNIQUE = conv("uq_channel_outbound_channel_provider_message_id")
NEW_UNIQUE = conv("uq_channel_outbound_channel_external_id_provider_message_id")
STATUS_CHECK = conv("ck_channel_outbound_status")
ORIGIN_INDEX = conv("ix_channel_outbound_origin")


def one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def upgrade() -> None:
    with op.batch_alter_table("channel_outbound") as batch:
        batch.drop_constraint(OLD_UNIQUE, type_="unique")
        batch.create_unique_constraint(
            NEW_UNIQUE, ["channel", "external_id", "provider_message_id"]
        )
        batch.drop_constraint(STATUS_CHECK, type_="check")
        batch.create_check_constraint(STATUS_CHECK, one_of("status", NEW_STATUSES))
        batch.add_column(sa.Column("origin", sa.String(64), nullable=True))
        batch.create_index(ORIGIN_INDEX, ["origin"])


def downgrade() -> None:
    # The old vocabulary has no `unknown`: such a send may have gone out, but was not confirmed.
    op.execute("UPDATE channel_outbound SET status = 'failed' WHERE status = 'unknown'")
    # The old key cannot hold two chats' Telegram messages with the same number: all but the
    # first keep their row but lose the provider id (status reports do not exist on Telegram).
    op.execute(
        "UPDATE channel_outbound SET provider_message_id = NULL "
        "WHERE provider_message_id IS NOT NULL AND id NOT IN ("
        " SELECT first_id FROM (SELECT MIN(id) AS first_id FROM channel_outbound"
        " WHERE provider_message_id IS NOT NULL GROUP BY channel, provider_message_id) AS firsts)"
    )
    with op.batch_alter_table("channel_outbound") as batch:
        batch.drop_index(ORIGIN_INDEX)
        batch.drop_column("origin")
        batch.drop_constraint(STATUS_CHECK, type_="check")
        batch.create_check_constraint(STATUS_CHECK, one_of("status", OLD_STATUSES))
        batch.drop_constraint(NEW_UNIQUE, type_="unique")
        batch.create_unique_constraint(OLD_UNIQUE, ["channel", "provider_message_id"])
