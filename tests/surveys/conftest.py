"""Fixtures for the survey tests: a simulator, daemon settings with surveys on, queued surveys."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from storage import surveys as store
from telephony.config import Settings, load_settings
from telephony.simulator.model import SimConfig
from telephony.simulator.server import SimulatorServer
from telephony.surveys.policy import Candidate
from tests.conftest import throwaway_pg_database
from tests.simulator.amiclient import AmiTestClient

SECRET = "sim-secret-survey"
SPEED = 20.0


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorServer]:
    """A quiet simulator (no citizen traffic of its own) on a free port, 20x real time."""
    server = SimulatorServer(
        SimConfig(autonomous=False, seed=11, agents=2, timestamps=True, start_time=time.time()),
        port=0,
        speed=SPEED,
        secret=SECRET,
        auth_fail_delay=0.05,
    )
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def watcher(sim: SimulatorServer) -> AsyncIterator[AmiTestClient]:
    """An independent AMI client that sees what the PBX did (the tests' witness)."""
    client = await AmiTestClient.connect(sim.address)
    response = await client.login(username="hotline", secret=SECRET)
    assert response.name == "Success"
    yield client
    await client.close()


def survey_settings(
    sim: SimulatorServer, tmp_path: Path, db_url: str, *, pbx: str = "sim", **extra: str
) -> Settings:
    """Daemon settings against ``sim`` with surveys on, dialling every second, no quiet hours."""
    return load_settings(None, env=survey_env(sim, tmp_path, db_url, pbx=pbx, **extra))


def survey_env(
    sim: SimulatorServer, tmp_path: Path, db_url: str, *, pbx: str = "sim", **extra: str
) -> dict[str, str]:
    """The environment of :func:`survey_settings` (also what a `hotline run` child is given)."""
    host, port = sim.address
    return {
        "HOTLINE_PBX__ID": pbx,
        "HOTLINE_AMI__HOST": host,
        "HOTLINE_AMI__PORT": str(port),
        "HOTLINE_AMI__SECRET": SECRET,
        "HOTLINE_AMI__PING_INTERVAL_S": "0.5",
        "HOTLINE_AMI__BACKOFF_MAX_S": "1",
        "HOTLINE_AMI__ACTION_TIMEOUT_S": "2",
        "HOTLINE_DATABASE__URL": db_url,
        "HOTLINE_DATABASE__FLUSH_INTERVAL_S": "0.05",
        "HOTLINE_HTTP__LISTEN": "127.0.0.1:0",
        "HOTLINE_JOURNAL__DIR": str(tmp_path / f"journal-{pbx}"),
        "HOTLINE_RECORDING__RETENTION_DAYS": "0",
        "HOTLINE_SURVEYS__ENABLED": "true",
        "HOTLINE_SURVEYS__CHANNEL": "IAX2/carrier/{number}",
        "HOTLINE_SURVEYS__QUIET_START": "00:00",
        "HOTLINE_SURVEYS__QUIET_END": "00:00",
        "HOTLINE_SURVEYS__POLL_S": "0.1",
        "HOTLINE_SURVEYS__PACE_PER_MIN": "6000",
        "HOTLINE_SURVEYS__RING_TIMEOUT_S": "18",
        "HOTLINE_SURVEYS__MAX_CONCURRENT": "3",
        "HOTLINE_SURVEYS__RETRY_AFTER_MIN": "0",
        **extra,
    }


def sim_now(sim: SimulatorServer) -> datetime:
    """The simulated PBX's time now (the daemon's survey clock follows the PBX)."""
    return datetime.fromtimestamp(sim.sim.now, UTC)


def queue_surveys(engine: Engine, numbers: list[str], now: datetime) -> None:
    """Surveys due at ``now`` for contacts `sim:<n>` from these numbers (as the daemon queues)."""
    candidates = [
        Candidate(
            call_id=f"sim:1795490000.{i}",
            pbx="sim",
            number=number,
            agent=f"Agent {9000 + i % 3}",
            queue="citizen-general",
            contact_ended_at=now - timedelta(minutes=40),
            due_at=now - timedelta(seconds=1),
            expires_at=now + timedelta(days=3),
        )
        for i, number in enumerate(numbers)
    ]
    fates = store.enqueue(engine, candidates, now=now, cooldown_since=now - timedelta(days=30))
    assert set(fates.values()) == {"queued"}


async def wait_for(what: str, check: Callable[[], bool], within: float = 30.0) -> None:
    """Poll ``check`` until true; fail naming ``what`` after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        if loop.time() > deadline:
            pytest.fail(f"timed out after {within} s waiting for: {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
def db_url_pg(pg_admin_engine: Engine) -> Iterator[str]:
    """A fresh PostgreSQL database's URL (dropped after the test)."""
    with throwaway_pg_database(pg_admin_engine) as url:
        yield url
