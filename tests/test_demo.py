"""`hotline demo`: the banner names the agents the PBX really has; status runs on the PBX clock."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from telephony.app import Daemon
from telephony.config import load_settings
from telephony.demo import banner
from telephony.simulator.model import SimConfig
from telephony.simulator.server import SimulatorServer

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def test_banner_counts_every_queue_member_and_shows_both_clocks() -> None:
    sim = SimulatorServer(SimConfig(autonomous=False, agents=3, utility_agents=2), speed=10)
    await sim.start()
    try:
        lines = banner(sim, "127.0.0.1", 5038, 10.0, SHANGHAI)
        names = sorted(m.name for m in sim.sim.pbx.members.values())
    finally:
        await sim.stop()
    assert "5 agents (3 in hotline, 2 in hotline-utilities)" in lines[0]
    assert len(names) == 5
    assert all(re.fullmatch(r"Agent 8[01]\d\d [\u4e00-\u9fff]{2}", name) for name in names), names
    assert "runs x10 the wall's" in lines[1]
    assert lines[2].endswith("both in Asia/Shanghai")


def test_status_now_is_the_pbx_clock_when_it_is_not_the_wall(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        env={
            "HOTLINE_DATABASE__URL": f"sqlite:///{tmp_path / 'x.db'}",
            "HOTLINE_JOURNAL__DIR": str(tmp_path / "journal"),
            "HOTLINE_REPORTS__TIMEZONE": "Asia/Shanghai",
        },
    )
    pbx_time = 1_795_490_233.0  # 2026-11-24 11:17:13 in Shanghai
    daemon = Daemon(settings, wall=lambda: 1_000.0, pbx_clock=lambda: pbx_time)
    status = daemon.live.status()
    assert status["now"] == datetime(2026, 11, 24, 11, 17, 13, tzinfo=SHANGHAI).isoformat()
