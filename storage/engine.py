"""Engine setup: database URL normalisation, SQLite pragmas, a connection check with masked errors.

hotline stores to SQLite (the embedded default: a plain path or `sqlite:///file`) or PostgreSQL
(`postgresql://` or `postgres://`, always driven by psycopg 3). Every message that names a URL goes
through `mask_url`, so a password never reaches a log or a traceback written by this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import StaticPool

from storage.errors import StorageError, db_reason
from storage.lite import SQLITE_BUSY_TIMEOUT_S as SQLITE_BUSY_TIMEOUT_S
from storage.lite import SQLITE_PRAGMAS as SQLITE_PRAGMAS
from storage.lite import apply_pragmas
from storage.urls import MASK as _MASK
from storage.urls import mask_url as mask_url

SQLITE_DRIVER = "sqlite+pysqlite"
POSTGRES_DRIVER = "postgresql+psycopg"

POSTGRES_CONNECT_TIMEOUT_S = 10


def normalize_url(url: str) -> URL:
    """Parse a database setting into a SQLAlchemy URL with hotline's driver for its database."""
    raw = url.strip()
    if not raw:
        raise StorageError("database URL is empty: give a file path or a postgresql:// URL")
    if raw == ":memory:":
        return URL.create(SQLITE_DRIVER, database=":memory:")
    if "://" not in raw:
        return URL.create(SQLITE_DRIVER, database=str(Path(raw).expanduser()))
    try:
        parsed = make_url(raw)
    except (ArgumentError, ValueError):
        raise StorageError(f"database URL {mask_url(raw)!r} is not a valid URL") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        return parsed.set(drivername=SQLITE_DRIVER)
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg"):
        return parsed.set(drivername=POSTGRES_DRIVER)
    raise StorageError(
        f"database URL {mask_url(parsed)!r}: unsupported database {parsed.drivername!r}; "
        "use a SQLite path (or sqlite:///file) or postgresql://user@host/db"
    )


def make_engine(url: str, *, check: bool = True) -> Engine:
    """An engine for `url` (a path, sqlite:///file, postgresql://, postgres://), checked once.

    Raises StorageError naming the masked URL when the URL is bad or, with `check`, when the
    database cannot be reached. Statement parameters (callers' numbers) are kept out of logs and
    error messages (`hide_parameters`).
    """
    parsed = normalize_url(url)
    masked = mask_url(parsed)
    if parsed.drivername == SQLITE_DRIVER:
        engine = _sqlite_engine(parsed, masked)
    else:
        connect_args: dict[str, Any] = {}
        if "connect_timeout" not in parsed.query:
            connect_args["connect_timeout"] = POSTGRES_CONNECT_TIMEOUT_S
        engine = create_engine(
            parsed, pool_pre_ping=True, hide_parameters=True, connect_args=connect_args
        )
    if check:
        try:
            with engine.connect():
                pass
        except DBAPIError as exc:
            engine.dispose()
            reason = db_reason(exc)
            password = str(parsed.password or "")
            if password and password in reason:
                # The driver echoed the secret: keep it out of the message and the chained error.
                reason = reason.replace(password, _MASK)
                raise StorageError(f"cannot open database {masked}: {reason}") from None
            raise StorageError(f"cannot open database {masked}: {reason}") from exc
    return engine


def _sqlite_engine(url: URL, masked: str) -> Engine:
    database = url.database or ""
    connect_args: dict[str, Any] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
    if database in ("", ":memory:"):
        # One shared connection, so every session (and the writer's worker thread) sees the same
        # in-memory database.
        connect_args["check_same_thread"] = False
        engine = create_engine(
            url, poolclass=StaticPool, hide_parameters=True, connect_args=connect_args
        )
    else:
        parent = Path(database).expanduser().resolve().parent
        if not parent.is_dir():
            raise StorageError(f"cannot open database {masked}: directory {parent} does not exist")
        engine = create_engine(url, hide_parameters=True, connect_args=connect_args)
    event.listen(engine, "connect", _apply_sqlite_pragmas)
    return engine


def _apply_sqlite_pragmas(dbapi_connection: Any, _connection_record: Any) -> None:
    apply_pragmas(dbapi_connection)
