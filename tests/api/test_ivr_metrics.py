"""``/metrics`` of a daemon driving the IVR: sessions by menu and route, heartbeat failures.

The simulator (a real AMI server) plays two menu callers whose keys decide their routes (the
hotline menu: ``2`` then ``1`` is self-service, ``1`` is the hotline queue; see
``ivr_prompts/hotline.toml``); then the PBX goes away and the heartbeat fails.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from telephony.app import Daemon
from telephony.config import load_settings
from telephony.simulator.menu_callers import place_menu_call
from telephony.simulator.model import SimConfig
from telephony.simulator.server import SimulatorServer
from tests.paths import ROOT

SECRET = "sim-secret-ivr-metrics"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def wait_for(what: str, check: Callable[[], bool], within: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        if loop.time() > deadline:
            pytest.fail(f"timed out after {within} s waiting for: {what}")
        await asyncio.sleep(0.02)


async def scrape(session: aiohttp.ClientSession) -> Samples:
    async with session.get("/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_ivr_sessions_and_heartbeat_failures_on_metrics(tmp_path: Path) -> None:
    sim = SimulatorServer(
        SimConfig(autonomous=False, seed=11, timestamps=True, start_time=time.time()),
        port=0,
        speed=10.0,
        secret=SECRET,
    )
    await sim.start()
    host, port = sim.address
    settings = load_settings(
        None,
        env={
            "HOTLINE_PBX__ID": "sim",
            "HOTLINE_AMI__HOST": host,
            "HOTLINE_AMI__PORT": str(port),
            "HOTLINE_AMI__USERNAME": "hotline",
            "HOTLINE_AMI__SECRET": SECRET,
            "HOTLINE_DATABASE__URL": f"sqlite:///{tmp_path / 'hotline.db'}",
            "HOTLINE_DATABASE__FLUSH_INTERVAL_S": "0.05",
            "HOTLINE_HTTP__LISTEN": "127.0.0.1:0",
            "HOTLINE_JOURNAL__ENABLED": "false",
            "HOTLINE_RECORDING__RETENTION_DAYS": "0",
            "HOTLINE_IVR__ENABLED": "true",
            "HOTLINE_IVR__MENUS": str(ROOT / "ivr_prompts"),
            "HOTLINE_IVR__HEARTBEAT_INTERVAL_S": "1",
        },
    )
    daemon = Daemon(settings, pbx_clock=sim.sim_now)
    await daemon.start()
    sim_running = True
    try:
        base = f"http://127.0.0.1:{daemon.http_port}"
        async with aiohttp.ClientSession(base_url=base) as session:
            await wait_for("heartbeat", lambda: "HOTLINE_HEARTBEAT" in sim.sim.pbx.globals)
            before = await scrape(session)
            # The first beat may fail: the IVR starts before the link has logged in.
            failed_at_start = before[("hotline_ivr_heartbeat_failures_total", ())]
            assert before[("hotline_ivr_sessions_active", ())] == 0
            calls = [
                sim.act(lambda s: place_menu_call(s, [None, "2", "1"])),
                sim.act(lambda s: place_menu_call(s, ["1"])),
            ]
            assert daemon.ivr is not None
            service = daemon.ivr.service
            await wait_for("2 sessions finished", lambda: service.stats.finished >= 2)
            assert all(c.fallback == "" for c in calls)
            samples = await scrape(session)
            assert samples[("hotline_ivr_sessions_started_total", (("menu", "hotline"),))] == 2
            finished = {
                labels: value
                for (name, labels), value in samples.items()
                if name == "hotline_ivr_sessions_finished_total"
            }
            routes = sorted((dict(labels)["route"], value) for labels, value in finished.items())
            assert routes == [("queue", 1.0), ("selfservice", 1.0)]
            assert {dict(labels)["menu"] for labels in finished} == {"hotline"}
            assert samples[("hotline_ivr_heartbeats_total", ())] >= 1

            # The PBX goes away: the heartbeat cannot be set, and /metrics counts it.
            await sim.stop()
            sim_running = False

            async def failures() -> float:
                return (await scrape(session))[("hotline_ivr_heartbeat_failures_total", ())]

            loop = asyncio.get_running_loop()
            deadline = loop.time() + 20
            while await failures() < failed_at_start + 2:
                assert loop.time() < deadline, "no heartbeat failure counted"
                await asyncio.sleep(0.1)
    finally:
        await daemon.stop()
        if sim_running:
            await sim.stop()
