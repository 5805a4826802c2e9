"""Tests of storage.schema and the migrations: idempotent upgrade, model = migrations, packaging."""

from __future__ import annotations

import threading
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

import storage
from storage import make_engine, migrate
from storage.models import METADATA
from storage.schema import MIGRATIONS_DIR, alembic_config, current_revision, head_revision

REPO = Path(__file__).resolve().parents[2]


def _schema(engine: Engine) -> dict[str, object]:
    inspector = inspect(engine)
    return {
        table: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
            sorted((i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(table)),
        )
        for table in sorted(inspector.get_table_names())
    }


def test_migrate_creates_calls_and_a_second_run_is_a_no_op(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) is None
        migrate(engine)
        first = _schema(engine)
        migrate(engine)

        assert _schema(engine) == first
        assert current_revision(engine) == head_revision() == "0013"
        assert set(first) == {
            "alembic_version",
            "calls",
            "work_orders",
            "announcements",
            "live_snapshots",
            "survey",
            "survey_attempt",
            "survey_dnc",
        }
        assert ("ix_calls_pbx_linkedid", ("pbx", "linkedid")) in first["calls"][1]  # type: ignore[index]
    finally:
        engine.dispose()


def test_models_match_the_migrations(db_engine: Engine) -> None:
    with db_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, METADATA) == []


def test_downgrade_and_upgrade_again(db_engine: Engine) -> None:
    config = alembic_config()
    with db_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert "calls" not in inspect(db_engine).get_table_names()

    migrate(db_engine)
    assert "calls" in inspect(db_engine).get_table_names()


def test_concurrent_starts_migrate_once(db_url: str) -> None:
    """Several daemons starting at once against one fresh database all succeed."""
    engines = [make_engine(db_url) for _ in range(4)]
    barrier = threading.Barrier(len(engines))

    def start(engine: Engine) -> None:
        barrier.wait()
        migrate(engine)

    try:
        with ThreadPoolExecutor(len(engines)) as pool:
            for future in [pool.submit(start, engine) for engine in engines]:
                future.result()  # re-raises a failed start
        assert current_revision(engines[0]) == head_revision()
    finally:
        for engine in engines:
            engine.dispose()


def test_packaged_files_include_every_migration() -> None:
    """A non-editable install ships storage/migrations through [tool.setuptools.package-data]."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["storage"]
    package_dir = Path(storage.__file__).parent
    needed = [
        path.relative_to(package_dir).as_posix()
        for path in MIGRATIONS_DIR.rglob("*")
        if path.is_file() and path.suffix in (".py", ".mako")
    ]

    assert "migrations/versions/0001_calls.py" in needed
    assert "migrations/versions/0002_calls_transferred.py" in needed
    # Matched part by part, like setuptools' glob ('*' does not cross '/').
    assert [f for f in needed if not any(PurePosixPath(f).match(p) for p in patterns)] == []


def test_0002_fills_transferred_from_the_transfer_count(db_url: str) -> None:
    """A database written at 0001 gains `transferred`, true exactly where transfers > 0."""
    from sqlalchemy import text

    engine = make_engine(db_url)
    config = alembic_config()
    row = (
        "INSERT INTO calls (call_id, pbx, linkedid, direction, kind, ivr_path, outcome, "
        "close_reason, transfers, hold_s, notes, updated_at) VALUES (:id, 'p', :id, "
        "'inbound', 'citizen', '[]', 'answered', 'hangup', :n, 0, '[]', :t)"
    )
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0001")
            for call_id, transfers in (("a", 0), ("b", 2)):
                params = {"id": call_id, "n": transfers, "t": "2026-12-02 01:00:00"}
                connection.execute(text(row), params)
        migrate(engine)
        with engine.connect() as connection:
            got = connection.execute(text("SELECT call_id, transferred FROM calls ORDER BY 1"))
            assert [(r[0], bool(r[1])) for r in got] == [("a", False), ("b", True)]
    finally:
        engine.dispose()
