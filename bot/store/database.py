"""Connection handling for the store: engine, transactional sessions and schema migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import URL, CursorResult, Result, make_url
from sqlalchemy.future import Connection, Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Arbitrary but fixed: every relaydesk process must take the same advisory lock.
_MIGRATION_LOCK = 7_302_118_001


class Database:
    """One store database: owns the engine and hands out sessions.

    Build one per process and pass it to the objects that need it.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self._url = make_url(url)
        self._engine = _create_engine(self._url, echo=echo)
        # Views are built before the session closes, but expire_on_commit=False keeps objects
        # usable afterwards too instead of failing with DetachedInstanceError.
        self._sessions = sessionmaker(bind=self._engine, future=True, expire_on_commit=False)

    @property
    def url(self) -> URL:
        return self._url

    @property
    def engine(self) -> Engine:
        return self._engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in its own transaction: committed if the block succeeds, else rolled back."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema up to `revision` with Alembic; a no-op when already there."""
        with self.migration_connection() as connection:
            command.upgrade(alembic_config(connection), revision)

    def downgrade(self, revision: str) -> None:
        with self.migration_connection() as connection:
            command.downgrade(alembic_config(connection), revision)

    @contextmanager
    def migration_connection(self) -> Iterator[Connection]:
        """A connection inside one transaction, prepared for running migrations.

        On SQLite, foreign keys are switched off meanwhile: Alembic's batch mode rebuilds a
        table by copying and dropping it, which with enforcement on would cascade deletes.
        (The pragma is ignored inside a transaction, hence before `begin`.) On PostgreSQL an
        advisory lock keeps two processes starting together from migrating at the same time.
        """
        is_sqlite = self._engine.dialect.name == "sqlite"
        with self._engine.connect() as connection:
            if is_sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()
            try:
                with connection.begin():
                    if self._engine.dialect.name == "postgresql":
                        connection.execute(
                            text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
                        )
                    yield connection
            finally:
                if is_sqlite:
                    connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                    connection.commit()

    def dispose(self) -> None:
        self._engine.dispose()


def alembic_config(connection: Any | None = None) -> Config:
    """Alembic configuration that needs no alembic.ini; env.py uses `connection` if given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _create_engine(url: URL, *, echo: bool) -> Engine:
    if url.get_backend_name() != "sqlite":
        return create_engine(url, echo=echo, future=True, pool_pre_ping=True)

    database = url.database or ":memory:"
    in_memory = database == ":memory:"
    options: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if in_memory:
        # Every new connection to ":memory:" is a new empty database; share one connection.
        options["poolclass"] = StaticPool
    else:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=echo, future=True, **options)
    event.listen(engine, "connect", _sqlite_pragmas(in_memory=in_memory))
    return engine


def _sqlite_pragmas(*, in_memory: bool) -> Any:
    def set_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            # SQLite ignores foreign keys unless asked, per connection.
            cursor.execute("PRAGMA foreign_keys=ON")
            if not in_memory:
                # Lets the action server read while a seed or a migration writes.
                cursor.execute("PRAGMA journal_mode=WAL")
        finally:
            cursor.close()

    return set_pragmas


def rows_changed(result: Result) -> int:
    """Rows an UPDATE or DELETE matched. `Session.execute` is typed as returning `Result`,
    but for these statements it is a `CursorResult`, which has the count."""
    return cast(CursorResult, result).rowcount
