"""`hotline replay` into a SQLite file on the standard library's driver (storage.lite): the same
schema, the same stored rows and the same errors as the SQLAlchemy path, without loading it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine

from storage import StorageError, get_call, make_engine, migrate
from storage.engine import normalize_url
from storage.lite import LiteCallWriter, connect, prepare
from storage.rows import ROW_COLUMNS, record_to_row
from storage.schema import alembic_config, current_revision, head_revision
from storage.sqlite_gen import TARGET, render
from storage.urls import sqlite_file
from storage.writer import upsert_statement
from telephony.calls.record import CallRecord, Disposition
from telephony.cli import main
from tests.paths import CAPTURES, ROOT

MakeCall = Callable[..., CallRecord]


def _master(path: Path) -> list[tuple[Any, ...]]:
    """Every schema object of the file as sqlite_master keeps it (autoindexes included)."""
    with sqlite3.connect(path) as connection:
        return sorted(connection.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"))


def _rows(path: Path) -> list[tuple[Any, ...]]:
    """The calls rows exactly as stored: values and their SQLite storage classes."""
    with sqlite3.connect(path) as connection:
        columns = [row[1] for row in connection.execute("PRAGMA table_info(calls)")]
        select = ", ".join(f"{c}, typeof({c})" for c in columns)
        return list(connection.execute(f"SELECT {select} FROM calls ORDER BY call_id"))


def _lite(path: Path) -> sqlite3.Connection:
    connection = connect(path, str(path))
    assert prepare(connection, str(path))
    return connection


def _awkward_records(make_call: MakeCall) -> list[CallRecord]:
    """Records that exercise every conversion: zones, NUL, non-ASCII, empty and None values."""
    moscow = timezone(timedelta(hours=3))
    return [
        make_call(1),
        make_call(
            2,
            started_at=datetime(2026, 11, 24, 12, 0, 0, 123456, tzinfo=moscow),
            caller="Иван\x00Петров",
            ivr_path=("1", "二", "x\x00y"),
            notes=("перезвонить", 'quote " and \\ slash'),
            transfers=2,
            hold_s=12.5,
            disposition=Disposition.WORK_ORDER,
            work_order_id="WO-7",
            survey_rating=5,
        ),
        make_call(3, ivr_path=(), answered_at=None, agent=None, talk_s=None, hangup_cause=None),
    ]


def test_the_generated_module_is_what_the_models_make_now() -> None:
    """Fails after a table change until `python -m storage.sqlite_gen` writes the file again."""
    assert TARGET.read_text(encoding="utf-8") == render()


def test_a_new_file_gets_the_schema_and_stamp_migrate_makes(tmp_path: Path) -> None:
    lite, core = tmp_path / "lite.db", tmp_path / "core.db"
    _lite(lite).close()
    engine = make_engine(str(core))
    try:
        migrate(engine)
    finally:
        engine.dispose()

    assert _master(lite) == _master(core)
    assert ("table", "calls", "calls") in [row[:3] for row in _master(lite)]
    engine = make_engine(str(lite))
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_stored_rows_equal_what_core_stores(tmp_path: Path, make_call: MakeCall) -> None:
    """Byte for byte and type for type, against SQLAlchemy's own column processing."""
    records = _awkward_records(make_call)
    now = datetime(2026, 12, 2, 18, 0, 0, 250000, tzinfo=UTC)
    lite, core = tmp_path / "lite.db", tmp_path / "core.db"
    connection = _lite(lite)
    try:
        assert LiteCallWriter(connection, "lite").write(records) == 3
    finally:
        connection.close()
    engine = make_engine(str(core))
    try:
        migrate(engine)
        with engine.begin() as core_connection:
            core_connection.execute(
                upsert_statement("sqlite"), [record_to_row(r, now) for r in records]
            )
    finally:
        engine.dispose()

    names = [row[1] for row in sqlite3.connect(core).execute("PRAGMA table_info(calls)")]
    assert set(ROW_COLUMNS) < set(names)
    written_at = 2 * names.index("updated_at")  # the write time differs; its storage class not

    def without_write_time(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        return [row[:written_at] + row[written_at + 1 :] for row in rows]

    stored, expected = _rows(lite), _rows(core)
    assert len(stored) == 3
    assert without_write_time(stored) == without_write_time(expected)


def test_records_read_back_equal_and_a_rewrite_changes_nothing(
    tmp_path: Path, make_call: MakeCall
) -> None:
    path = tmp_path / "lite.db"
    records = _awkward_records(make_call)
    connection = _lite(path)
    try:
        writer = LiteCallWriter(connection, "lite")
        writer.write(records)
        first = _rows(path)
        writer.write(records)
        assert _rows(path) == first  # updated_at included: no value changed, no update
        writer.write([records[0].replace(disposition=None, work_order_id=None)])
        writer.write([records[1].replace(disposition=None)])  # enrichments are kept
    finally:
        connection.close()
    engine = make_engine(str(path))
    try:
        assert [get_call(engine, r.call_id) for r in records] == [
            records[0].replace(disposition=None, work_order_id=None),
            records[1].replace(caller="Иван\ufffdПетров", ivr_path=("1", "二", "x\ufffdy")),
            records[2],
        ]  # NUL is stored as U+FFFD (storage.rows), on every database alike
    finally:
        engine.dispose()


def test_later_record_of_a_batch_wins(tmp_path: Path, make_call: MakeCall) -> None:
    path = tmp_path / "lite.db"
    connection = _lite(path)
    try:
        assert LiteCallWriter(connection, "x").write([make_call(1), make_call(1, agent="B")]) == 1
    finally:
        connection.close()
    engine = make_engine(str(path))
    try:
        found = get_call(engine, make_call(1).call_id)
        assert found is not None
        assert found.agent == "B"
    finally:
        engine.dispose()


def test_a_naive_time_is_refused_and_nothing_is_written(
    tmp_path: Path, make_call: MakeCall
) -> None:
    path = tmp_path / "lite.db"
    connection = _lite(path)
    try:
        bad = make_call(2, ended_at=datetime(2026, 11, 24, 12, 0))
        with pytest.raises(StorageError, match="has no time zone"):
            LiteCallWriter(connection, "x").write([make_call(1), bad])
        assert connection.execute("SELECT count(*) FROM calls").fetchone() == (0,)
    finally:
        connection.close()


def _upgrade(engine: Engine, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_an_older_schema_is_left_to_alembic_and_the_replay_upgrades_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "old.db"
    engine = make_engine(str(path))
    try:
        _upgrade(engine, "0005")
        connection = connect(path, "old")
        try:
            assert not prepare(connection, "old")
        finally:
            connection.close()
        capture = str(CAPTURES / "01_answered.main.raw")
        assert main(["replay", capture, "--db", str(path)]) == 0
        assert "1 contacts" in capsys.readouterr().out
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_other_tables_do_not_stop_creation_but_hotline_tables_without_version_do(
    tmp_path: Path,
) -> None:
    other, half = tmp_path / "other.db", tmp_path / "half.db"
    for path, table in ((other, "other_app"), (half, "calls")):
        with sqlite3.connect(path) as connection:
            connection.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY)")
    connection = connect(other, "other")
    try:
        assert prepare(connection, "other")
    finally:
        connection.close()
    connection = connect(half, "half")
    try:
        assert not prepare(connection, "half")
        assert connection.execute("SELECT count(*) FROM sqlite_master").fetchone() == (1,)
    finally:
        connection.close()


def test_concurrent_starts_create_the_schema_once(tmp_path: Path) -> None:
    path = tmp_path / "race.db"

    def start(_: int) -> bool:
        connection = connect(path, "race")
        try:
            return prepare(connection, "race")
        finally:
            connection.close()

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(start, range(4))) == [True] * 4
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (head_revision(),)
        ]


