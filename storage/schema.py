"""Schema management: run the Alembic migrations in `storage/migrations` without an alembic.ini.

Several daemons share one PostgreSQL and each migrates at start: on PostgreSQL the upgrade runs in
one transaction under an advisory lock, so concurrent starts apply each revision once. Within one
process, migrations are serialised by a lock (Alembic's context is process-global). SQLite, the
single-process embedded default, has no cross-process guard.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from storage.engine import mask_url
from storage.errors import StorageError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")
# pg_advisory_xact_lock key: "hotline" as a number, so it does not collide with other users.
_PG_MIGRATION_LOCK = int.from_bytes(b"hotline", "big")
# Alembic runs env.py through a module-level proxy (`alembic.context`), so two migrations in one
# process must not overlap, whatever databases they are for.
_ALEMBIC_IN_PROCESS = threading.Lock()


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config built in code, pointing at the packaged migrations (and at `url`)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # ConfigParser interpolates '%': escape it (URL-encoded passwords contain it).
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision the packaged migrations know."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise StorageError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (None: never migrated)."""
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        raise StorageError(f"reading the schema revision of {mask_url(engine.url)}: {exc}") from exc


def migrate(engine: Engine) -> None:
    """Upgrade the database to the newest schema (`alembic upgrade head`); a no-op when current."""
    config = alembic_config()
    where = mask_url(engine.url)
    try:
        with _ALEMBIC_IN_PROCESS, engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
                )
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except CommandError as exc:
        raise StorageError(
            f"migrating {where}: {exc} (is the database newer than this hotline version?)"
        ) from exc
    except SQLAlchemyError as exc:
        raise StorageError(f"migrating {where}: {exc}") from exc
    log.debug("database %s at schema revision %s", where, head_revision())
