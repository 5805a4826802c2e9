"""The wallboard in a real headless Chromium (Debian's, driven by Playwright) against the daemon.

The simulator (a real AMI server) and the daemon run in this event loop; the browser opens
``/wallboard#token=…`` with a read token, so it must show masked numbers. The test checks that
the page loads, that its figures equal the API's, that it updates when a simulated call arrives,
and keeps screenshots (``var/test-artifacts/wallboard-call.png``, ``wallboard.png`` and
``wallboard-en.png``, or in ``$HOTLINE_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from telephony.ami.link import LinkState
from telephony.app import Daemon
from telephony.config import load_settings
from telephony.simulator.model import SimConfig
from telephony.simulator.server import SimulatorServer

playwright_api = pytest.importorskip("playwright.async_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
READ = "wallboard-read-token-0123456789"
WRITE = "wallboard-write-token-0123456789"
SECRET = "sim-secret-wallboard"
SPEED = 20.0
ARTIFACTS = Path(os.environ.get("HOTLINE_TEST_ARTIFACTS", "var/test-artifacts"))

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and os.environ.get("CI") != "true",
    reason="Chromium is not installed (apt-get install chromium; CI installs it)",
)


async def until(what: str, check: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        if loop.time() > deadline:
            pytest.fail(f"timed out after {within} s waiting for: {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[tuple[Daemon, SimulatorServer]]:
    sim = SimulatorServer(
        SimConfig(autonomous=False, seed=11, agents=4, timestamps=True, start_time=time.time()),
        port=0,
        speed=SPEED,
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
            "HOTLINE_DATABASE__URL": f"sqlite:///{tmp_path / 'calls.db'}",
            "HOTLINE_DATABASE__FLUSH_INTERVAL_S": "0.05",
            "HOTLINE_HTTP__LISTEN": "127.0.0.1:0",
            "HOTLINE_HTTP__READ_TOKENS": READ,
            "HOTLINE_HTTP__WRITE_TOKENS": WRITE,
            "HOTLINE_API__ANNOUNCEMENT_SOUNDS": str(tmp_path / "sounds"),
            "HOTLINE_JOURNAL__ENABLED": "false",
            "HOTLINE_RECORDING__RETENTION_DAYS": "0",
        },
    )
    d = Daemon(settings)
    try:
        await d.start()
        yield d, sim
    finally:
        await d.stop()
        await sim.stop()


async def api_status(session: aiohttp.ClientSession) -> dict[str, Any]:
    async with session.get("/api/status", headers={"Authorization": f"Bearer {READ}"}) as resp:
        assert resp.status == 200
        body: dict[str, Any] = await resp.json()
        return body


async def test_wallboard_shows_the_apis_figures_masks_numbers_and_follows_calls(
    daemon: tuple[Daemon, SimulatorServer],
) -> None:
    d, sim = daemon
    await until("link ready", lambda: _true(d.link.state is LinkState.READY))
    base = f"http://127.0.0.1:{d.http_port}"
    async with (
        aiohttp.ClientSession(base_url=base) as session,
        playwright_api.async_playwright() as pw,
    ):
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            page = await browser.new_page(viewport={"width": 1600, "height": 900})
            await page.goto(f"{base}/wallboard#token={READ}")
            await page.wait_for_selector("body[data-updated]")
            assert READ not in page.url  # the token left the address bar

            async def tile(key: str) -> str:
                value = await page.get_attribute(f'.tile[data-k="{key}"] .value', "data-value")
                return value or ""

            # Agents from the PBX's QueueStatus list after login: the same counts as the API.
            await until("agents listed", lambda: _agents_listed(session))
            status = await api_status(session)
            await until(
                "page agent counts equal the API's", lambda: _agent_counts_match(page, status)
            )

            # An announcement posted through the API appears on the page, without a reload.
            assert await page.is_hidden("#notices")
            now = datetime.now(UTC)
            notice = {
                "text_zh": "X区今日停水至18点。",
                "text_en": "Water cut in district X until 6 p.m.",
                "valid_from": (now - timedelta(minutes=5)).isoformat(),
                "valid_to": (now + timedelta(hours=2)).isoformat(),
                "queue": "hotline",
            }
            async with session.post(
                "/api/announcements", json=notice, headers={"Authorization": f"Bearer {WRITE}"}
            ) as resp:
                assert resp.status == 201, await resp.text()
                number = (await resp.json())["id"]
            item = f'#announcements li[data-announcement="{number}"]'
            await until("the announcement on the page", lambda: _visible(page, item))
            assert await page.inner_text(f"{item} .text") == notice["text_zh"]
            assert "hotline" in await page.inner_text(f"{item} .meta")
            assert await page.is_visible("#notices")
            status = await api_status(session)
            assert [a["id"] for a in status["announcements"]] == [number]

            # A call arrives: the page shows it talking, the caller masked, as the API does.
            sim.place_call(choice="1", talk=120)
            await until(
                "a talking call on the page",
                lambda: _visible(page, '#calls tr[data-state="talking"]'),
            )
            caller = await page.inner_text('#calls tr[data-state="talking"] .caller')
            assert re.fullmatch(r"\d{3}\*+\d{2}", caller), caller
            status = await api_status(session)
            (call,) = status["calls"]
            assert call["caller"] == caller
            assert await tile("talking") == "1"
            await asyncio.to_thread(ARTIFACTS.mkdir, parents=True, exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "wallboard-call.png"), full_page=True)

            # After it ends: today's figures on the page equal the API's.
            await until("the call counted today", lambda: _contacts_today(session, 1), within=30)
            await until("the page counts it", lambda: _tile_is(page, "contacts", "1"))
            await until("no call in progress on the page", lambda: _tile_is(page, "talking", "0"))
            status = await api_status(session)
            figures = status["today"]["figures"]
            for key in (
                "contacts",
                "answered",
                "service_level",
                "connection_rate",
                "abandonment_rate",
                "satisfaction_rate",
            ):
                assert _value(await tile(key)) == figures[key], key
            hours = status["today"]["contacts_by_hour"]
            for hour, count in enumerate(hours):
                bar = await page.get_attribute(f'#hours rect[data-hour="{hour}"]', "data-value")
                assert bar == str(count)
            text = await page.inner_text("body")
            assert "今日接通率" in text
            percent = f"{figures['connection_rate'] * 100:.1f}%"
            assert percent in await page.inner_text('.tile[data-k="connection_rate"]')

            await page.screenshot(path=str(ARTIFACTS / "wallboard.png"), full_page=True)

            # English on demand.
            await page.click("#lang")
            assert "Connection rate today" in await page.inner_text("body")
            assert await page.inner_text(f"{item} .text") == notice["text_en"]
            await page.screenshot(path=str(ARTIFACTS / "wallboard-en.png"), full_page=True)
        finally:
            await browser.close()


async def _true(value: bool) -> bool:
    return value


def _value(text: str) -> float | None:
    return None if text == "" else float(text)


async def _agents_listed(session: aiohttp.ClientSession) -> bool:
    return bool((await api_status(session))["agents"])


async def _agent_counts_match(page: Any, status: dict[str, Any]) -> bool:
    for state in ("available", "busy", "paused", "unavailable"):
        want = sum(1 for a in status["agents"] if a["state"] == state)
        got = await page.get_attribute(f'#agents li[data-state="{state}"] .n', "data-value")
        if got != str(want):
            return False
    return True


async def _visible(page: Any, selector: str) -> bool:
    return bool(await page.query_selector(selector))


async def _tile_is(page: Any, key: str, value: str) -> bool:
    got = await page.get_attribute(f'.tile[data-k="{key}"] .value', "data-value")
    return bool(got == value)


async def _contacts_today(session: aiohttp.ClientSession, n: int) -> bool:
    return bool((await api_status(session))["today"]["figures"]["contacts"] >= n)
