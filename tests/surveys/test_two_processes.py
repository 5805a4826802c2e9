"""Two `hotline run` processes on one PostgreSQL and one simulated PBX: each survey dialled once.

Both daemons are logged in to the PBX before the surveys become due at once, and each may claim
six at a time, so both race for the same rows; only the database (SELECT … FOR UPDATE SKIP LOCKED
and the claim's compare-and-set) keeps them apart.
The PBX's own events (an independent AMI client) say how often each number was called.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from storage import make_engine, migrate
from storage import surveys as store
from telephony.simulator.server import SimulatorServer
from tests.simulator.amiclient import AmiTestClient
from tests.surveys.conftest import queue_surveys, sim_now, survey_env, wait_for
from tests.surveys.test_dialer_sim import FINAL, numbers, witnessed


@pytest.mark.postgres
async def test_two_daemon_processes_on_one_postgresql_call_each_survey_exactly_once(
    db_url_pg: str, sim: SimulatorServer, watcher: AmiTestClient, tmp_path: Path
) -> None:
    engine = make_engine(db_url_pg)
    procs: list[asyncio.subprocess.Process] = []
    try:
        migrate(engine)
        wanted = numbers(24, base=13900000500)
        config = tmp_path / "hotline.toml"
        config.write_text("# everything comes from the environment\n", encoding="utf-8")
        for pbx in ("east", "west"):
            env = {
                **os.environ,
                **survey_env(
                    sim,
                    tmp_path,
                    db_url_pg,
                    pbx=pbx,
                    HOTLINE_SURVEYS__MAX_ATTEMPTS="1",
                    HOTLINE_SURVEYS__MAX_CONCURRENT="6",
                ),
            }
            argv = [sys.executable, "-m", "telephony.cli", "run", "--config", str(config)]
            quiet = asyncio.subprocess.DEVNULL
            proc = await asyncio.create_subprocess_exec(*argv, env=env, stdout=quiet, stderr=quiet)
            procs.append(proc)

        def logged_in() -> int:
            return sum(1 for client in sim.clients if client.authenticated)

        await wait_for("both daemons logged in", lambda: logged_in() >= 3)  # + the witness
        await asyncio.sleep(1.0)  # their dialers reconcile (nothing in flight), then poll
        queue_surveys(engine, wanted, sim_now(sim))

        await wait_for(
            "every survey final",
            lambda: all(row["state"] in FINAL for row in store.surveys(engine)),
            within=90,
        )
        attempts = store.attempts(engine)
        assert len(attempts) == len(wanted)
        assert len({a["survey_id"] for a in attempts}) == len(wanted)
        assert {a["owner"] for a in attempts} == {"east", "west"}  # both processes dialled
        for number in wanted:
            calls, _ = witnessed(watcher, number)
            assert calls == 1, f"{number} was called {calls} times"
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), timeout=30)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        engine.dispose()
