"""Helpers for the fault tests: the simulator in this process, `hotline run` as a real child process
(so that it can be killed with SIGKILL), and the records it left in the database."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from storage.engine import make_engine
from storage.queries import iter_calls
from telephony.app import Daemon
from telephony.calls.record import CallRecord
from telephony.config import Settings, load_settings
from telephony.simulator.model import SimConfig
from telephony.simulator.scenario import ScriptedCall
from telephony.simulator.server import SimulatorServer

SECRET = "sim-secret-5b1e0d"
SPEED = 20.0


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorServer]:
    """A scripted simulator (no random traffic) with Timestamp headers, 20x real time."""
    server = SimulatorServer(
        SimConfig(autonomous=False, seed=11, agents=8, timestamps=True),
        port=0,
        speed=SPEED,
        secret=SECRET,
    )
    await server.start()
    yield server
    await server.stop()


def write_config(
    path: Path, sim: SimulatorServer, db_url: str, journal: Path, extra: str = ""
) -> Path:
    """A `hotline run` config for the simulator; `extra` is appended TOML."""
    host, port = sim.address
    path.write_text(
        f"""
[pbx]
id = "sim"
[ami]
host = "{host}"
port = {port}
username = "hotline"
ping_interval_s = 0.5
backoff_max_s = 1
[database]
url = "{db_url}"
flush_interval_s = 0.05
[http]
listen = "127.0.0.1:0"
[journal]
dir = "{journal}"
[recording]
retention_days = 0
{extra}
"""
    )
    return path


class DaemonProcess:
    """`python -m telephony.cli run --config FILE` as a child process."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.proc: asyncio.subprocess.Process | None = None
        self.output = b""

    async def start(self) -> None:
        env = {**os.environ, "HOTLINE_AMI__SECRET": SECRET}
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "telephony.cli", "run", "--config", str(self.config),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip

    async def kill(self) -> None:
        """SIGKILL: no flush, no checkpoint, no goodbye."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        out, _ = await self.proc.communicate()
        self.output += out

    async def terminate(self, within: float = 60.0) -> int:
        """SIGTERM and wait for the exit status."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(self.proc.communicate(), timeout=within)
        self.output += out
        assert self.proc.returncode is not None
        return self.proc.returncode

    async def ensure_dead(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", "replace")


@pytest.fixture
async def daemons() -> AsyncIterator[Callable[[Path], DaemonProcess]]:
    """A factory of daemon processes; any left running are killed after the test."""
    made: list[DaemonProcess] = []

    def make(config: Path) -> DaemonProcess:
        process = DaemonProcess(config)
        made.append(process)
        return process

    yield make
    for process in made:
        await process.ensure_dead()


async def wait_for(what: str, check: Callable[[], bool], within: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        if loop.time() > deadline:
            pytest.fail(f"timed out after {within} s waiting for: {what}")
        await asyncio.sleep(0.05)


def stored(db_url: str) -> list[CallRecord]:
    engine = make_engine(db_url)
    try:
        return list(iter_calls(engine))
    finally:
        engine.dispose()


def stored_ids(db_url: str) -> list[str]:
    """Call ids in the database; an unreachable or not yet created database reads as empty."""
    try:
        return [r.call_id for r in stored(db_url)]
    except Exception:  # noqa: BLE001 (polled while the daemon creates it)
        return []


def journal_count(directory: Path, needle: bytes) -> int:
    """How often `needle` occurs in the plain journal files (what the daemon has journaled)."""
    total = 0
    for path in sorted(directory.glob("*.ami")):
        total += path.read_bytes().count(needle)
    return total


def daemon_settings(sim: SimulatorServer, tmp_path: Path, db_url: str, **extra: str) -> Settings:
    """Settings of an in-process daemon for the simulator (environment overrides in `extra`)."""
    host, port = sim.address
    env = {
        "HOTLINE_PBX__ID": "sim",
        "HOTLINE_AMI__HOST": host,
        "HOTLINE_AMI__PORT": str(port),
        "HOTLINE_AMI__USERNAME": "hotline",
        "HOTLINE_AMI__SECRET": SECRET,
        "HOTLINE_AMI__PING_INTERVAL_S": "0.5",
        "HOTLINE_AMI__BACKOFF_MAX_S": "1",
        "HOTLINE_DATABASE__URL": db_url,
        "HOTLINE_DATABASE__FLUSH_INTERVAL_S": "0.05",
        "HOTLINE_HTTP__LISTEN": "127.0.0.1:0",
        "HOTLINE_JOURNAL__DIR": str(tmp_path / "journal"),
        "HOTLINE_RECORDING__RETENTION_DAYS": "0",
        "HOTLINE_RECOVERY__WRITER_RETRY_MAX_S": "1",
        **extra,
    }
    return load_settings(None, env=env)


@pytest.fixture
async def in_process() -> AsyncIterator[Callable[[Settings], Daemon]]:
    """A factory of in-process daemons, stopped after the test."""
    made: list[Daemon] = []

    def make(settings: Settings) -> Daemon:
        daemon = Daemon(settings)
        made.append(daemon)
        return daemon

    yield make
    for daemon in made:
        await daemon.stop()


MIX: tuple[dict[str, object], ...] = (
    {"choice": "1", "talk": 6},
    {"choice": "2"},
    {"choice": "1", "talk": 3, "end_by": "caller"},
    {"choice": "hangup"},
)


async def place_calls(
    sim: SimulatorServer, calls: list[ScriptedCall], every: float, n: int
) -> None:
    """Place `n` scripted calls, one every `every` wall seconds, into `calls`."""
    for i in range(n):
        calls.append(sim.place_call(**MIX[i % len(MIX)]))
        await asyncio.sleep(every)


def truth(calls: list[ScriptedCall], pbx: str = "sim") -> list[str]:
    """The call ids the simulator's calls must have, from the simulator itself."""
    assert all(call.linkedid for call in calls)
    return sorted(f"{pbx}:{call.linkedid}" for call in calls)
