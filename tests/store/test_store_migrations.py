"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import CheckConstraint, inspect, select, text

from bot.store.database import Database, alembic_config
from bot.store.models import Base, Customer

REPO_ROOT = Path(__file__).resolve().parents[2]


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(database: Database) -> str | None:
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_migrate_creates_every_table_and_stamps_head(unmigrated_database: Database) -> None:
    unmigrated_database.migrate()

    tables = set(inspect(unmigrated_database.engine).get_table_names())
    assert tables == set(Base.metadata.tables) | {"alembic_version"}
    assert current_revision(unmigrated_database) == head_revision()


def test_migrating_again_is_a_no_op(database: Database) -> None:
    database.migrate()

    assert current_revision(database) == head_revision()


def test_migrated_schema_matches_the_models(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)

    assert differences == []


def test_migrated_check_constraints_match_the_models(database: Database) -> None:
    # Autogenerate does not compare CHECK constraints, and the status vocabularies live in them.
    inspector = inspect(database.engine)
    for table in Base.metadata.sorted_tables:
        expected = {
            str(constraint.name)
            for constraint in table.constraints
            if isinstance(constraint, CheckConstraint)
        }
        actual = {check["name"] for check in inspector.get_check_constraints(table.name)}
        assert actual == expected, table.name


def test_downgrade_to_base_then_upgrade_again(database: Database) -> None:
    database.downgrade("base")
    assert set(inspect(database.engine).get_table_names()) <= {"alembic_version"}

    database.migrate()
    assert current_revision(database) == head_revision()


def test_alembic_cli_migrates_the_database_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    environment = {**os.environ, "DATABASE_URL": url}

    result = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", "bot/store/alembic.ini", "upgrade", "head"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    database = Database(url)
    try:
        assert current_revision(database) == head_revision()
    finally:
        database.dispose()


def test_sqlite_file_gets_its_directory_foreign_keys_and_wal(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'store.db'}")
    try:
        database.migrate()  # switches foreign keys off while it runs, and back on
        with database.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert (tmp_path / "nested" / "dir").is_dir()
    finally:
        database.dispose()


def test_in_memory_sqlite_is_one_database_across_sessions() -> None:
    database = Database("sqlite:///:memory:")
    try:
        database.migrate()
        with database.session() as session:
            tables = session.execute(text("SELECT name FROM sqlite_master")).scalars().all()
        assert "orders" in tables
    finally:
        database.dispose()


def test_session_commits_on_success_and_rolls_back_on_error(database: Database) -> None:
    from datetime import UTC, datetime

    def customer(email: str) -> Customer:
        return Customer(
            email=email, first_name="Kai", last_name="Doe", created_at=datetime.now(UTC)
        )

    with database.session() as session:
        session.add(customer("kept@example.com"))
    with pytest.raises(RuntimeError), database.session() as session:
        session.add(customer("discarded@example.com"))
        session.flush()
        raise RuntimeError("boom")

    with database.session() as session:
        emails = session.execute(select(Customer.email)).scalars().all()
    assert emails == ["kept@example.com"]
