"""Kill the daemon (SIGKILL) in the middle of survey calls and start it again: none lost, none
dialled twice. The daemon runs as a real `hotline run` process; the witness is an independent
AMI client on the simulator (real time, so the calls outlive the kill)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from storage import surveys as store
from telephony.app import Daemon
from telephony.simulator.model import SimConfig
from telephony.simulator.server import SimulatorServer
from tests.simulator.amiclient import AmiTestClient
from tests.surveys.conftest import SECRET, queue_surveys, sim_now, survey_settings, wait_for

NUMBERS = ["13700000201", "13700000202"]
FINAL = {"completed", "no_answer", "busy", "failed", "refused", "expired", "cancelled"}


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorServer]:
    """The simulator in real time: a survey call lasts about 7 s."""
    server = SimulatorServer(
        SimConfig(autonomous=False, seed=3, agents=1, timestamps=True, start_time=time.time()),
        port=0,
        speed=1.0,
        secret=SECRET,
        auth_fail_delay=0.05,
    )
    await server.start()
    yield server
    await server.stop()


def placed(watcher: AmiTestClient, number: str) -> list[str]:
    prefix = f"IAX2/carrier/{number}-"
    return [
        f.headers["Uniqueid"]
        for f in watcher.events("Newchannel")
        if (f.headers.get("Channel") or "").startswith(prefix)
    ]


def answered(watcher: AmiTestClient) -> int:
    return len(watcher.events("OriginateResponse", Response="Success"))


async def start_and_kill_when_answered(
    sim: SimulatorServer, watcher: AmiTestClient, tmp_path: Path, db_url: str
) -> None:
    """`hotline run` with surveys on; SIGKILL as soon as both citizens have answered."""
    config = tmp_path / "hotline.toml"
    config.write_text('[pbx]\nid = "sim"\n')
    settings = survey_settings(sim, tmp_path, db_url)  # validates the same environment
    assert settings.surveys.enabled
    env = {
        **os.environ,
        **{
            key: value
            for key, value in _env(sim, tmp_path, db_url).items()
            if key != "HOTLINE_PBX__ID"
        },
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "telephony.cli", "run", "--config", str(config),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await wait_for("both citizens answered", lambda: answered(watcher) >= len(NUMBERS), 30)
    finally:
        proc.kill()
        await proc.wait()


def _env(sim: SimulatorServer, tmp_path: Path, db_url: str) -> dict[str, str]:
    host, port = sim.address
    return {
        "HOTLINE_AMI__HOST": host,
        "HOTLINE_AMI__PORT": str(port),
        "HOTLINE_AMI__SECRET": SECRET,
        "HOTLINE_AMI__PING_INTERVAL_S": "0.5",
        "HOTLINE_DATABASE__URL": db_url,
        "HOTLINE_HTTP__LISTEN": "127.0.0.1:0",
        "HOTLINE_JOURNAL__DIR": str(tmp_path / "journal-sim"),
        "HOTLINE_RECORDING__RETENTION_DAYS": "0",
        "HOTLINE_SURVEYS__ENABLED": "true",
        "HOTLINE_SURVEYS__CHANNEL": "IAX2/carrier/{number}",
        "HOTLINE_SURVEYS__QUIET_START": "00:00",
        "HOTLINE_SURVEYS__QUIET_END": "00:00",
        "HOTLINE_SURVEYS__POLL_S": "0.1",
        "HOTLINE_SURVEYS__PACE_PER_MIN": "6000",
        "HOTLINE_SURVEYS__RING_TIMEOUT_S": "18",
        "HOTLINE_SURVEYS__VARIABLES": '{"CITIZEN_DIGIT": "2"}',
    }


def restarted(sim: SimulatorServer, tmp_path: Path, db_url: str) -> Daemon:
    env = _env(sim, tmp_path, db_url)
    return Daemon(
        survey_settings(
            sim,
            tmp_path,
            db_url,
            **{k: v for k, v in env.items() if k.startswith("HOTLINE_SURVEYS__")},
        )
    )


async def test_restart_while_citizens_are_on_the_line_follows_the_calls_to_their_rating(
    sim: SimulatorServer, watcher: AmiTestClient, db_engine: Engine, db_url: str, tmp_path: Path
) -> None:
    queue_surveys(db_engine, NUMBERS, sim_now(sim))
    await start_and_kill_when_answered(sim, watcher, tmp_path, db_url)
    assert {r["state"] for r in store.surveys(db_engine)} == {"dialing"}

    daemon = restarted(sim, tmp_path, db_url)
    await daemon.start()
    try:
        await wait_for(
            "every survey final",
            lambda: all(r["state"] in FINAL for r in store.surveys(db_engine)),
            30,
        )
    finally:
        await daemon.stop()
    rows = store.surveys(db_engine)
    attempts = store.attempts(db_engine)
    ratings = watcher.events("UserEvent", UserEvent="SurveyResult")
    assert [f.headers["Result"] for f in ratings] == ["2", "2"]  # what the citizens pressed
    assert [(r["state"], r["rating"], r["attempts"]) for r in rows] == [("completed", 2, 1)] * 2
    assert [a["result"] for a in attempts] == ["completed", "completed"]
    for number in NUMBERS:
        assert len(placed(watcher, number)) == 1


async def test_restart_after_the_calls_ended_unseen_closes_them_lost_and_never_calls_again(
    sim: SimulatorServer, watcher: AmiTestClient, db_engine: Engine, db_url: str, tmp_path: Path
) -> None:
    queue_surveys(db_engine, NUMBERS, sim_now(sim))
    await start_and_kill_when_answered(sim, watcher, tmp_path, db_url)
    await wait_for("both calls hung up", lambda: len(watcher.events("UserEvent")) >= 2, 30)
    await wait_for(
        "both calls hung up",
        lambda: (
            not any(
                (ch.name or "").startswith("IAX2/carrier/") for ch in sim.sim.pbx.channels.values()
            )
        ),
        30,
    )

    daemon = restarted(sim, tmp_path, db_url)
    await daemon.start()
    try:
        assert daemon.surveys is not None
        await wait_for("reconciled", daemon.surveys.reconciled.is_set, 30)
        await asyncio.sleep(0.5)  # several dial rounds: nothing may be called again
    finally:
        await daemon.stop()
    rows = store.surveys(db_engine)
    assert [(r["state"], r["last_result"], r["attempts"]) for r in rows] == [
        ("failed", "lost", 1)
    ] * 2
    for number in NUMBERS:
        assert len(placed(watcher, number)) == 1
