"""Alembic environment of hotline's schema: migrates the connection `storage.schema` hands in.

Programmatic use (the normal path) is `storage.schema.migrate(engine)`, which puts an open
connection into `config.attributes["connection"]`. Without one (a developer running alembic
commands through `storage.schema.alembic_config(url)`), the URL comes from the config's
`sqlalchemy.url` or `HOTLINE_DATABASE__URL`. Logging is left to the application: no fileConfig.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection
from sqlmodel.sql.sqltypes import AutoString

from storage.engine import make_engine, normalize_url
from storage.errors import StorageError
from storage.models import METADATA
from storage.tables import UTCDateTime

config = context.config
target_metadata = METADATA  # every table, whatever else was imported


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render model-only column types as the plain SQLAlchemy types a migration should freeze."""
    if type_ == "type" and isinstance(obj, AutoString):
        return "sa.String()"
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("HOTLINE_DATABASE__URL")
    if not url:
        raise StorageError(
            "alembic: no database; use storage.schema.migrate(engine), or set sqlalchemy.url "
            "or HOTLINE_DATABASE__URL"
        )
    return url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=_render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit the migration SQL for the configured database's dialect (`--sql`)."""
    context.configure(
        url=normalize_url(_url()),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate the handed-in connection, or a connection to the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.begin() as own_connection:
            _run(own_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
