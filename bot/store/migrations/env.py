"""Alembic environment for the relaydesk store.

Where the database comes from, in order: a connection handed over by `Database.migrate()`
(`config.attributes["connection"]`), a URL in `config.attributes["database_url"]` or the
`sqlalchemy.url` option, else `DATABASE_URL` via `bot.settings` (for the alembic CLI).
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

# Model modules are imported for their tables: autogenerate and the schema tests compare the
# database against Base.metadata.
import bot.store.channel_models  # channels/, migration 0002_channels
import bot.store.platform_models  # bot/platforms/, migration 0007_platform_webhooks
import bot.store.return_attachments  # noqa: F401  (returns, migration 0003_return_attachments)
import handoff.store.models  # noqa: F401  (handoff/, migration 0003_handoff)
from bot.store.database import Database
from bot.store.models import Base

config = context.config
target_metadata = Base.metadata


def database_url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if url:
        return str(url)
    from bot.settings import Settings

    return Settings.from_env().database_url


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    database = Database(database_url())
    try:
        with database.migration_connection() as own_connection:
            run_migrations(own_connection)
    finally:
        database.dispose()


if config.config_file_name is not None and not config.attributes.get("connection"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
