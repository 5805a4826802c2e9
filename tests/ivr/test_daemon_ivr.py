"""The daemon with ``[ivr] enabled``: heartbeat, announcements from the database, menus over
AsyncAGI, and the IVR path on the stored record, live and after replaying the journal."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage import make_engine, migrate
from storage.announcements import add_announcement, set_audio
from storage.queries import iter_calls
from telephony.app import Daemon
from telephony.cli import main
from telephony.config import load_settings
from telephony.simulator.menu_callers import place_menu_call
from telephony.simulator.model import SimConfig
from telephony.simulator.server import SimulatorServer
from tests.paths import ROOT

SECRET = "sim-secret-ivr"


async def wait_for(what: str, check: Callable[[], bool], within: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        if loop.time() > deadline:
            pytest.fail(f"timed out after {within} s waiting for: {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorServer]:
    server = SimulatorServer(
        SimConfig(autonomous=False, seed=11, timestamps=True, start_time=time.time()),
        port=0,
        speed=10.0,
        secret=SECRET,
    )
    await server.start()
    yield server
    await server.stop()


async def test_daemon_drives_the_menu_and_the_path_reaches_live_and_replayed_records(
    sim: SimulatorServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'hotline.db'}"
    engine = make_engine(db)
    migrate(engine)
    now = datetime.now(UTC)
    notice = add_announcement(
        engine,
        text_zh="停水通知",
        valid_from=now - timedelta(hours=1),
        valid_to=now + timedelta(hours=1),
    )
    set_audio(engine, notice.id, {"zh": f"hotline/announcements/{notice.id}-zh"})
    engine.dispose()
    host, port = sim.address
    settings = load_settings(
        None,
        env={
            "HOTLINE_PBX__ID": "sim",
            "HOTLINE_AMI__HOST": host,
            "HOTLINE_AMI__PORT": str(port),
            "HOTLINE_AMI__USERNAME": "hotline",
            "HOTLINE_AMI__SECRET": SECRET,
            "HOTLINE_DATABASE__URL": db,
            "HOTLINE_DATABASE__FLUSH_INTERVAL_S": "0.05",
            "HOTLINE_HTTP__LISTEN": "127.0.0.1:0",
            "HOTLINE_JOURNAL__DIR": str(tmp_path / "journal"),
            "HOTLINE_RECORDING__RETENTION_DAYS": "0",
            "HOTLINE_IVR__ENABLED": "true",
            "HOTLINE_IVR__MENUS": str(ROOT / "ivr_prompts"),
            "HOTLINE_IVR__HEARTBEAT_INTERVAL_S": "1",
        },
    )
    # The PBX's EPOCH is simulated (10x): the heartbeat is stamped with the PBX's clock.
    daemon = Daemon(settings, pbx_clock=sim.sim_now)
    await daemon.start()
    try:
        await wait_for("heartbeat", lambda: "HOTLINE_HEARTBEAT" in sim.sim.pbx.globals)
        assert daemon.ivr is not None
        await wait_for("announcements loaded", lambda: bool(daemon.ivr and daemon.ivr.notices))
        calls = [
            sim.act(lambda s: place_menu_call(s, [None, "2", "1"])),
            sim.act(lambda s: place_menu_call(s, ["1"])),
        ]
        await wait_for(
            "2 records", lambda: daemon.writer is not None and daemon.writer.written >= 2
        )
    finally:
        await daemon.stop()
    assert calls[0].heard[0] == f"hotline/announcements/{notice.id}-zh"
    assert all(c.fallback == "" for c in calls)
    engine = make_engine(db)
    try:
        live = {r.call_id: r for r in iter_calls(engine)}
    finally:
        engine.dispose()
    first, second = (live[f"sim:{c.linkedid}"] for c in calls)
    assert (list(first.ivr_path), first.outcome.value) == (["2", "1"], "self_service")
    assert (list(second.ivr_path), second.queue) == (["1"], "hotline")
    journal = sorted((tmp_path / "journal").glob("*.ami*"))
    replay_db = f"sqlite:///{tmp_path / 'replayed.db'}"
    assert main(["replay", *map(str, journal), "--db", replay_db, "--pbx", "sim"]) == 0
    capsys.readouterr()
    assert main(["calls", "--db", replay_db]) == 0
    replayed = {r["call_id"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert replayed[first.call_id]["ivr_path"] == ["2", "1"]
    assert replayed[second.call_id]["ivr_path"] == ["1"]


def test_check_config_covers_the_menus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    menus = tmp_path / "menus"
    menus.mkdir()
    (menus / "menus.toml").write_text(
        '[menus.m]\noperator = { queue = "q" }\n[menus.m.nodes.a]\nprompts = ["p"]\n'
        'keys."1" = { goto = "nowhere" }\n',
        encoding="utf-8",
    )
    config = tmp_path / "hotline.toml"
    config.write_text(f'[ivr]\nenabled = true\nmenus = "{menus}"\n', encoding="utf-8")
    assert main(["check-config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "config [ivr].menus: menus.toml: menu m, node a, keys.1: goto 'nowhere'" in err
    config.write_text(
        f'[ami]\nsecret = "s3cret"\n[ivr]\nenabled = true\nmenus = "{ROOT / "ivr_prompts"}"\n',
        encoding="utf-8",
    )
    assert main(["check-config", str(config)]) == 0
    config.write_text("[ivr]\nheartbeat_interval_s = 0\n", encoding="utf-8")
    assert main(["check-config", str(config)]) == 1
    assert "[ivr].heartbeat_interval_s" in capsys.readouterr().err


def test_menus_reload_and_a_broken_file_keeps_the_running_ones(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from telephony.ami.codec import Frame
    from telephony.ivr.runtime import IvrRuntime
    from telephony.ivr.settings import IvrSettings

    class Nowhere:
        async def send(self, action: object, *, timeout: float | None = None) -> Frame:
            raise AssertionError("nothing is sent here")

    menus = tmp_path / "menus.toml"
    menus.write_text((ROOT / "ivr_prompts" / "menus.toml").read_text(encoding="utf-8"))
    runtime = IvrRuntime(IvrSettings(enabled=True, menus=menus), Nowhere())
    assert runtime.service.menus["hotline"].nodes["main"].keys["1"].target == "hotline"
    menus.write_text(
        menus.read_text(encoding="utf-8").replace(
            'keys."1" = { queue = "hotline" }', 'keys."1" = { queue = "hotline-vip" }'
        ),
        encoding="utf-8",
    )
    assert runtime.reload_menus()
    assert runtime.service.menus["hotline"].nodes["main"].keys["1"].target == "hotline-vip"
    menus.write_text("[menus.hotline]\n", encoding="utf-8")
    assert not runtime.reload_menus()
    assert "menus not reloaded" in caplog.text
    assert runtime.service.menus["hotline"].nodes["main"].keys["1"].target == "hotline-vip"
