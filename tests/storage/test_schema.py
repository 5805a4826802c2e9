"""Tests of storage.schema and the migrations: idempotent upgrade, a new database created from the
models equal to the migrated one, model = migrations, packaging."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import threading
import tomllib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    CheckConstraint,
    Column,
    Engine,
    MetaData,
    String,
    Table,
    func,
    inspect,
    select,
    text,
)

import storage
from storage import CallWriter, StorageError, get_call, make_engine, mask_url, migrate, schema
from storage.models import METADATA
from storage.schema import MIGRATIONS_DIR, alembic_config, current_revision, head_revision
from storage.tables import CALLS
from telephony.calls.record import CallRecord
from tests.paths import CAPTURES

REPO = Path(__file__).resolve().parents[2]
CREATED = "was empty: created at schema revision"
UPGRADED = "upgraded by Alembic"


def _schema(engine: Engine) -> dict[str, dict[str, Any]]:
    """What the inspector reports of every table, column types rendered for the dialect.

    Columns keep their order (a fresh table must not list them differently from a migrated one);
    check constraints are None where the dialect cannot report them.
    """
    inspector = inspect(engine)
    dialect = engine.dialect
    schema: dict[str, dict[str, Any]] = {}
    for table in sorted(inspector.get_table_names()):
        primary_key = inspector.get_pk_constraint(table)
        try:
            checks = sorted(
                (c["name"] or "", c["sqltext"]) for c in inspector.get_check_constraints(table)
            )
        except NotImplementedError:
            checks = None
        schema[table] = {
            "columns": [
                (c["name"], c["type"].compile(dialect=dialect), c["nullable"], c["default"])
                for c in inspector.get_columns(table)
            ],
            "primary key": (primary_key["name"], primary_key["constrained_columns"]),
            "foreign keys": sorted(
                (
                    fk["name"] or "",
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                    fk.get("options", {}).get("ondelete"),
                )
                for fk in inspector.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (i["name"] or "", tuple(i["column_names"]), i["unique"])
                for i in inspector.get_indexes(table)
            ),
            "unique constraints": sorted(
                (u["name"] or "", tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(table)
            ),
            "check constraints": checks,
        }
    return schema


def _alembic_upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the migrations with Alembic itself, whatever migrate() would choose."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _version_rows(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(text("SELECT version_num FROM alembic_version")))


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
        assert ("ix_calls_pbx_linkedid", ("pbx", "linkedid"), False) in first["calls"]["indexes"]
    finally:
        engine.dispose()


def test_a_new_database_gets_the_schema_the_migrations_build(
    db_url: str, other_db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Created from the models, it equals the one every migration built, alembic_version too."""
    created, migrated = make_engine(db_url), make_engine(other_db_url)
    try:
        with caplog.at_level(logging.DEBUG, logger="storage.schema"):
            migrate(created)
        _alembic_upgrade(migrated)

        assert CREATED in caplog.text
        assert _schema(created) == _schema(migrated)
    finally:
        created.dispose()
        migrated.dispose()


def test_models_match_the_migrations(db_url: str) -> None:
    """Alembic's own comparison, on a database the migrations built (not made from the models)."""
    engine = make_engine(db_url)
    try:
        _alembic_upgrade(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, METADATA) == []
    finally:
        engine.dispose()


def test_a_created_database_is_at_the_head_and_takes_calls(
    db_url: str, make_call: Callable[..., CallRecord], caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(db_url)
    records = [make_call(n) for n in range(3)]
    try:
        migrate(engine)
        assert current_revision(engine) == head_revision()
        with caplog.at_level(logging.DEBUG, logger="storage.schema"):
            migrate(engine)
        assert "already at the packaged head" in caplog.text

        assert CallWriter(engine).write(records) == 3
        assert [get_call(engine, record.call_id) for record in records] == records
    finally:
        engine.dispose()


def test_a_failed_creation_leaves_the_database_empty(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tables and stamp are one transaction: a refused stamp takes the tables back with it."""
    refusing = Table(
        "alembic_version",
        MetaData(),
        Column("version_num", String(32), CheckConstraint("version_num = 'never'"), nullable=False),
    )
    monkeypatch.setattr(schema, "_VERSION_TABLE", refusing)
    engine = make_engine(db_url)
    try:
        where = re.escape(mask_url(engine.url))
        with pytest.raises(StorageError, match=rf"^migrating {where}: "):
            migrate(engine)
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_an_older_database_is_upgraded_by_alembic(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(db_url)
    try:
        _alembic_upgrade(engine, "0005")
        with caplog.at_level(logging.DEBUG, logger="storage.schema"):
            migrate(engine)
        assert UPGRADED in caplog.text
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_other_applications_tables_do_not_stop_the_creation(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A shared database may hold other tables: only hotline's and alembic_version count."""
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE other_app (id INTEGER PRIMARY KEY)"))
        with caplog.at_level(logging.DEBUG, logger="storage.schema"):
            migrate(engine)
        assert CREATED in caplog.text
    finally:
        engine.dispose()


def test_hotline_tables_without_a_version_are_left_to_alembic(db_url: str) -> None:
    """Not created around: Alembic finds `calls` in its way and the error names the database."""
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            CALLS.create(connection)
        where = re.escape(mask_url(engine.url))
        with pytest.raises(StorageError, match=rf"^migrating {where}: .*calls"):
            migrate(engine)
    finally:
        engine.dispose()


def test_replay_into_a_new_sqlite_file_does_not_load_alembic(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    capture = CAPTURES / "01_answered.main.raw"
    probe = (
        "import sys\n"
        "from telephony.cli import main\n"
        f"status = main(['replay', {str(capture)!r}, '--db', {str(db)!r}])\n"
        "print(status, 'alembic' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, cwd=REPO
    )

    assert out.stdout.splitlines()[-1] == "0 False"
    engine = make_engine(str(db))
    try:
        assert current_revision(engine) == head_revision()
        with engine.connect() as connection:
            assert connection.scalar(select(func.count()).select_from(CALLS)) == 1
    finally:
        engine.dispose()


def test_downgrade_and_upgrade_again(db_engine: Engine) -> None:
    config = alembic_config()
    with db_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert "calls" not in inspect(db_engine).get_table_names()

    migrate(db_engine)
    assert "calls" in inspect(db_engine).get_table_names()


@pytest.mark.parametrize("starts", [2, 4])
def test_concurrent_starts_create_the_schema_once(
    db_url: str, starts: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Daemons starting at once against one new database all succeed; one of them creates it."""
    engines = [make_engine(db_url) for _ in range(starts)]
    barrier = threading.Barrier(len(engines))

    def start(engine: Engine) -> None:
        barrier.wait()
        migrate(engine)

    try:
        with (
            caplog.at_level(logging.DEBUG, logger="storage.schema"),
            ThreadPoolExecutor(len(engines)) as pool,
        ):
            for future in [pool.submit(start, engine) for engine in engines]:
                future.result()  # re-raises a failed start
        assert current_revision(engines[0]) == head_revision()
        assert _version_rows(engines[0]) == [head_revision()]
        assert caplog.text.count(CREATED) == 1
        assert UPGRADED not in caplog.text
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
