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
from telephony.calls.record import CallRecord
from telephony.simulator.model import SimConfig
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
