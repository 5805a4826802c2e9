"""Writes `storage/sqlite_schema.py`: the SQLite schema and the `calls` upsert the models make.

`hotline replay` into a SQLite file runs on the standard library's driver (`storage.lite`) so that
it does not load SQLAlchemy and SQLModel (~0.5 s of its start-up). What it needs of them is
generated here and kept in the repository: the statements a new database is created with (read
back from `sqlite_master` after `storage.schema.migrate` created one), the `calls` upsert as the
Core writer compiles it for SQLite, and which of its parameters are stored as UTC text or JSON.

Run ``python -m storage.sqlite_gen`` after changing a table; `tests/storage/test_lite.py` fails
while the file differs from what this renders.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sqlalchemy import JSON, Boolean, Float
from sqlalchemy.dialects import sqlite

from storage.engine import make_engine
from storage.rows import ROW_COLUMNS
from storage.schema import migrate
from storage.tables import CALLS, UTCDateTime
from storage.writer import upsert_statement

TARGET = Path(__file__).with_name("sqlite_schema.py")

_HEADER = '''"""The SQLite schema and the `calls` upsert, generated from the models: do not edit.

Written by ``python -m storage.sqlite_gen``; `tests/storage/test_lite.py` fails when this differs
from what the models generate. Used by `storage.lite` (and by the Core writer on SQLite).
"""
'''


def _lines(name: str, values: list[str]) -> list[str]:
    return [f"{name} = (", *(f"    {json.dumps(value)}," for value in values), ")"]


def render() -> str:
    """The module's text, from the models and migrations as they are now."""
    engine = make_engine(":memory:")
    try:
        migrate(engine)
        with engine.connect() as connection:
            found = connection.exec_driver_sql(
                "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL "
                "ORDER BY rowid"
            ).all()
    finally:
        engine.dispose()
    dialect = sqlite.dialect()
    compiled = upsert_statement("sqlite").compile(dialect=dialect, column_keys=list(ROW_COLUMNS))
    params = list(compiled.positiontup or ())
    if sorted(params) != sorted(ROW_COLUMNS):
        raise SystemExit(f"the upsert's parameters {params} are not the row's {ROW_COLUMNS}")
    times, lists, floats = [], [], []
    for name in params:
        kind = CALLS.c[name].type
        if isinstance(kind, UTCDateTime):
            times.append(name)
        elif isinstance(kind, JSON):
            lists.append(name)
        elif isinstance(kind, Float):
            floats.append(name)
        elif not isinstance(kind, Boolean) and kind.bind_processor(dialect) is not None:
            # A type that converts on the way in needs its stored form in storage.lite first
            # (a bool is stored as the integer SQLAlchemy makes of it by the driver itself).
            raise SystemExit(f"calls.{name}: no SQLite stored form known for {kind!r}")
    # Tables by name, each followed by its indexes by name: SQLAlchemy creates tables in the order
    # the models were imported and indexes in set order, and SQLite does not need a referenced
    # table to exist first.
    tables = sorted(name for kind, name, _, _ in found if kind == "table")
    indexes = sorted((on, name, sql) for kind, name, on, sql in found if kind == "index")
    schema: list[str] = []
    for table in tables:
        schema.extend(sql for kind, name, _, sql in found if kind == "table" and name == table)
        schema.extend(sql for on, _, sql in indexes if on == table)
    out = [
        _HEADER,
        "# Every table a new database holds (alembic_version included).",
        *_lines("TABLES", tables),
        "",
        "# The statements that create them and their indexes, as sqlite_master keeps them.",
        *_lines("SCHEMA", schema),
        "",
        "# INSERT … ON CONFLICT (call_id) DO UPDATE … WHERE a value changed (storage.writer).",
        f"CALLS_UPSERT = {json.dumps(str(compiled))}",
        "",
        "# Its parameters in order; those stored as naive-UTC text, as JSON text, as floats.",
        *_lines("CALLS_UPSERT_PARAMS", params),
        *_lines("CALLS_TIME_PARAMS", times),
        *_lines("CALLS_JSON_PARAMS", lists),
        *_lines("CALLS_FLOAT_PARAMS", floats),
    ]
    return "\n".join(out) + "\n"


def main() -> int:
    """Write the module; print whether it changed."""
    text = render()
    changed = not TARGET.exists() or TARGET.read_text(encoding="utf-8") != text
    if changed:
        TARGET.write_text(text, encoding="utf-8")
    print(f"{TARGET}: {'written' if changed else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
