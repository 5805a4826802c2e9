"""Run one bench function on a scratch SQLite file and a scratch PostgreSQL database."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, create_engine, text

from storage.engine import make_engine, normalize_url

T = TypeVar("T")


def on_sqlite_and_postgres(
    pg_url: str, prefix: str, run: Callable[[str, Engine], T]
) -> dict[str, T]:
    """``run(label, engine)`` on a fresh SQLite file, then on a database created (and dropped
    afterwards) on the PostgreSQL server of ``pg_url``; the results by label."""
    results: dict[str, T] = {}
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'year.db'}")
        try:
            results["SQLite"] = run("SQLite", engine)
        finally:
            engine.dispose()
    admin = create_engine(normalize_url(pg_url), isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        engine = make_engine(admin.url.set(database=name).render_as_string(hide_password=False))
        try:
            results["PostgreSQL"] = run("PostgreSQL", engine)
        finally:
            engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return results
