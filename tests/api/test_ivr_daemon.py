"""The API of a daemon driving the IVR: ``/metrics`` (sessions by menu and route, heartbeat
failures) and an announcement posted over HTTP that the next caller hears.

The simulator (a real AMI server) plays menu callers whose keys decide their routes (the
hotline menu: ``2`` then ``1`` is self-service, ``1`` is the hotline queue; see
``ivr_prompts/hotline.toml``).
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from storage import make_engine, migrate
from storage.announcements import add_announcement
from telephony.app import Daemon
from telephony.config import Settings, load_settings
from telephony.simulator.menu_callers import place_menu_call
from telephony.simulator.model import SimConfig
from telephony.simulator.server import SimulatorServer
from tests.paths import ROOT

SECRET = "sim-secret-ivr-metrics"
HAVE_TTS = bool(shutil.which("espeak-ng") and shutil.which("sox"))

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


def simulator() -> SimulatorServer:
    return SimulatorServer(
        SimConfig(autonomous=False, seed=11, timestamps=True, start_time=time.time()),
        port=0,
        speed=10.0,
        secret=SECRET,
    )


def ivr_settings(sim: SimulatorServer, tmp_path: Path, **more: str) -> Settings:
    host, port = sim.address
    return load_settings(
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
            **more,
        },
    )


async def test_ivr_sessions_and_heartbeat_failures_on_metrics(tmp_path: Path) -> None:
    sim = simulator()
    await sim.start()
    daemon = Daemon(ivr_settings(sim, tmp_path), pbx_clock=sim.sim_now)
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


async def test_an_announcement_posted_to_the_api_is_heard_by_the_next_caller(
    tmp_path: Path,
) -> None:
    sim = simulator()
    await sim.start()
    # The IVR's own refresh would take an hour: only the API's nudge can make it hear it now.
    settings = ivr_settings(
        sim,
        tmp_path,
        HOTLINE_IVR__ANNOUNCEMENTS_REFRESH_S="3600",
        HOTLINE_API__ANNOUNCEMENT_SOUNDS="" if not HAVE_TTS else str(tmp_path / "sounds"),
    )
    now = datetime.now(UTC)
    engine = make_engine(settings.database.url)
    migrate(engine)
    add_announcement(
        engine,
        text_zh="早先的公告",
        valid_from=now - timedelta(hours=1),
        valid_to=now + timedelta(hours=1),
    )
    engine.dispose()
    daemon = Daemon(settings, pbx_clock=sim.sim_now)
    await daemon.start()
    try:
        base = f"http://127.0.0.1:{daemon.http_port}"
        async with aiohttp.ClientSession(base_url=base) as session:
            await wait_for("heartbeat", lambda: "HOTLINE_HEARTBEAT" in sim.sim.pbx.globals)
            assert daemon.ivr is not None
            ivr = daemon.ivr
            # The IVR's first read is done (it holds the one stored before the start) ...
            await wait_for("announcements read once", lambda: len(ivr.notices) == 1)
            body = {
                "text_zh": "系统升级，部分业务暂停办理。",
                "valid_from": (now - timedelta(minutes=1)).isoformat(),
                "valid_to": (now + timedelta(hours=1)).isoformat(),
            }
            async with session.post("/api/announcements", json=body) as resp:
                assert resp.status == 201, await resp.text()
                answer = await resp.json()
            if not answer["audio"]:
                # Without espeak-ng the API stores no sound, so there is nothing to play.
                pytest.skip(f"no audio rendered: {answer['audio_note']}")
            sound = answer["audio"]["zh"]
            await wait_for(
                "the IVR re-read it", lambda: any(n.id == answer["id"] for n in ivr.notices)
            )
            call = sim.act(lambda s: place_menu_call(s, ["1"]))
            await wait_for("the caller routed", lambda: ivr.service.stats.finished >= 1)
            assert call.heard[0] == sound
    finally:
        await daemon.stop()
        await sim.stop()
