"""The writer against a database that stops taking writes: nothing lost, nothing twice.

Real faults only: a PostgreSQL cluster of the test's own, stopped for 30 s while calls flow; a
SQLite file locked by another connection; a SQLite file that becomes read-only (immutable, so
that even root cannot write it) and writable again.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from storage.engine import make_engine
from storage.schema import migrate
from telephony.app import Daemon
from telephony.config import Settings
from telephony.simulator.scenario import ScriptedCall
from telephony.simulator.server import SimulatorServer
from tests.reliability.conftest import (
    DaemonProcess,
    daemon_settings,
    place_calls,
    stored_ids,
    truth,
    wait_for,
    write_config,
)
from tests.reliability.pgcluster import throwaway_postgres


async def until_written(daemon: Daemon, sim: SimulatorServer, calls: list[ScriptedCall]) -> None:
    await wait_for("the simulator finished every call", lambda: sim.sim.active_calls == 0, 60)
    await wait_for(
        "every record written",
        lambda: daemon.writer is not None and daemon.writer.written >= len(calls),
        60,
    )


@pytest.mark.postgres
async def test_postgres_stopped_30s_while_calls_flow_every_record_once(
    sim: SimulatorServer, tmp_path: Path, in_process: Callable[[Settings], Daemon]
) -> None:
    cluster = throwaway_postgres()
    try:
        daemon = in_process(daemon_settings(sim, tmp_path, cluster.url))
        await daemon.start()
        await wait_for("ready", lambda: daemon.link.state.value == "ready")
        calls: list[ScriptedCall] = []
        traffic = asyncio.create_task(place_calls(sim, calls, every=0.25, n=160))
        await asyncio.sleep(3)
        assert daemon.writer is not None
        assert daemon.writer.written > 0
        await asyncio.to_thread(cluster.stop)
        await wait_for(
            "the writer notices", lambda: daemon.writer is not None and daemon.writer.failing
        )
        await asyncio.sleep(30)
        pending_in_outage = daemon.writer.pending
        await asyncio.to_thread(cluster.start)
        await traffic
        await until_written(daemon, sim, calls)
        health = daemon.live.health()
        await daemon.stop()
        ids = stored_ids(cluster.url)
    finally:
        cluster.destroy()
    assert pending_in_outage > 0  # records did wait for the database
    assert daemon.writer.failed_attempts > 0
    assert not daemon.writer.failing
    assert health.database.ok
    assert ids == truth(calls)


async def test_sqlite_locked_by_another_process_then_released(
    sim: SimulatorServer,
    tmp_path: Path,
    in_process: Callable[[Settings], Daemon],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("storage.engine.SQLITE_BUSY_TIMEOUT_S", 0.2)
    path = tmp_path / "calls.db"
    daemon = in_process(daemon_settings(sim, tmp_path, f"sqlite:///{path}"))
    await daemon.start()
    await wait_for("ready", lambda: daemon.link.state.value == "ready")
    locker = sqlite3.connect(path, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        calls: list[ScriptedCall] = []
        await place_calls(sim, calls, every=0.1, n=12)
        await wait_for("writes refused", lambda: "locked" in (daemon.writer.last_error or ""))  # type: ignore[union-attr]
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    await until_written(daemon, sim, calls)
    await daemon.stop()
    assert stored_ids(f"sqlite:///{path}") == truth(calls)


def _chattr(flag: str, path: Path) -> None:
    subprocess.run(["chattr", flag, str(path)], check=True, capture_output=True)


def _immutable_or_skip(path: Path) -> None:
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    try:
        _chattr("+i", path)
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot make {path} immutable here: {exc.stderr.decode().strip()}")


async def test_sqlite_file_read_only_then_writable_again_is_used_at_once(
    sim: SimulatorServer, tmp_path: Path, in_process: Callable[[Settings], Daemon]
) -> None:
    path = tmp_path / "calls.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    _immutable_or_skip(path)
    try:
        daemon = in_process(daemon_settings(sim, tmp_path, url))
        await daemon.start()
        await wait_for("ready", lambda: daemon.link.state.value == "ready")
        calls: list[ScriptedCall] = []
        await place_calls(sim, calls, every=0.1, n=12)
        await wait_for("writes refused", lambda: "readonly" in (daemon.writer.last_error or ""))  # type: ignore[union-attr]
    finally:
        _chattr("-i", path)
    await until_written(daemon, sim, calls)
    await daemon.stop()
    assert stored_ids(url) == truth(calls)


async def test_sigterm_while_the_database_refuses_ends_in_time_and_the_next_start_writes_all(
    sim: SimulatorServer, tmp_path: Path, daemons: Callable[[Path], DaemonProcess]
) -> None:
    """`hotline run` as a process: SIGTERM with a read-only database finishes within the
    deadline, names what it could not write and where it is kept; the next start writes it."""
    path = tmp_path / "calls.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    config = write_config(
        tmp_path / "hotline.toml",
        sim,
        url,
        tmp_path / "journal",
        extra="[recovery]\nshutdown_deadline_s = 2\nwriter_retry_max_s = 1\n",
    )
    _immutable_or_skip(path)
    try:
        first = daemons(config)
        await first.start()
        await wait_for("daemon logged in", lambda: any(c.authenticated for c in sim.clients))
        await asyncio.sleep(0.5)
        calls: list[ScriptedCall] = []
        await place_calls(sim, calls, every=0.1, n=8)
        await wait_for("the simulator finished every call", lambda: sim.sim.active_calls == 0)
        await asyncio.sleep(1)
        # Before the deadline it waited forever; the generous bound only catches a hang.
        assert await first.terminate(within=30) == 0, first.text
    finally:
        _chattr("-i", path)
    assert "not written within 2 s" in first.text, first.text
    assert "stay in the journal from" in first.text
    assert stored_ids(url) == []
    second = daemons(config)
    await second.start()
    await wait_for("every record written", lambda: len(stored_ids(url)) >= len(calls))
    assert await second.terminate() == 0, second.text
    assert stored_ids(url) == truth(calls)


async def test_records_beyond_the_buffer_are_rebuilt_from_the_journal_when_the_database_returns(
    sim: SimulatorServer,
    tmp_path: Path,
    in_process: Callable[[Settings], Daemon],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("storage.engine.SQLITE_BUSY_TIMEOUT_S", 0.2)
    path = tmp_path / "calls.db"
    settings = daemon_settings(
        sim, tmp_path, f"sqlite:///{path}", HOTLINE_RECOVERY__WRITER_MAX_PENDING="2"
    )
    daemon = in_process(settings)
    await daemon.start()
    await wait_for("ready", lambda: daemon.link.state.value == "ready")
    assert daemon.writer is not None
    writer = daemon.writer
    locker = sqlite3.connect(path, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        calls: list[ScriptedCall] = []
        await place_calls(sim, calls, every=0.1, n=8)
        await wait_for("the simulator finished every call", lambda: sim.sim.active_calls == 0)
        await wait_for("the buffer overflowed", lambda: writer.overflowed >= 4)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    # No restart: the daemon reads the journal again for what it could not keep.
    await wait_for("every record written", lambda: len(stored_ids(f"sqlite:///{path}")) >= 8)
    await daemon.stop()
    assert stored_ids(f"sqlite:///{path}") == truth(calls)
    assert daemon.holds.unwritten == 0
