"""Schema management: run the Alembic migrations in `storage/migrations` without an alembic.ini.

Three cases, cheapest first; the first two do not load Alembic (~150 ms of imports). A database
already at the packaged head is left alone. An empty one (no hotline table, no `alembic_version`)
gets the models' tables (`METADATA.create_all`, which the schema tests keep identical to what the
migrations build) and the head revision stamped as Alembic would. Anything else (an older
revision, tables without a version) runs `alembic upgrade head`.

Several daemons share one PostgreSQL and each migrates at start: on PostgreSQL the creation and the
upgrade each run in one transaction under the same advisory lock, and the creation re-checks
emptiness once it holds the lock, so concurrent starts create the schema or apply each revision
once. On SQLite the creation holds the write lock from its first statement (`BEGIN IMMEDIATE`).
Within one process, upgrades are serialised by a lock (Alembic's context is process-global). An
SQLite upgrade has no cross-process guard.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import SQLAlchemyError

from storage.engine import mask_url
from storage.errors import StorageError
from storage.revisions import MIGRATIONS_DIR, script_heads

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

# pg_advisory_xact_lock key: "hotline" as a number, so it does not collide with other users.
_PG_MIGRATION_LOCK = int.from_bytes(b"hotline", "big")
# Alembic runs env.py through a module-level proxy (`alembic.context`), so two migrations in one
# process must not overlap, whatever databases they are for.
_ALEMBIC_IN_PROCESS = threading.Lock()
# The table Alembic keeps the revision in, declared as Alembic's MigrationContext declares it.
_VERSION_TABLE = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config built in code, pointing at the packaged migrations (and at `url`)."""
    from alembic.config import Config  # Alembic loads only when a migration may be due

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # ConfigParser interpolates '%': escape it (URL-encoded passwords contain it).
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision the packaged migrations know."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise StorageError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (None: never migrated)."""
    from alembic.runtime.migration import MigrationContext

    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        raise StorageError(f"reading the schema revision of {mask_url(engine.url)}: {exc}") from exc


def migrate(engine: Engine) -> None:
    """Upgrade the database to the newest schema (`alembic upgrade head`); a no-op when current.

    A database already at the packaged head is recognised, and an empty one created, without
    loading Alembic.
    """
    where = mask_url(engine.url)
    heads = script_heads()
    if heads and _up_to_date(engine, heads):
        log.debug("database %s already at the packaged head", where)
        return
    if heads and _create_if_empty(engine, heads):
        return
    from alembic import command
    from alembic.util import CommandError

    config = alembic_config()
    try:
        with _ALEMBIC_IN_PROCESS, engine.begin() as connection:
            _pg_lock(connection)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except CommandError as exc:
        raise StorageError(
            f"migrating {where}: {exc} (is the database newer than this hotline version?)"
        ) from exc
    except SQLAlchemyError as exc:
        raise StorageError(f"migrating {where}: {exc}") from exc
    log.debug("database %s upgraded by Alembic to schema revision %s", where, head_revision())


def _create_if_empty(engine: Engine, heads: set[str]) -> bool:
    """Create the schema of an empty database and stamp `heads`, in one locked transaction.

    True when the database is at `heads` afterwards (created here, or by a concurrent start that
    held the lock first); False when it holds something else, which is Alembic's to upgrade.
    """
    from storage.models import METADATA  # every table; loaded only when a database may be new

    where = mask_url(engine.url)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "sqlite":
                # pysqlite runs DDL outside any transaction unless one was begun explicitly; this
                # begins it and takes the write lock, so a concurrent start waits, then sees tables.
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            _pg_lock(connection)
            present = set(inspect(connection).get_table_names())
            if _VERSION_TABLE.name in present:
                versions = set(connection.scalars(select(_VERSION_TABLE.c.version_num)))
                if versions == heads:
                    log.debug("database %s created meanwhile by another start", where)
                    return True
                return False
            if present & set(METADATA.tables):
                return False
            METADATA.create_all(connection, checkfirst=False)
            _VERSION_TABLE.create(connection)
            connection.execute(
                _VERSION_TABLE.insert(), [{"version_num": head} for head in sorted(heads)]
            )
    except SQLAlchemyError as exc:
        raise StorageError(f"migrating {where}: {exc}") from exc
    log.debug("database %s was empty: created at schema revision %s", where, ", ".join(heads))
    return True


def _pg_lock(connection: Connection) -> None:
    """On PostgreSQL, hold the schema lock for the rest of the transaction (see the docstring)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})


def _up_to_date(engine: Engine, heads: set[str]) -> bool:
    """Whether the database is exactly at the packaged `heads`; False when in any doubt."""
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:
        return False
    return {row[0] for row in rows} == heads
