"""Fixtures giving each store test a real, empty database on SQLite and on PostgreSQL.

SQLite: a file in the test's tmp_path. PostgreSQL: one scratch database with a random name per
test run (created through the `postgres` maintenance database, dropped at the end), and in it a
fresh schema per fixture instance, selected with `search_path`. A schema is as empty as a new
database for everything the store does, and costs milliseconds where CREATE DATABASE costs
hundreds (seconds on a busy machine), which keeps the suite well under its 30 s budget.

The PostgreSQL parameters are marked `postgres` and skip, saying why, when no server answers at
127.0.0.1:5432.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.future import create_engine

from bot.store.database import Database
from bot.store.seed import load_export

POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"
DEMO_STORE_PATH = Path(__file__).resolve().parents[2] / "bot" / "store" / "demo_store.json"

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


# Test data need not survive a server crash; not waiting for WAL flushes makes DDL-heavy
# fixtures (migrate, drop schema) several times faster on a busy disk.
FAST_COMMITS = "-csynchronous_commit=off"


def autocommit_engine(url: str) -> Engine:
    return create_engine(
        url,
        future=True,
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 3, "options": FAST_COMMITS},
    )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Engine]:
    """An AUTOCOMMIT engine on the `postgres` database, for CREATE/DROP DATABASE."""
    engine = autocommit_engine(f"{POSTGRES_SERVER}/postgres")
    try:
        with engine.connect():
            pass
    except OperationalError as error:
        engine.dispose()
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_SERVER} ({reason})")
    yield engine
    engine.dispose()


@dataclass(frozen=True)
class ScratchPostgres:
    url: str
    #: AUTOCOMMIT engine on the scratch database, for CREATE/DROP SCHEMA.
    engine: Engine


@pytest.fixture(scope="session")
def scratch_postgres(postgres_server: Engine) -> Iterator[ScratchPostgres]:
    name = f"relaydesk_test_{uuid.uuid4().hex[:12]}"
    with postgres_server.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = f"{POSTGRES_SERVER}/{name}"
    engine = autocommit_engine(url)
    try:
        yield ScratchPostgres(url=url, engine=engine)
    finally:
        engine.dispose()
        with postgres_server.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def scratch_database(
    backend: str, directory: Path, request: pytest.FixtureRequest
) -> Iterator[Database]:
    if backend == "sqlite":
        database = Database(f"sqlite:///{directory / 'store.db'}")
        try:
            yield database
        finally:
            database.dispose()
        return

    postgres: ScratchPostgres = request.getfixturevalue("scratch_postgres")
    schema = f"store_{uuid.uuid4().hex[:12]}"
    with postgres.engine.connect() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    options = quote(f"-csearch_path={schema} {FAST_COMMITS}")
    database = Database(f"{postgres.url}?options={options}")
    try:
        yield database
    finally:
        database.dispose()
        with postgres.engine.connect() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=BACKENDS)
def unmigrated_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with scratch_database(request.param, tmp_path, request) as database:
        yield database


@pytest.fixture
def database(unmigrated_database: Database) -> Database:
    """A fresh, migrated, empty store."""
    unmigrated_database.migrate()
    return unmigrated_database


@pytest.fixture(scope="module", params=BACKENDS)
def demo_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """The demo store, loaded once per module and backend. Tests must not change it (a failed
    statement is fine: its session rolls back)."""
    with scratch_database(request.param, tmp_path_factory.mktemp("demo"), request) as database:
        database.migrate()
        load_export(DEMO_STORE_PATH, database)
        yield database


@pytest.fixture(scope="session")
def demo_store_path() -> Path:
    return DEMO_STORE_PATH


@pytest.fixture(scope="session")
def _demo_export_pristine() -> dict[str, Any]:
    return json.loads(DEMO_STORE_PATH.read_text(encoding="utf-8"))


@pytest.fixture
def demo_export(_demo_export_pristine: dict[str, Any]) -> dict[str, Any]:
    """The demo export as a dict the test may change."""
    return copy.deepcopy(_demo_export_pristine)
