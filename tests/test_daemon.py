"""The live daemon against the PBX simulator over real TCP: records, drops, restarts, hangs.

Each test runs the simulator (a real AMI server) and the daemon in this event loop, with fast
simulated time; the database is a real SQLite file or PostgreSQL database (`db_url`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from storage.engine import make_engine
from storage.queries import iter_calls
from telephony.ami.link import LinkState
from telephony.app import Daemon
from telephony.calls.record import CallRecord, CloseReason, Outcome
from telephony.cli import main
from telephony.config import Settings, load_settings
from telephony.health import HealthStatus
from telephony.simulator.model import SimConfig
from telephony.simulator.server import SimulatorServer

SECRET = "sim-secret-7f3a9c"
SPEED = 20.0


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorServer]:
    server = SimulatorServer(
        SimConfig(autonomous=False, seed=7, agents=4, timestamps=True),
        port=0,
        speed=SPEED,
        secret=SECRET,
        auth_fail_delay=0.05,
    )
    await server.start()
    yield server
    await server.stop()


def settings_for(sim: SimulatorServer, tmp_path: Path, db_url: str, **extra: str) -> Settings:
    host, port = sim.address
    env = {
        "HOTLINE_PBX__ID": "sim",
        "HOTLINE_AMI__HOST": host,
        "HOTLINE_AMI__PORT": str(port),
        "HOTLINE_AMI__USERNAME": "hotline",
        "HOTLINE_AMI__SECRET": SECRET,
        "HOTLINE_AMI__PING_INTERVAL_S": "0.3",
        "HOTLINE_AMI__PING_TIMEOUT_S": "0.3",
        "HOTLINE_AMI__BACKOFF_MAX_S": "1",
        "HOTLINE_AMI__ACTION_TIMEOUT_S": "2",
        "HOTLINE_DATABASE__URL": db_url,
        "HOTLINE_DATABASE__FLUSH_INTERVAL_S": "0.05",
        "HOTLINE_HTTP__LISTEN": "127.0.0.1:0",
        "HOTLINE_JOURNAL__DIR": str(tmp_path / "journal"),
        "HOTLINE_RECORDING__RETENTION_DAYS": "0",
        **extra,
    }
    return load_settings(None, env=env)


async def wait_for(what: str, check: Callable[[], bool], within: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        if loop.time() > deadline:
            pytest.fail(f"timed out after {within} s waiting for: {what}")
        await asyncio.sleep(0.02)


def written(daemon: Daemon, n: int) -> Callable[[], bool]:
    return lambda: daemon.writer is not None and daemon.writer.written >= n


def stored(db_url: str) -> list[CallRecord]:
    engine = make_engine(db_url)
    try:
        return list(iter_calls(engine))
    finally:
        engine.dispose()


@pytest.fixture
async def daemon_factory() -> AsyncIterator[Callable[[Settings], Daemon]]:
    started: list[Daemon] = []

    def make(settings: Settings) -> Daemon:
        daemon = Daemon(settings)
        started.append(daemon)
        return daemon

    yield make
    for daemon in started:
        await daemon.stop()


async def test_n_simulated_contacts_give_n_records_and_the_journal_replays_them(
    sim: SimulatorServer,
    tmp_path: Path,
    db_url: str,
    daemon_factory: Callable[[Settings], Daemon],
    capsys: pytest.CaptureFixture[str],
) -> None:
    daemon = daemon_factory(settings_for(sim, tmp_path, db_url))
    await daemon.start()
    await wait_for("link ready", lambda: daemon.link.state is LinkState.READY)
    scripts = [
        {"choice": "1", "talk": 6},
        {"choice": "1", "talk": 4, "end_by": "caller"},
        {"choice": "2"},
        {"choice": "hangup"},
        {"choice": "3", "talk": 3},
        {"choice": "1", "agents_answer": False, "patience": 10},
    ]
    for script in scripts:
        sim.place_call(**script)
    await wait_for(
        "6 records written", lambda: daemon.writer is not None and daemon.writer.written >= 6
    )
    await daemon.stop()
    live = stored(db_url)
    assert len(live) == 6
    assert len({r.call_id for r in live}) == 6
    assert Counter(r.outcome for r in live) == Counter(
        {
            Outcome.ANSWERED: 3,
            Outcome.SELF_SERVICE: 1,
            Outcome.ABANDONED_IVR: 1,
            Outcome.ABANDONED_QUEUE: 1,
        }
    )
    assert all(r.caller and r.caller.startswith("7916") for r in live)
    # The journal holds every frame with the receive time: replaying it gives the same records.
    journal = sorted((tmp_path / "journal").glob("*.ami*"))
    assert journal
    replay_db = f"sqlite:///{tmp_path / 'replayed.db'}"
    assert main(["replay", *map(str, journal), "--db", replay_db, "--pbx", "sim"]) == 0
    capsys.readouterr()
    assert main(["calls", "--db", db_url]) == 0
    live_export = capsys.readouterr().out
    assert main(["calls", "--db", replay_db]) == 0
    replay_export = capsys.readouterr().out
    assert [json.loads(x) for x in replay_export.splitlines()] == [
        json.loads(x) for x in live_export.splitlines()
    ]


async def test_link_dropped_mid_call_reconnects_resyncs_no_loss_no_duplicate(
    sim: SimulatorServer,
    tmp_path: Path,
    db_url: str,
    daemon_factory: Callable[[Settings], Daemon],
) -> None:
    daemon = daemon_factory(settings_for(sim, tmp_path, db_url))
    await daemon.start()
    await wait_for("link ready", lambda: daemon.link.state is LinkState.READY)
    sim.place_call(choice="1", talk=60)  # still talking after the reconnect
    sim.place_call(choice="1", talk=12)  # ends while the link is down
    await wait_for(
        "both calls talking",
        lambda: sum(1 for c in daemon.tracker.contacts.values() if c.answered) == 2,
    )
    await asyncio.sleep(4 / SPEED)
    sim.drop_clients()
    await wait_for("link down", lambda: daemon.link.state is not LinkState.READY, within=5)
    await wait_for(
        "reconnected", lambda: daemon.link.state is LinkState.READY and daemon.link.reconnects >= 1
    )
    await wait_for("2 records", written(daemon, 2), 30)
    await asyncio.sleep(0.3)
    await daemon.stop()
    records = stored(db_url)
    assert len(records) == 2, [r.call_id for r in records]
    by_reason = {r.close_reason: r for r in records}
    long_call = by_reason[CloseReason.LINKEDID_END]
    assert long_call.outcome is Outcome.ANSWERED
    assert long_call.talk_s is not None
    assert long_call.talk_s >= 50
    gone = by_reason[CloseReason.VANISHED]
    assert gone.outcome is Outcome.ANSWERED
    assert gone.hangup_by is None  # ended while we were away: how is unknown


async def test_pbx_restart_closes_open_calls_and_later_calls_are_new_records(
    sim: SimulatorServer,
    tmp_path: Path,
    db_url: str,
    daemon_factory: Callable[[Settings], Daemon],
) -> None:
    daemon = daemon_factory(settings_for(sim, tmp_path, db_url))
    await daemon.start()
    await wait_for("link ready", lambda: daemon.link.state is LinkState.READY)
    sim.place_call(choice="1", talk=120)
    sim.place_call(choice="1", talk=120)
    await wait_for(
        "two calls talking",
        lambda: sum(1 for c in daemon.tracker.contacts.values() if c.answered) == 2,
    )
    await sim.restart()
    await wait_for("2 records", written(daemon, 2))
    await wait_for(
        "reconnected after restart",
        lambda: daemon.link.state is LinkState.READY and daemon.link.reconnects >= 1,
    )
    sim.place_call(choice="2")
    await wait_for("3 records", written(daemon, 3))
    await daemon.stop()
    records = stored(db_url)
    assert len(records) == 3
    assert len({r.call_id for r in records}) == 3
    torn_down = [r for r in records if r.outcome is Outcome.ANSWERED]
    assert len(torn_down) == 2
    assert all(r.hangup_by is not None and r.hangup_by.value == "system" for r in torn_down)
    assert [r.outcome for r in records if r not in torn_down] == [Outcome.SELF_SERVICE]


async def test_hung_pbx_is_detected_and_the_link_recovers(
    sim: SimulatorServer,
    tmp_path: Path,
    db_url: str,
    daemon_factory: Callable[[Settings], Daemon],
) -> None:
    daemon = daemon_factory(settings_for(sim, tmp_path, db_url))
    await daemon.start()
    await wait_for("link ready", lambda: daemon.link.state is LinkState.READY)
    loop = asyncio.get_running_loop()
    sim.pause()
    paused_at = loop.time()
    await wait_for("hung PBX detected", lambda: daemon.link.state is not LinkState.READY, 5)
    detected_after = loop.time() - paused_at
    assert detected_after < 0.3 + 0.3 + 1.0  # ping interval + ping timeout + slack
    assert "ping" in (daemon.link.last_error or "").lower()
    sim.resume()
    await wait_for("recovered", lambda: daemon.link.state is LinkState.READY)
    health = daemon.live.health()
    assert health.ami.reconnects >= 1


async def test_bad_login_backs_off_and_never_logs_the_secret(
    sim: SimulatorServer,
    tmp_path: Path,
    db_url: str,
    daemon_factory: Callable[[Settings], Daemon],
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "wrong-secret-1234"
    settings = settings_for(sim, tmp_path, db_url, HOTLINE_AMI__SECRET=wrong)
    caplog.set_level(logging.DEBUG)
    daemon = daemon_factory(settings)
    await daemon.start()
    await wait_for("login refused", lambda: daemon.link.state is LinkState.BACKOFF, 10)
    assert "auth" in (daemon.link.last_error or "").lower()
    assert daemon.live.health().status is HealthStatus.DEGRADED
    assert wrong not in caplog.text
    assert SECRET not in caplog.text


async def test_sighup_reloads_and_sigterm_flushes_and_exits_zero(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    """`hotline run` as a real process: calls, SIGHUP reloads the log level, SIGTERM exits 0
    within seconds with every record on disk."""
    host, port = sim.address
    db = tmp_path / "run.db"
    config = tmp_path / "hotline.toml"
    config.write_text(
        f"""
[pbx]
id = "sim"
[ami]
host = "{host}"
port = {port}
username = "hotline"
ping_interval_s = 0.5
[database]
url = "sqlite:///{db}"
flush_interval_s = 5.0
[http]
listen = "127.0.0.1:0"
[journal]
dir = "{tmp_path / "journal"}"
[recording]
retention_days = 0
"""
    )
    env = {**os.environ, "HOTLINE_AMI__SECRET": SECRET}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "telephony.cli", "run", "--config", str(config),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        await wait_for("client logged in", lambda: any(c.authenticated for c in sim.clients), 20)
        await asyncio.sleep(0.5)  # the resync
        for _ in range(3):
            sim.place_call(choice="2")
        await asyncio.sleep(40 / SPEED)  # the calls end; the writer holds them (5 s flush)
        config.write_text(config.read_text() + '\n[log]\nlevel = "DEBUG"\n')
        proc.send_signal(signal.SIGHUP)
        await asyncio.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(proc.communicate(), timeout=10)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, output.decode()
    assert "log level DEBUG" in output.decode()
    records = stored(f"sqlite:///{db}")
    assert len(records) == 3, output.decode()
    assert SECRET not in output.decode()
