"""SQLite through the standard library's driver: `hotline replay` into a SQLite file.

Theory of operation. Importing SQLAlchemy, SQLModel, pydantic and the table models costs a replay
~0.5 s before its first event, which on a one-minute replay is most of the gap to the parser it
is measured against. A replay into a SQLite file needs little of them: create a new database (or
recognise one at the newest schema) and run one upsert many times. Both are generated from the
models into `storage/sqlite_schema.py` (`python -m storage.sqlite_gen`; a test keeps the file
equal to what the models produce), so this module runs them on `sqlite3` with the pragmas and
busy timeout every hotline SQLite connection gets.

`prepare` leaves a database at the packaged head alone and creates an empty one (under the write
lock, stamped at the head as `storage.schema.migrate` does); anything else (an older schema,
tables without a version) is for Alembic, and the caller runs `storage.schema.migrate` once. The
Core writer uses the same statement and `stored_params` on SQLite, so the rows are the same
whichever writer wrote them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

from storage.errors import StorageError
from storage.revisions import script_heads
from storage.rows import record_to_row
from storage.sqlite_schema import (
    CALLS_FLOAT_PARAMS,
    CALLS_JSON_PARAMS,
    CALLS_TIME_PARAMS,
    CALLS_UPSERT,
    CALLS_UPSERT_PARAMS,
    SCHEMA,
    TABLES,
)
from telephony.calls.record import CallRecord

# Applied to every new SQLite connection: WAL lets the status API read while the writer writes,
# NORMAL is durable across application crashes (WAL fsyncs at checkpoints), and foreign keys are
# off by default in SQLite.
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)
SQLITE_BUSY_TIMEOUT_S = 30.0

_VERSION_TABLE = "alembic_version"
_TABLE_NAMES = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
_VALUES = itemgetter(*CALLS_UPSERT_PARAMS)
_TIMES = tuple(CALLS_UPSERT_PARAMS.index(name) for name in CALLS_TIME_PARAMS)
_LISTS = tuple(CALLS_UPSERT_PARAMS.index(name) for name in CALLS_JSON_PARAMS)
_FLOATS = tuple(CALLS_UPSERT_PARAMS.index(name) for name in CALLS_FLOAT_PARAMS)


def apply_pragmas(connection: Any) -> None:
    """Run SQLITE_PRAGMAS on a new DB-API connection (this module's, or an engine's)."""
    cursor = connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def reason(exc: sqlite3.Error) -> str:
    """The driver's message on one line."""
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def connect(path: Path, where: str) -> sqlite3.Connection:
    """An autocommit connection to the file (transactions are begun explicitly), pragmas applied.

    `where` names the database in errors. Raises StorageError when the file cannot be opened or
    is not a database.
    """
    parent = path.expanduser().resolve().parent
    if not parent.is_dir():
        raise StorageError(f"cannot open database {where}: directory {parent} does not exist")
    try:
        connection = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open database {where}: {reason(exc)}") from exc
    try:
        apply_pragmas(connection)
    except sqlite3.Error as exc:
        connection.close()
        raise StorageError(f"cannot open database {where}: {reason(exc)}") from exc
    return connection


def prepare(connection: sqlite3.Connection, where: str) -> bool:
    """Whether the database is at the packaged head: found so, or empty and created here.

    False when it holds something else (an older revision, hotline tables without a version):
    that is for `storage.schema.migrate` (Alembic). Raises StorageError when it cannot be read.
    """
    heads = script_heads()
    if heads is None:
        return False
    try:
        if _versions(connection) == heads:
            return True
        # BEGIN IMMEDIATE takes the write lock at once: a concurrent start waits, then sees tables.
        connection.execute("BEGIN IMMEDIATE")
        try:
            present = {row[0] for row in connection.execute(_TABLE_NAMES)}
            if _VERSION_TABLE in present:
                created = _versions(connection) == heads  # by a concurrent start, meanwhile
                connection.execute("ROLLBACK")
                return created
            if present & set(TABLES):
                connection.execute("ROLLBACK")
                return False
            for statement in SCHEMA:
                connection.execute(statement)
            connection.executemany(
                "INSERT INTO alembic_version (version_num) VALUES (?)",
                [(head,) for head in sorted(heads)],
            )
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise StorageError(f"migrating {where}: {reason(exc)}") from exc
    return True


def _versions(connection: sqlite3.Connection) -> set[str] | None:
    try:
        rows = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.OperationalError:  # no such table
        return None
    return {row[0] for row in rows}


def stored_params(record: CallRecord, updated_at: datetime) -> tuple[Any, ...]:
    """CALLS_UPSERT's parameters for `record`, in the form SQLAlchemy's column types store.

    Times as naive UTC text ('YYYY-MM-DD HH:MM:SS.ffffff'), lists as JSON text, floats as floats;
    `record_to_row` has made times UTC, enums their values and refused naive times.
    """
    if updated_at.tzinfo is not UTC:
        if updated_at.utcoffset() is None:
            raise StorageError(f"updated_at {updated_at.isoformat()} has no time zone")
        updated_at = updated_at.astimezone(UTC)
    values = list(_VALUES(record_to_row(record, updated_at)))
    for i in _TIMES:
        value = values[i]
        if value is not None:  # tzinfo is UTC here: drop the "+00:00" the text ends with
            values[i] = value.isoformat(" ", "microseconds")[:-6]
    for i in _LISTS:
        value = values[i]
        values[i] = json.dumps(value) if value else "[]"
    for i in _FLOATS:
        value = values[i]
        if value is not None:
            values[i] = float(value)
    return tuple(values)


def latest_params(records: Sequence[CallRecord]) -> list[tuple[Any, ...]]:
    """The parameters of a batch: the last record of each call id wins, sorted by call id (so
    concurrent writers lock rows in the same order)."""
    latest = {record.call_id: record for record in records}
    now = datetime.now(UTC)
    return [stored_params(latest[call_id], now) for call_id in sorted(latest)]


class LiteCallWriter:
    """Upserts batches of call records into `calls` on a `connect`ed file, one transaction each.

    The same contract as `storage.writer.CallWriter.write`; the caller owns the connection.
    """

    def __init__(self, connection: sqlite3.Connection, where: str) -> None:
        self._connection = connection
        self._where = where

    def write(self, records: Sequence[CallRecord]) -> int:
        """Upsert `records` in one transaction; the number of distinct call ids written."""
        if not records:
            return 0
        params = latest_params(records)
        connection = self._connection
        try:
            connection.execute("BEGIN")
            try:
                connection.executemany(CALLS_UPSERT, params)
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StorageError(
                f"writing {len(params)} call records ({params[0][0]} … {params[-1][0]}) "
                f"to {self._where}: {reason(exc)}"
            ) from exc
        return len(params)
