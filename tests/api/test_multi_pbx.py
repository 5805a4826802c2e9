"""Two daemons (two PBXs) on one database: each one's /api/status/all shows both."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from telephony.app import Daemon
from telephony.config import load_settings
from telephony.simulator.model import SimConfig
from telephony.simulator.server import SimulatorServer
from tests.api.conftest import NUMBERS, READ, bearer

SECRET = "sim-secret-multi"


async def start_pbx(
    stack: AsyncExitStack, pbx: str, db_url: str, tmp_path: Path
) -> tuple[Daemon, SimulatorServer]:
    sim = SimulatorServer(
        SimConfig(autonomous=False, seed=3, agents=2, timestamps=True, start_time=time.time()),
        port=0,
        speed=20.0,
        secret=SECRET,
    )
    await sim.start()
    stack.push_async_callback(sim.stop)
    host, port = sim.address
    env = {
        "HOTLINE_PBX__ID": pbx,
        "HOTLINE_AMI__HOST": host,
        "HOTLINE_AMI__PORT": str(port),
        "HOTLINE_AMI__USERNAME": "hotline",
        "HOTLINE_AMI__SECRET": SECRET,
        "HOTLINE_DATABASE__URL": db_url,
        "HOTLINE_HTTP__LISTEN": "127.0.0.1:0",
        "HOTLINE_HTTP__READ_TOKENS": READ,
        "HOTLINE_API__NUMBERS_TOKENS": NUMBERS,
        "HOTLINE_API__PUBLISH_INTERVAL_S": "0.2",
        "HOTLINE_JOURNAL__ENABLED": "false",
        "HOTLINE_RECORDING__RETENTION_DAYS": "0",
    }
    daemon = Daemon(load_settings(None, env=env))
    stack.push_async_callback(daemon.stop)
    await daemon.start()
    return daemon, sim


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as s:
        yield s


async def until(what: str, check: Callable[[], Any], within: float = 20.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = await check()
        if result:
            return result
        if loop.time() > deadline:
            pytest.fail(f"timed out after {within} s waiting for: {what}")
        await asyncio.sleep(0.05)


async def test_every_daemon_shows_every_pbx_and_marks_a_stopped_one_stale(
    stack: AsyncExitStack, db_url: str, tmp_path: Path
) -> None:
    north, _ = await start_pbx(stack, "north", db_url, tmp_path)
    south, south_sim = await start_pbx(stack, "south", db_url, tmp_path)
    session = await stack.enter_async_context(aiohttp.ClientSession())
    url = f"http://127.0.0.1:{north.http_port}/api/status/all"

    async def view(token: str = READ) -> dict[str, Any]:
        async with session.get(url, headers=bearer(token)) as resp:
            assert resp.status == 200
            body: dict[str, Any] = await resp.json()
        return {e["status"]["pbx"]: e for e in body["pbxs"]}

    async def south_talking() -> dict[str, Any] | None:
        pbxs = await view()
        south_entry = pbxs.get("south")
        if south_entry and south_entry["status"]["totals"]["talking"] == 1:
            return pbxs
        return None

    south_sim.place_call(choice="1", talk=200)
    pbxs = await until("north shows south's call talking", south_talking)
    assert set(pbxs) == {"north", "south"}
    assert pbxs["north"]["age_s"] == 0.0
    assert pbxs["south"]["stale"] is False
    (call,) = pbxs["south"]["status"]["calls"]
    assert re.fullmatch(r"\d{3}\*+\d{2}", call["caller"])  # masked for a read token
    unmasked = (await view(NUMBERS))["south"]["status"]["calls"][0]["caller"]
    assert unmasked.isdigit()
    assert unmasked[:3] == call["caller"][:3]

    await south.stop()

    async def south_stale() -> bool:
        return bool((await view())["south"]["stale"])

    await until("south marked stale after it stopped", south_stale)
