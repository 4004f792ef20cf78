"""Migration 0005_outbound_keys on SQLite (batch mode) and PostgreSQL, with rows in the table:
existing sends survive, per-chat message numbers stop colliding, `unknown` is allowed, and the
downgrade gives the old schema back without failing on the rows the new key admits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from bot.store.database import Database

BEFORE, AFTER = "0004_verification_attempts", "0005_outbound_keys"
NOW = datetime(2026, 12, 1, 9, tzinfo=UTC).replace(tzinfo=None)


def insert(database: Database, external_id: str, provider_id: str | None, **extra: str) -> None:
    values = {
        "channel": "telegram", "external_id": external_id, "kind": "text", "content": "{}",
        "status": "sent", "attempts": 1, "provider_message_id": provider_id, "created_at": NOW,
        **extra,
    }  # fmt: skip
    columns = ", ".join(values)
    placeholders = ", ".join(f":{name}" for name in values)
    with database.engine.begin() as connection:
        connection.execute(
            text(f"INSERT INTO channel_outbound ({columns}) VALUES ({placeholders})"), values
        )


def rows(database: Database) -> list[tuple[str, str | None, str]]:
    with database.engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                text(
                    "SELECT external_id, provider_message_id, status FROM channel_outbound "
                    "ORDER BY id"
                )
            )
        ]


def test_upgrade_keeps_rows_and_keys_by_recipient(unmigrated_database: Database) -> None:
    database = unmigrated_database
    database.migrate(BEFORE)
    insert(database, "111", "7")
    with pytest.raises(IntegrityError):  # the bug: another chat's message number 7
        insert(database, "222", "7")

    database.migrate(AFTER)

    assert rows(database) == [("111", "7", "sent")]
    insert(database, "222", "7", origin="handoff:42")
    insert(database, "333", "8", status="unknown")
    with pytest.raises(IntegrityError):  # within one chat the number is still unique
        insert(database, "111", "7")
    with pytest.raises(IntegrityError):
        insert(database, "111", "9", status="maybe")
    with database.engine.connect() as connection:
        origins = (
            connection.execute(
                text("SELECT external_id FROM channel_outbound WHERE origin = 'handoff:42'")
            )
            .scalars()
            .all()
        )
    assert origins == ["222"]


def test_downgrade_with_colliding_and_unknown_rows(unmigrated_database: Database) -> None:
    database = unmigrated_database
    database.migrate(AFTER)
    insert(database, "111", "7")
    insert(database, "222", "7")
    insert(database, "333", "8", status="unknown")

    database.downgrade(BEFORE)

    assert rows(database) == [("111", "7", "sent"), ("222", None, "sent"), ("333", "8", "failed")]
    database.migrate(AFTER)
    assert len(rows(database)) == 3