@pytest.mark.parametrize(
    "setting",
    ["x.db", "~/x.db", "sqlite:///x.db", "sqlite:////tmp/x.db", "sqlite+pysqlite:///a/b.db"],
)
def test_sqlite_file_reads_settings_as_normalize_url_does(setting: str) -> None:
    assert sqlite_file(setting) == Path(normalize_url(setting).database or "")


@pytest.mark.parametrize(
    "setting",
    [
        ":memory:",
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///x.db?mode=ro",
        "sqlite:///caf%C3%A9.db",
        "postgresql://u:pw@h/db",
        "mysql:///x",
    ],
)
def test_other_settings_take_the_sqlalchemy_path(setting: str) -> None:
    assert sqlite_file(setting) is None


def test_bad_files_are_one_clear_line(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database at all " * 200)
    capture = str(CAPTURES / "01_answered.main.raw")
    for db, message in (
        (str(garbage), f"cannot open database {garbage}: file is not a database"),
        (
            str(tmp_path / "nowhere" / "x.db"),
            f"directory {tmp_path / 'nowhere'} does not exist",
        ),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "telephony.cli", "replay", capture, "--db", db],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        assert done.returncode == 1
        assert message in done.stderr
        assert "Traceback" not in done.stderr
    assert garbage.read_bytes() == b"this is not a database at all " * 200


def test_stored_times_are_utc_whatever_zone_the_write_time_has(make_call: MakeCall) -> None:
    from storage.lite import stored_params
    from storage.sqlite_schema import CALLS_UPSERT_PARAMS

    at = CALLS_UPSERT_PARAMS.index("updated_at")
    moscow = datetime(2026, 12, 2, 21, 0, 0, 5, tzinfo=timezone(timedelta(hours=3)))
    assert stored_params(make_call(1), moscow)[at] == "2026-12-02 18:00:00.000005"
    with pytest.raises(StorageError, match="no time zone"):
        stored_params(make_call(1), datetime(2026, 12, 2, 18, 0))
